"""``intraday-jules train``: the NVDA foundation model, then its transfer to NVDA + MSFT.

Bars come from a replay file (``--source replay --replay-path FILE``) or from the database's
ingested bars (``--source store``, the default). With ``--source store`` the features are the
rows ``features/feature_table`` stored for the train window when every (session, symbol) of it
has them, else they are built from the bars; the output's ``features`` says which, and why.
Sessions are split chronologically into train / validation / test with one-session embargoes;
both models train on the train window only and are saved in the model store
(``$INTRADAY_JULES_HOME/models``) and its registry.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from intraday_jules.cli._output import JSON_OPTION, CliError, emit, progress
from intraday_jules.cli.config_cmd import load_settings
from intraday_jules.cli.ingest_cmd import parse_day
from intraday_jules.settings import Settings

SOURCES = ("store", "replay")
STORE_ORIGIN = "the bar store"


def load_bars(settings: Settings, source: str, replay_path: Path | None,
              start: str | None, end: str | None) -> tuple[Any, str]:
    """(bars frame, origin) for ``settings.symbols``, cut to [--start, --end] sessions if given."""
    from intraday_jules.agent.data import DateWindow, cut_to_window

    first = parse_day(start, "--start") if start else date.min
    last = parse_day(end, "--end") if end else date.max
    if last < first:
        raise CliError(f"--end {last} is before --start {first}")
    bars, origin = _read_source(settings, source, replay_path)
    bars = bars[bars["symbol"].isin(settings.symbols)]
    if start or end:
        bars = cut_to_window(bars, DateWindow(first, last))
    if bars.empty:
        raise CliError(f"{origin}: no {'/'.join(settings.symbols)} bars between "
                       f"{start or 'the start'} and {end or 'the end'}",
                       hint="check the dates or ingest first")
    return bars.reset_index(drop=True), origin


def _read_source(settings: Settings, source: str, replay_path: Path | None
                 ) -> tuple[Any, str]:
    from intraday_jules.db.engine import DatabaseUnreachable
    from intraday_jules.domain.bars import BarValidationError
    from intraday_jules.market_data.replay import read_bars_file
    from intraday_jules.market_data.store import BarStore

    if source not in SOURCES:
        raise CliError(f"--source {source!r}: expected one of {', '.join(SOURCES)}")
    if source == "replay":
        path = replay_path or settings.replay_path
        if path is None:
            raise CliError("--source replay needs a file", hint="pass --replay-path FILE.csv")
        try:
            return read_bars_file(path), f"file {path}"
        except (FileNotFoundError, BarValidationError) as exc:
            raise CliError(str(exc)) from None
    try:
        store = BarStore.open(settings.database_url)
    except DatabaseUnreachable as exc:
        raise CliError(str(exc), hint="check INTRADAY_JULES_DATABASE_URL") from None
    try:
        return store.read(list(settings.symbols)), STORE_ORIGIN
    finally:
        store.close()


def open_model_store(settings: Settings) -> Any:
    from intraday_jules.agent.model_store import ModelStore
    from intraday_jules.db.engine import DatabaseUnreachable, create_db_engine

    try:
        engine = create_db_engine(settings.database_url)
    except DatabaseUnreachable as exc:
        raise CliError(str(exc), hint="check INTRADAY_JULES_DATABASE_URL") from None
    return ModelStore(settings.models_dir, engine)


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        full: bool = typer.Option(False, "--full",
                                  help="The seed's budgets: 50,000 + 200,000 steps."),
        foundation_steps: int | None = typer.Option(None, min=1, help="Foundation budget."),
        dual_steps: int | None = typer.Option(None, min=1, help="Dual budget."),
        source: str = typer.Option("store", help="store (ingested bars) or replay (a file)."),
        replay_path: Path | None = typer.Option(None, help="CSV/Parquet for --source replay."),
        start: str | None = typer.Option(None, help="First session, YYYY-MM-DD."),
        end: str | None = typer.Option(None, help="Last session, YYYY-MM-DD (inclusive)."),
        seed: int = typer.Option(0, help="Seed for torch, NumPy, envs and action spaces."),
        compare_scratch: bool = typer.Option(
            False, "--compare-scratch", help="Also train the dual model from scratch (same "
            "budget and seed) and report transfer minus scratch."),
        resume: bool = typer.Option(
            False, "--resume", help="Continue an interrupted training from its last "
            "checkpoint (same data, budgets and seed): the result equals an uninterrupted "
            "run's. A finished phase resumes from its final checkpoint without retraining."),
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Train the NVDA foundation model, transfer it to NVDA + MSFT, save both."""
        from intraday_jules.agent.config import DUAL_STEPS, FOUNDATION_STEPS

        settings = load_settings()
        steps = ((FOUNDATION_STEPS, DUAL_STEPS) if full
                 else (settings.foundation_steps, settings.dual_steps))
        steps = (foundation_steps or steps[0], dual_steps or steps[1])
        bars, origin = load_bars(settings, source, replay_path, start, end)
        payload = run_training(settings, bars, origin, steps, seed, compare_scratch,
                               show=not as_json, resume=resume)
        emit(payload, as_json, lambda console: _render(console, payload))


def run_training(settings: Settings, bars: Any, origin: str, steps: tuple[int, int],
                 seed: int, compare_scratch: bool, show: bool,
                 resume: bool = False) -> dict[str, Any]:
    """Split, prepare, train (foundation, dual, optionally scratch), save; the summary.
    ``resume``: each phase continues from its latest checkpoint (see agent/checkpoints.py)."""
    from intraday_jules.agent import prepare_data, split_sessions
    from intraday_jules.agent.data import cut_to_window

    store = open_model_store(settings)
    try:
        sessions = sorted(set(bars["ts"].dt.tz_convert("America/New_York").dt.date))
        splits = split_sessions(sessions)
        bars = cut_to_window(bars, splits.train)  # training reads the train window only
        rows, features = (stored_rows(store.engine, bars, origin) if origin == STORE_ORIGIN
                          else (None, f"built from the bars of {origin}"))
        data = prepare_data(bars, train_window=splits.train, origin=origin, features=rows)
    except ValueError as exc:
        raise CliError(str(exc), hint="use a longer window (--start/--end)") from None
    saved = _train_and_save(settings, store, data, steps, seed, compare_scratch, show, resume)
    return {**_summary(saved, splits, origin, steps, compare_scratch), "features": features}


def stored_rows(engine: Any, bars: Any, origin: str, spec: Any = None,
                symbols: Any = None) -> tuple[Any, str]:
    """(the stored feature rows of ``bars``, "stored rows ...") when the features table covers
    every (session, symbol) of them, else (None, "built from the bars: <why>")."""
    from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
    from intraday_jules.features import DEFAULT_SPEC
    from intraday_jules.features.coverage import MissingFeaturesError
    from intraday_jules.features.store import read_feature_frame

    spec = spec or DEFAULT_SPEC
    try:
        rows = read_feature_frame(engine, spec, bars, symbols=symbols or DEFAULT_SYMBOLS,
                                  origin=origin)
    except MissingFeaturesError as exc:
        example = f", e.g. {exc.partitions[0]}" if exc.partitions else ""
        return None, (f"built from the bars ({len(exc.partitions)} partition(s) have no "
                      f"stored rows of spec {spec.version[:12]}{example})")
    return rows, f"stored rows of the features table (spec {spec.version[:12]})"


def _train_and_save(settings: Settings, store: Any, data: Any, steps: tuple[int, int],
                    seed: int, compare_scratch: bool, show: bool,
                    resume: bool) -> dict[str, Any]:
    """Foundation, then dual (transfer), then optionally scratch; each saved when done."""
    from intraday_jules.agent import TrainingConfig
    from intraday_jules.agent.training import (
        train_dual,
        train_dual_from_scratch,
        train_foundation,
    )
    from intraday_jules.pipelines.training import push_training_metrics

    saved: dict[str, Any] = {}

    def save(name: str, bundle: Any) -> None:
        """Save the model, then push its run's metrics (the dashboard's training panels)."""
        saved[name] = store.save(bundle)
        push_training_metrics(settings.pushgateway_url, settings.deployment, name,
                              saved[name].metrics)

    common = {"seed": seed, "tensorboard_dir": settings.tensorboard_dir,
              "device": settings.device}
    checkpoints = settings.models_dir / "checkpoints"
    phases = [("foundation", steps[0]), ("dual", steps[1])]
    if compare_scratch:
        phases.append(("scratch", steps[1]))
    with progress(show) as bar:
        tasks = {name: bar.add_task(f"train {name}", total=n) for name, n in phases}

        def reporter(name: str) -> Any:
            return lambda done, _total: bar.update(tasks[name], completed=done)

        foundation = train_foundation(data, TrainingConfig.foundation(
            total_timesteps=steps[0], **common), checkpoint_dir=checkpoints,
            progress=reporter("foundation"), resume=resume)
        save("foundation", foundation)
        dual_config = TrainingConfig.dual(total_timesteps=steps[1], **common)
        dual = train_dual(data, foundation, dual_config, checkpoint_dir=checkpoints,
                          progress=reporter("dual"), resume=resume)
        save("dual", dual)
        if compare_scratch:
            scratch = train_dual_from_scratch(data, dual_config, checkpoint_dir=checkpoints,
                                              progress=reporter("scratch"), resume=resume)
            save("scratch", scratch)
    return saved


def _summary(saved: dict[str, Any], splits: Any, origin: str, steps: tuple[int, int],
             compare_scratch: bool) -> dict[str, Any]:
    from intraday_jules.agent.training import compare_curves

    out: dict[str, Any] = {
        "source": origin, "splits": splits.to_dict(),
        "budgets": {"foundation": steps[0], "dual": steps[1]},
        "models": {name: {**record.to_dict(),
                          "wall_s": record.metrics.get("wall_s"),
                          "steps_per_s": record.metrics.get("steps_per_s"),
                          "resumed_from_step": record.metrics.get("resumed_from_step")}
                   for name, record in saved.items()},
    }
    if compare_scratch:
        out["transfer_vs_scratch"] = compare_curves(saved["dual"].metrics["learning_curve"],
                                                    saved["scratch"].metrics["learning_curve"])
    return out


def _render(console: Console, payload: dict[str, Any]) -> None:
    console.print(f"[bold]Trained on[/] {payload['source']}: train "
                  f"{payload['splits']['train']['start']}..{payload['splits']['train']['end']}"
                  f"; features {payload['features']}")
    for name, model in payload["models"].items():
        console.print(f"  {name}: [bold]{model['id']}[/] ({model['wall_s']} s, "
                      f"{model['steps_per_s']} steps/s) -> {model['path']}")
    if "transfer_vs_scratch" in payload:
        console.print(f"  transfer vs scratch: {payload['transfer_vs_scratch']}")
    console.print("Evaluate: intraday-jules evaluate --model "
                  f"{payload['models']['dual']['id']} --source replay --replay-path FILE")
