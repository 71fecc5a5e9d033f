"""The sweep report a person reads: a Markdown page and PNGs from
``optuna.visualization.matplotlib`` (optimisation history, parameter importances, parallel
coordinates). Importances need at least two complete trials (and a parameter that varied);
with fewer the report says so in a sentence instead of drawing an empty plot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from intraday_jules.settings import Settings

MIN_TRIALS_FOR_IMPORTANCES = 2


@dataclass(frozen=True)
class SweepReport:
    """The rendered report: its Markdown, the PNGs written, and the best trial (or None)."""

    markdown: str
    images: tuple[Path, ...]
    best: dict[str, Any] | None


def render_sweep_report(settings: Settings, study: str, out_dir: Path) -> SweepReport:
    """Write ``<out_dir>/report.md`` and its PNGs for ``study``; return them."""
    from intraday_jules.pipelines.sweep import sweep_summary
    from intraday_jules.pipelines.sweep_storage import load_study
    from intraday_jules.pipelines.sweep_trial import OBJECTIVE

    loaded = load_study(settings, study)
    summary = sweep_summary(settings, study)
    out_dir.mkdir(parents=True, exist_ok=True)
    complete = loaded.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    images, notes = _plots(loaded, complete, out_dir)
    lines = [f"# Sweep `{study}`", "", f"Objective (maximised): {OBJECTIVE}.", "",
             _counts_line(summary["trials"]), ""]
    lines += _best_lines(summary["best"])
    lines += ["## Trials", "", "| # | state | value | worker | model | params |",
              "|---|---|---|---|---|---|"]
    lines += [_trial_row(t) for t in summary["trials"]]
    lines += ["", "## Plots", ""]
    lines += [f"![{p.stem}]({p.name})" for p in images] + [""] + notes
    markdown = "\n".join(lines).rstrip() + "\n"
    (out_dir / "report.md").write_text(markdown)
    return SweepReport(markdown, tuple(images), summary["best"])


def _counts_line(trials: list[dict[str, Any]]) -> str:
    states: dict[str, int] = {}
    for trial in trials:
        states[trial["state"]] = states.get(trial["state"], 0) + 1
    parts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items()))
    return f"{len(trials)} trials: {parts or 'none yet'}."


def _best_lines(best: dict[str, Any] | None) -> list[str]:
    if best is None:
        return ["No trial has completed yet: there is no best configuration.", ""]
    params = ", ".join(f"`{k}` = {v}" for k, v in best["params"].items())
    return [f"**Best: trial {best['number']}**, value {best['value']:.2f}, model "
            f"`{best['model_id']}`; {params}.", ""]


def _trial_row(trial: dict[str, Any]) -> str:
    value = "" if trial["value"] is None else f"{trial['value']:.2f}"
    params = ", ".join(f"{k}={_short(v)}" for k, v in trial["params"].items())
    return (f"| {trial['number']} | {trial['state'].lower()} | {value} | "
            f"{trial['worker'] or ''} | {trial['model_id'] or ''} | {params} |")


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _plots(study: optuna.Study, complete: list[optuna.trial.FrozenTrial],
           out_dir: Path) -> tuple[list[Path], list[str]]:
    """The PNGs that can be drawn, and a sentence for each that cannot."""
    from optuna.visualization import matplotlib as vis

    from intraday_jules.pipelines.sweep_storage import quiet_experimental

    if not complete:
        return [], ["No plots: the study has no complete trial yet."]
    with quiet_experimental():
        return _draw(vis, study, complete, out_dir)


def _draw(vis: Any, study: optuna.Study, complete: list[optuna.trial.FrozenTrial],
          out_dir: Path) -> tuple[list[Path], list[str]]:
    if not complete:
        return [], ["No plots: the study has no complete trial yet."]
    images = [_save(vis.plot_optimization_history(study), out_dir / "history.png")]
    notes: list[str] = []
    varied = [p for p in complete[0].params
              if len({repr(t.params.get(p)) for t in complete}) > 1]
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCES or not varied:
        notes.append(f"No parameter importances: they need at least "
                     f"{MIN_TRIALS_FOR_IMPORTANCES} complete trials with a parameter that "
                     f"varied (the study has {len(complete)} complete).")
    else:
        images.append(_save(vis.plot_param_importances(study), out_dir / "importances.png"))
    images.append(_save(vis.plot_parallel_coordinate(study), out_dir / "parallel.png"))
    return images, notes


def _save(axes: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure = axes.figure if hasattr(axes, "figure") else axes.flat[0].figure
    figure.set_size_inches(10, 6)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
