"""The sweep report: Markdown + PNGs from optuna.visualization.matplotlib, and a clear
sentence instead of the importances plot when fewer than two trials are complete. The
trials are written straight into the study (no training: the report only reads them)."""

from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState, create_trial

from intraday_jules.pipelines.sweep import render_sweep_report, sweep_summary
from intraday_jules.pipelines.sweep_storage import open_storage
from intraday_jules.settings import Settings

DISTRIBUTIONS = {"learning_rate": FloatDistribution(1e-4, 1e-3, log=True),
                 "n_steps": CategoricalDistribution([32, 64])}


def settings_in(tmp_path: Path) -> Settings:
    env = {"INTRADAY_JULES_HOME": str(tmp_path / "home"), "INTRADAY_JULES_DEPLOYMENT": "ci"}
    return Settings.from_env(env)


def study_with(settings: Settings, name: str, values: list[float | None]) -> optuna.Study:
    """A study whose trials complete with ``values`` (None: a failed trial)."""
    study = optuna.create_study(study_name=name, storage=open_storage(settings),
                                direction="maximize")
    for i, value in enumerate(values):
        params = {"learning_rate": 1e-4 * (1 + i), "n_steps": (32, 64)[i % 2]}
        state = TrialState.FAIL if value is None else TrialState.COMPLETE
        study.add_trial(create_trial(state=state, value=value, params=params,
                                     distributions=DISTRIBUTIONS,
                                     user_attrs={"worker": f"w{i % 2}",
                                                 "model_id": f"dual-{name}-t{i}"}))
    return study


def test_the_report_has_history_importances_and_parallel_coordinates(tmp_path):
    settings = settings_in(tmp_path)
    study_with(settings, "full", [-3.0, 5.0, 1.0, None, 2.5])
    report = render_sweep_report(settings, "full", tmp_path / "out")
    assert [p.name for p in report.images] == ["history.png", "importances.png",
                                               "parallel.png"]
    for image in report.images:
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and image.stat().st_size > 5000
    assert report.best == {"number": 1, "value": 5.0, "params": {"learning_rate": 2e-4,
                                                                 "n_steps": 64},
                           "model_id": "dual-full-t1"}
    text = (tmp_path / "out" / "report.md").read_text()
    assert text == report.markdown
    assert "5 trials: 4 complete, 1 fail." in text
    assert "**Best: trial 1**, value 5.00, model `dual-full-t1`" in text
    assert "| 3 | fail |  | w1 | dual-full-t3 |" in text
    assert "![importances](importances.png)" in text
    assert "validation net P&L in $ at 1x costs" in text


def test_one_complete_trial_gets_a_sentence_instead_of_importances(tmp_path):
    settings = settings_in(tmp_path)
    study_with(settings, "single", [4.0, None])
    report = render_sweep_report(settings, "single", tmp_path / "out")
    assert [p.name for p in report.images] == ["history.png", "parallel.png"]
    assert ("No parameter importances: they need at least 2 complete trials with a "
            "parameter that varied (the study has 1 complete).") in report.markdown


def test_a_study_without_complete_trials_says_so_and_has_no_best(tmp_path):
    settings = settings_in(tmp_path)
    study_with(settings, "empty", [None])
    report = render_sweep_report(settings, "empty", tmp_path / "out")
    assert report.images == () and report.best is None
    assert "No trial has completed yet: there is no best configuration." in report.markdown
    assert "No plots: the study has no complete trial yet." in report.markdown
    assert sweep_summary(settings, "empty")["best"] is None


def test_an_unknown_study_is_refused_naming_the_known_ones(tmp_path):
    settings = settings_in(tmp_path)
    study_with(settings, "exists", [1.0])
    with pytest.raises(KeyError, match=r"no study 'nope' in sqlite:///.*; studies: exists"):
        sweep_summary(settings, "nope")
