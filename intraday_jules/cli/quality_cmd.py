"""``intraday-jules quality``: run the data-quality checks on a range and print the report."""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markdown import Markdown

from intraday_jules.cli._output import JSON_OPTION, CliError, emit, progress
from intraday_jules.cli.config_cmd import load_settings
from intraday_jules.cli.ingest_cmd import (
    IGNORE_UNKNOWN_OPTION,
    parse_day,
    source_options,
    source_skipped_rows,
)
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS


def register(app: typer.Typer) -> None:
    @app.command("quality")
    def quality(
        symbols: str = typer.Option(",".join(DEFAULT_SYMBOLS), help="Comma-separated symbols."),
        start: str = typer.Option(..., help="First session, YYYY-MM-DD."),
        end: str = typer.Option(..., help="Last session, YYYY-MM-DD (inclusive)."),
        source: str | None = typer.Option(None, help="Check bars from this source instead of "
                                          "the database (e.g. replay)."),
        replay_path: Path | None = typer.Option(None, help="CSV/Parquet file for --source replay."),
        extended_hours: bool | None = typer.Option(None, "--extended-hours/--regular-hours"),
        ignore_unknown_symbols: bool = IGNORE_UNKNOWN_OPTION,
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Check a range of sessions; exit code 1 when an ERROR check fails."""
        from intraday_jules.domain.symbols import parse_symbols
        from intraday_jules.quality import report_to_json

        settings = load_settings()
        extended = settings.extended_hours if extended_hours is None else extended_hours
        try:
            wanted = parse_symbols(symbols)
        except ValueError as exc:
            raise CliError(f"--symbols: {exc}") from None
        first, last = parse_day(start, "--start"), parse_day(end, "--end")
        report = run_range_checks(settings, wanted, first, last, extended,
                                  source_options(settings, source, replay_path)
                                  if source else None, show=not as_json,
                                  ignore_unknown=ignore_unknown_symbols)
        payload = report_to_json(report)
        if report.skipped:  # rows of the source the range did not take (added key)
            payload["skipped"] = report.skipped
        emit(payload, as_json, lambda console: _render(console, report))
        if report.blocking_failed:
            raise typer.Exit(1)


def run_range_checks(settings: Any, symbols: tuple[str, ...], first: Any, last: Any,
                     extended: bool, options: Any, show: bool, *,
                     ignore_unknown: bool = False) -> Any:
    """Bars for the range (from a source, or the database) -> one QualityReport.

    ``price_scale_plausible`` gets the last stored close before the range when the database
    is reachable; rows of a source file the range does not take are in ``report.skipped``
    (unknown symbols fail unless ``ignore_unknown``)."""
    from dataclasses import replace

    import pandas as pd

    from intraday_jules.adapters.factory import build_source
    from intraday_jules.domain.bars import BarValidationError
    from intraday_jules.domain.calendar import session_window, sessions_in_range
    from intraday_jules.market_data.source import BarRequest, MissingBarsError, SourceError
    from intraday_jules.pipelines.ingest import push_quality_metrics
    from intraday_jules.quality import run_quality_checks

    sessions = sessions_in_range(first, last)
    if not sessions:
        raise CliError(f"no XNYS sessions between {first} and {last}")
    skipped = None
    if options is None:
        bars = _stored_bars(settings, symbols, session_window(sessions[0]).extended_open,
                            session_window(sessions[-1]).extended_close, extended)
    else:
        frames = []
        source = build_source(options)
        try:
            skipped = source_skipped_rows(source, settings, symbols, first, last, extended,
                                          ignore_unknown)
            with progress(show) as bar:
                task = bar.add_task("fetching", total=len(sessions) * len(symbols))
                for session in sessions:
                    for symbol in symbols:
                        # a missing session is reported by no_missing_sessions, not an error
                        with suppress(MissingBarsError):
                            frames.append(source.fetch_session(BarRequest(symbol, session,
                                                                          extended)))
                        bar.advance(task)
        except (SourceError, BarValidationError) as exc:
            raise CliError(str(exc)) from None
        finally:
            source.close()
        bars = pd.concat(frames, ignore_index=True) if frames else _empty()
    report = run_quality_checks(bars, symbols=symbols, sessions=sessions,
                                extended_hours=extended, contract="market_data",
                                price_history=_price_history(settings, symbols, sessions[0]))
    if skipped is not None and skipped.count:
        report = replace(report, skipped=skipped.to_json())
    push_quality_metrics(settings.pushgateway_url, settings.deployment, report, symbols)
    return report


def _price_history(settings: Any, symbols: tuple[str, ...], first: Any) -> dict[str, Any]:
    """The last stored close per symbol before the range; {} when the database is absent or
    unreachable (``price_scale_plausible`` then says it checked the physical bounds only)."""
    import sqlalchemy as sa

    from intraday_jules.db.engine import DatabaseUnreachable
    from intraday_jules.market_data.store import BarStore
    from intraday_jules.pipelines.ingest import stored_price_history

    url = sa.engine.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).is_file()):
        return {}  # no database file yet: no history (and do not create one)
    try:  # no migration: checking a file must not create or change a database
        store = BarStore.open(settings.database_url, migrate=False)
    except DatabaseUnreachable:
        return {}
    try:
        return stored_price_history(store, symbols, first)
    except sa.exc.SQLAlchemyError:  # no market_data table (yet): no history
        return {}
    finally:
        store.close()


def _stored_bars(settings: Any, symbols: tuple[str, ...], start: Any, end: Any,
                 extended: bool) -> Any:
    from intraday_jules.db.engine import DatabaseUnreachable
    from intraday_jules.market_data.store import BarStore

    try:
        store = BarStore.open(settings.database_url)
    except DatabaseUnreachable as exc:
        raise CliError(str(exc), hint="check INTRADAY_JULES_DATABASE_URL") from None
    try:
        return store.read(list(symbols), start, end)
    finally:
        store.close()


def _empty() -> Any:
    from intraday_jules.domain.bars import empty_bars_frame

    return empty_bars_frame(with_source=True)


def _render(console: Console, report: Any) -> None:
    from intraday_jules.quality import report_markdown

    console.print(Markdown(report_markdown(report)))
    if report.skipped.get("rows"):
        from rich.markup import escape

        console.print(f"[yellow]{report.skipped['rows']} row(s) of the source not checked[/]:")
        for reason, per_symbol in report.skipped["symbols"].items():
            named = ", ".join(f"{escape(repr(s))}: {n}" for s, n in per_symbol.items())
            console.print(f"  {reason}: {named}")
    verdict = "[red]ERROR checks failed[/]" if report.blocking_failed else "[green]passed[/]"
    console.print(f"{len(report.checks)} checks over {report.rows} bars: {verdict}")
