"""``intraday-jules ingest``: ingest a date range through the same code path as the asset."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from intraday_jules.cli._output import JSON_OPTION, CliError, emit, progress
from intraday_jules.cli.config_cmd import load_settings
from intraday_jules.domain.clock import system_clock
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.settings import Settings

log = logging.getLogger(__name__)

IGNORE_UNKNOWN_OPTION = typer.Option(
    False, "--ignore-unknown-symbols",
    help="Skip rows of symbols neither requested nor configured (they are still counted and "
         "named in the output) instead of failing.")


def source_options(settings: Settings, source: str | None, replay_path: Path | None) -> Any:
    """SourceOptions from settings, with --source / --replay-path overrides applied."""
    from intraday_jules.adapters.factory import SourceOptions
    from intraday_jules.settings import parse_sources

    names = settings.market_sources
    if source is not None:
        try:
            names = parse_sources(source)
        except ValueError as exc:
            raise CliError(f"--source {source!r}: {exc}") from None
    path = replay_path or settings.replay_path
    if "replay" in names and path is None:
        raise CliError("--source replay needs a file", hint="pass --replay-path FILE.csv")
    return replace(SourceOptions.from_settings(settings), names=names, replay_path=path)


def parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{flag} {text!r} is not a date", hint="use YYYY-MM-DD") from None


def summarise(results: list[Any]) -> dict[str, Any]:
    per_symbol: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"rows": 0, "inserted": 0, "updated": 0, "unchanged": 0, "quarantined": 0,
                 "sessions": 0, "sources": set(), "blocked_sessions": []})
    for r in results:
        entry = per_symbol[r.symbol]
        for key in ("rows", "inserted", "updated", "unchanged", "quarantined"):
            entry[key] += getattr(r, key)
        entry["sessions"] += 1
        entry["sources"].update(r.sources)
        if r.blocking_failed:
            entry["blocked_sessions"].append(
                {"session": r.session.isoformat(), "checks": r.blocking_failed})
    return {s: {**v, "sources": sorted(v["sources"])} for s, v in per_symbol.items()}


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest(
        symbols: str = typer.Option(",".join(DEFAULT_SYMBOLS), help="Comma-separated symbols."),
        start: str = typer.Option(..., help="First session, YYYY-MM-DD."),
        end: str = typer.Option(..., help="Last session, YYYY-MM-DD (inclusive)."),
        source: str | None = typer.Option(None, help="Source or failover list, e.g. "
                                          "replay or ibkr,alpha_vantage (default: settings)."),
        replay_path: Path | None = typer.Option(None, help="CSV/Parquet file for --source replay."),
        extended_hours: bool | None = typer.Option(None, "--extended-hours/--regular-hours",
                                                   help="Override INTRADAY_JULES_EXTENDED_HOURS."),
        ignore_unknown_symbols: bool = IGNORE_UNKNOWN_OPTION,
        features: bool = typer.Option(
            False, "--features", help="Also build and store each partition's features (what "
            "ingest_bars_job's features/feature_table does), skipping blocked partitions."),
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Ingest bars for every (session, symbol) in a range into the configured database."""
        from intraday_jules.domain.symbols import parse_symbols

        settings = load_settings()
        if extended_hours is not None:
            settings = replace(settings, extended_hours=extended_hours)
        try:
            wanted = parse_symbols(symbols)
        except ValueError as exc:
            raise CliError(f"--symbols: {exc}") from None
        first, last = parse_day(start, "--start"), parse_day(end, "--end")
        payload = run_ingest(settings, wanted, first, last,
                             source_options(settings, source, replay_path), show=not as_json,
                             ignore_unknown=ignore_unknown_symbols, features=features)
        emit(payload, as_json, lambda console: _render(console, payload))


def source_skipped_rows(source: Any, settings: Settings, symbols: tuple[str, ...],
                        first: date, last: date, extended: bool, ignore_unknown: bool) -> Any:
    """Rows of the source's file in first..last that the request will not take (logged);
    a CliError naming them when some belong to unknown symbols and ``ignore_unknown`` is off.
    Runs before anything is written."""
    from intraday_jules.pipelines.ingest import skipped_rows

    skipped = skipped_rows(source, symbols, first, last, extended_hours=extended,
                           configured=settings.symbols)
    if skipped.count:
        log.warning("%s .. %s: %s", first, last, skipped.describe())
    unknown = skipped.unknown_symbols()
    if unknown and not ignore_unknown:
        named = ", ".join(f"{s!r} ({n} rows)" for s, n in unknown.items())
        files = ", ".join(str(r.path) for r in _replay_files(source))
        raise CliError(
            f"{files}: rows for unknown symbol(s) {named} between {first} and {last} "
            f"(requested {','.join(symbols)}; configured {','.join(settings.symbols)}); "
            "nothing was written",
            hint="add them to --symbols (or INTRADAY_JULES_SYMBOLS), fix the file, or pass "
                 "--ignore-unknown-symbols to skip them (they are counted in the output)")
    return skipped


def _replay_files(source: Any) -> list[Any]:
    from intraday_jules.pipelines.ingest import replay_sources

    return replay_sources(source)


def run_ingest(settings: Settings, symbols: tuple[str, ...], first: date, last: date,
               options: Any, show: bool, *, ignore_unknown: bool = False,
               features: bool = False) -> dict[str, Any]:
    from intraday_jules.adapters.factory import build_source
    from intraday_jules.db.engine import DatabaseUnreachable
    from intraday_jules.domain.bars import BarValidationError
    from intraday_jules.domain.calendar import sessions_in_range
    from intraday_jules.market_data.source import SourceError
    from intraday_jules.market_data.store import BarStore
    from intraday_jules.pipelines.ingest import (
        QualityGate,
        ingest_partition,
        push_ingest_metrics,
    )
    from intraday_jules.url_masking import mask_url

    sessions = sessions_in_range(first, last)
    if not sessions:
        raise CliError(f"no XNYS sessions between {first} and {last}",
                       hint="weekends and exchange holidays have no bars")
    try:
        store = BarStore.open(settings.database_url)
    except DatabaseUnreachable as exc:
        raise CliError(str(exc), hint="check INTRADAY_JULES_DATABASE_URL") from None
    source = build_source(options)
    gate = QualityGate(clock=system_clock,
                       known_symbols=tuple(dict.fromkeys((*settings.symbols, *symbols))))
    results: list[Any] = []
    feature_rows: list[Any] = []
    try:
        skipped = source_skipped_rows(source, settings, symbols, first, last,
                                      settings.extended_hours, ignore_unknown)
        with progress(show) as bar:
            task = bar.add_task("ingesting", total=len(sessions) * len(symbols))
            for session in sessions:
                for symbol in symbols:
                    bar.update(task, description=f"{symbol} {session}")
                    results.append(ingest_partition(source, store, symbol, session,
                                                    settings.extended_hours, gate=gate))
                    if features and results[-1].rows and not results[-1].blocking_failed:
                        feature_rows.append(_store_features(store, session, symbol))
                    bar.advance(task)
    except (BarValidationError, SourceError) as exc:
        raise CliError(str(exc), hint="nothing of the refused batch was written; earlier "
                       "partitions were stored and a re-run is idempotent") from None
    finally:
        source.close()
        store.close()
        # what was stored, even when a later partition was refused (the Pipeline row)
        push_ingest_metrics(settings.pushgateway_url, settings.deployment, results)
    return {
        "symbols": summarise(results),
        "sessions": [s.isoformat() for s in sessions],
        "source": ",".join(options.names),
        "backend": store.backend,
        "database": mask_url(settings.database_url),
        "skipped": skipped.to_json(),
        **({"features": {"partitions": len(feature_rows),
                         "rows": sum(f.rows for f in feature_rows),
                         "spec_version": feature_rows[0].spec_version if feature_rows else None}}
           if features else {}),
    }


def _store_features(store: Any, session: date, symbol: str) -> Any:
    """The partition's features, as features/feature_table stores them; a refusal (features
    failing their contract) is a CliError naming the partition."""
    from intraday_jules.domain.calendar import partition_key_for
    from intraday_jules.pipelines.features import PartitionBlocked, store_partition_features

    try:
        return store_partition_features(store, session, symbol,
                                        partition_key_for(session, symbol))
    except PartitionBlocked as exc:
        raise CliError(str(exc)) from None


def _render(console: Console, payload: dict[str, Any]) -> None:
    table = Table(title=f"Ingested {len(payload['sessions'])} sessions "
                        f"({payload['sessions'][0]} .. {payload['sessions'][-1]})")
    columns = ("symbol", "rows", "inserted", "updated", "unchanged", "quarantined", "sources")
    for column in columns:
        table.add_column(column, justify="left" if column in ("symbol", "sources") else "right")
    for symbol, v in payload["symbols"].items():
        table.add_row(symbol, *(str(v[c]) for c in columns[1:-1]), ",".join(v["sources"]))
    console.print(table)
    for symbol, v in payload["symbols"].items():
        for blocked in v["blocked_sessions"]:
            console.print(f"[yellow]{symbol} {blocked['session']} failed blocking checks "
                          f"{', '.join(blocked['checks'])}[/]: see `intraday-jules quality`")
    skipped = payload.get("skipped") or {}
    if skipped.get("rows"):
        console.print(f"[yellow]{skipped['rows']} row(s) of the source not ingested[/]:")
        for reason, per_symbol in skipped["symbols"].items():
            named = ", ".join(f"{escape(repr(s))}: {n}" for s, n in per_symbol.items())
            console.print(f"  {reason}: {named}")
    console.print(f"database: {payload['database']} ({payload['backend']})")
