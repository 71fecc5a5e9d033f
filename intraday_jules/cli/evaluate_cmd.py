"""``intraday-jules evaluate``: a stored model against the baselines on any bars.

Features are built on the fly from the bars and normalised with the MODEL's statistics, so a
replay file the model never saw works end to end. Sessions inside the model's training
window are refused, and those within the embargo after it dropped. The Markdown table and
the equity/drawdown PNG go to ``<models>/<id>/evaluations/<first>_<last>/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from intraday_jules.cli._output import JSON_OPTION, CliError, emit, progress
from intraday_jules.cli.config_cmd import load_settings
from intraday_jules.cli.train_cmd import load_bars, open_model_store


def register(app: typer.Typer) -> None:
    @app.command("evaluate")
    def evaluate_command(
        model: str = typer.Option("promoted", help="Model id, or 'promoted'."),
        source: str = typer.Option("store", help="store (ingested bars) or replay (a file)."),
        replay_path: Path | None = typer.Option(None, help="CSV/Parquet for --source replay."),
        start: str | None = typer.Option(None, help="First session, YYYY-MM-DD."),
        end: str | None = typer.Option(None, help="Last session, YYYY-MM-DD (inclusive)."),
        seeds: int = typer.Option(3, min=1, max=50, help="Evaluation seeds (for the CIs)."),
        folds: int = typer.Option(3, min=1, help="Walk-forward folds of the window."),
        cpcv: bool = typer.Option(True, help="Also cross-validate the model's recipe (CPCV, "
                                  "retrained per split at INTRADAY_JULES_CPCV_*_STEPS) on "
                                  "these sessions; --no-cpcv: \"cpcv\" is null."),
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Evaluate a model vs flat, buy-and-hold, 50/50, random and momentum baselines at
        0x/1x/2x costs over seeds, with 95% confidence intervals."""
        settings = load_settings()
        bars, origin = load_bars(settings, source, replay_path, start, end)
        report, paths = run_evaluation(settings, model, bars, origin, seeds, folds,
                                       show=not as_json, cpcv=cpcv)
        payload = report.to_dict()
        emit(payload, as_json, lambda console: _render(console, report, paths))


def run_evaluation(settings: Any, ref: str, bars: Any, origin: str, seeds: int, folds: int,
                   show: bool, cpcv: bool = True) -> tuple[Any, dict[str, Path]]:
    from intraday_jules.agent.bundle import ModelMismatchError
    from intraday_jules.agent.data import TrainingDataError
    from intraday_jules.agent.evaluation import evaluate, evaluation_data
    from intraday_jules.agent.model_store import ModelStoreError
    from intraday_jules.agent.report import write_artifacts

    store = open_model_store(settings)
    try:
        bundle = store.load(ref)
    except (ModelStoreError, ModelMismatchError) as exc:
        raise CliError(str(exc), hint="list models in the registry, or train one with "
                       "`intraday-jules train`") from None
    with progress(show) as bar:
        task = bar.add_task(f"evaluating {bundle.model_id}", total=None)
        try:
            data = evaluation_data(bundle, bars, origin=origin)
            report = evaluate(bundle, data, seeds=seeds, n_folds=folds)
            bar.update(task, description=f"robustness of {bundle.model_id}"
                       + (" (CPCV: retraining per split)" if cpcv else ""))
            report.robustness = _robustness(settings, store, bundle, report, bars, seeds, cpcv)
        except (TrainingDataError, ValueError) as exc:
            raise CliError(str(exc)) from None
        bar.update(task, total=1, completed=1)
    folder = (store.model_dir(bundle.model_id) / "evaluations" /
              f"{report.window.start.isoformat()}_{report.window.end.isoformat()}")
    return report, write_artifacts(report, folder)


def _robustness(settings: Any, store: Any, bundle: Any, report: Any, bars: Any, seeds: int,
                cpcv: bool) -> dict[str, Any]:
    from intraday_jules.pipelines.robustness import CpcvBudget, robustness_figures
    from intraday_jules.pipelines.study_stats import model_study, study_overfitting

    assert bundle.model_id is not None  # loaded from the registry
    origin = model_study(store, bundle.model_id)
    budget = CpcvBudget(settings.cpcv_foundation_steps, settings.cpcv_dual_steps, seeds=seeds)
    return robustness_figures(report, bundle, bars if cpcv else None,
                              budget=budget if cpcv else None,
                              study=None if origin is None else origin.study,
                              study_lookup=lambda study: study_overfitting(settings, study))


def _render(console: Console, report: Any, paths: dict[str, Path]) -> None:
    from intraday_jules.agent.report import markdown_table

    console.print(markdown_table(report), markup=False, highlight=False)
    console.print(f"plot: {paths['plot']}  table: {paths['markdown']}")
