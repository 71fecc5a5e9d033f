"""``intraday-jules sweep``: search design choices and hyperparameters with Optuna, and
``intraday-jules sweep-ui``: the study in optuna-dashboard.

``sweep --study NAME --trials N --workers K`` starts K local worker processes on one study
in the project database (``intraday_jules.pipelines.sweep``); each pulls trials (train
foundation + dual, score on validation) until the study has N complete trials. Workers on
other machines join the same study with the same command (or Dagster's ``sweep_job``).
Running it again on a finished study only prints its summary. ``--retrain-best-seeds S``
then retrains the best params with S seeds and reports the spread (JSON key ``retrain``);
``--report DIR`` writes the Markdown + PNG report (JSON key ``report``).
"""

from __future__ import annotations

import multiprocessing
import socket
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from intraday_jules.cli._output import JSON_OPTION, CliError, emit
from intraday_jules.cli.config_cmd import load_settings
from intraday_jules.cli.ingest_cmd import parse_day
from intraday_jules.settings import Settings

SOURCES_HELP = "simulated (seeded simulator), store (ingested bars) or replay (the replay file)."


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep(
        study: str = typer.Option(..., help="Optuna study name (created or joined)."),
        trials: int = typer.Option(..., min=1, help="Complete trials the study must reach."),
        workers: int = typer.Option(1, min=1, help="Local worker processes."),
        space: Path | None = typer.Option(None, help="Search space YAML (default: "
                                          "sweeps/default.yaml)."),
        source: str = typer.Option("simulated", help=SOURCES_HELP),
        start: str | None = typer.Option(None, help="First session, YYYY-MM-DD."),
        end: str | None = typer.Option(None, help="Last session, YYYY-MM-DD (inclusive)."),
        foundation_steps: int | None = typer.Option(None, min=1, help="Per-trial "
                                                    "foundation budget."),
        dual_steps: int | None = typer.Option(None, min=1, help="Per-trial dual budget."),
        seed: int = typer.Option(0, help="Training seed of every trial."),
        retrain_best_seeds: int = typer.Option(0, min=0, help="Then retrain the best params "
                                               "with this many seeds (>= 5 for a spread)."),
        report: Path | None = typer.Option(None, help="Write the Markdown + PNG report here."),
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Run an Optuna sweep over the search space until N trials are complete."""
        settings = load_settings()
        request = _request(settings, study, trials, space, source, start, end,
                           foundation_steps, dual_steps, seed)
        payload = run_sweep(settings, request, workers, retrain_best_seeds, report)
        emit(payload, as_json, lambda console: _render(console, payload))

    @app.command("sweep-ui")
    def sweep_ui(port: int = typer.Option(8080, help="Port of the dashboard."),
                 host: str = typer.Option("127.0.0.1", help="Address to listen on.")) -> None:
        """Serve optuna-dashboard on the sweeps' storage (the project database)."""
        import shutil
        import subprocess

        from intraday_jules.pipelines.sweep import study_storage_url

        url = study_storage_url(load_settings())
        exe = shutil.which("optuna-dashboard") or str(Path(sys.executable).with_name(
            "optuna-dashboard"))
        if not Path(exe).exists():
            raise CliError("optuna-dashboard is not installed", hint="pip install "
                           "optuna-dashboard")
        command = [exe, url, "--host", host, "--port", str(port)]
        raise typer.Exit(subprocess.call(command))  # noqa: S603  # our venv's dashboard


def _request(settings: Settings, study: str, trials: int, space: Path | None, source: str,
             start: str | None, end: str | None, foundation_steps: int | None,
             dual_steps: int | None, seed: int) -> Any:
    from intraday_jules.pipelines.sweep import SweepRequest, default_space_path
    from intraday_jules.pipelines.sweep_space import SearchSpaceError, load_space
    from intraday_jules.pipelines.sweep_trial import SOURCES

    if source not in SOURCES:
        raise CliError(f"--source {source!r}: expected one of {', '.join(SOURCES)}")
    first = parse_day(start, "--start") if start else None
    last = parse_day(end, "--end") if end else None
    if first and last and last < first:
        raise CliError(f"--end {last} is before --start {first}")
    space = space or default_space_path()
    try:
        load_space(space)  # refuse a bad space before any worker starts
        return SweepRequest(study=study, trials=trials, space=space, source=source,
                            start=first, end=last, seed=seed,
                            foundation_steps=foundation_steps or settings.foundation_steps,
                            dual_steps=dual_steps or settings.dual_steps)
    except (SearchSpaceError, ValueError) as exc:
        raise CliError(str(exc), hint="see sweeps/default.yaml and docs/sweeps.md") from None


def run_sweep(settings: Settings, request: Any, workers: int, retrain_seeds: int,
              report: Path | None) -> dict[str, Any]:
    """The workers, then the summary (+ retrain, + report)."""
    from intraday_jules.pipelines.sweep import (
        render_sweep_report,
        retrain_best,
        sweep_summary,
    )
    from intraday_jules.pipelines.sweep_storage import open_storage, open_study

    open_study(open_storage(settings), request.study)  # create it once, before the workers
    names = [f"{socket.gethostname()}/w{i}" for i in range(workers)]
    if workers == 1:
        _run_worker(settings, request, names[0])
    else:
        _run_processes(settings, request, names)
    payload = sweep_summary(settings, request.study)
    if retrain_seeds:
        payload["retrain"] = retrain_best(settings, request, seeds=retrain_seeds)
    if report is not None:
        rendered = render_sweep_report(settings, request.study, report)
        payload["report"] = {"markdown": str(report / "report.md"),
                             "images": [str(p) for p in rendered.images]}
    return payload


def _run_worker(settings: Settings, request: Any, name: str) -> list[int]:
    from intraday_jules.pipelines.sweep import run_sweep_worker
    from intraday_jules.pipelines.sweep_trial import SweepDataError

    try:
        return run_sweep_worker(settings, request, worker=name)
    except SweepDataError as exc:
        raise CliError(str(exc), hint="check --source/--start/--end") from None


def _process_main(settings: Settings, request: Any, name: str) -> None:
    """A worker process: its error as one line on stderr and exit code 1."""
    try:
        _run_worker(settings, request, name)
    except CliError as exc:
        sys.stderr.write(f"worker {name}: {exc.message}\n")
        sys.exit(1)
    except Exception as exc:  # a worker's failure is reported by the parent, by name
        sys.stderr.write(f"worker {name}: {type(exc).__name__}: {exc}\n")
        sys.exit(1)


def _run_processes(settings: Settings, request: Any, names: list[str]) -> None:
    # spawn, not fork: torch and the database engines must not be shared with the parent
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_process_main, args=(settings, request, name),
                                 name=name) for name in names]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    failed = [f"{p.name} (exit {p.exitcode})" for p in processes if p.exitcode != 0]
    if failed:
        raise CliError(f"sweep worker(s) failed: {', '.join(failed)}",
                       hint="their errors are on stderr above")


def _render(console: Console, payload: dict[str, Any]) -> None:
    table = Table(title=f"Sweep {payload['study']}")
    for column in ("#", "state", "value", "worker", "model", "params"):
        table.add_column(column)
    for t in payload["trials"]:
        value = "" if t["value"] is None else f"{t['value']:.2f}"
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in t["params"].items())
        table.add_row(str(t["number"]), t["state"].lower(), value, t["worker"] or "",
                      t["model_id"] or "", params)
    console.print(table)
    best = payload["best"]
    console.print("No complete trial." if best is None else
                  f"Best: trial {best['number']}, value {best['value']:.2f}, "
                  f"model {best['model_id']}")
    if "retrain" in payload:
        r = payload["retrain"]
        console.print(f"Best params retrained with {len(r['runs'])} seeds: mean "
                      f"{r['mean']:.2f}, std {r['std']:.2f}, min {r['min']:.2f}, "
                      f"max {r['max']:.2f}")
    if "report" in payload:
        console.print(f"Report: {payload['report']['markdown']}")
