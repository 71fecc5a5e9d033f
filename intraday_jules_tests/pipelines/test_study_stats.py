"""A study's overfitting figures: a real tiny sweep on simulated sessions (SQLite), whose
trials record their validation P&L per session; every trial counts, complete or not; a
registered model leads back to its study and trial."""

from datetime import date
from pathlib import Path

import optuna
import pytest
from optuna.exceptions import ExperimentalWarning
from optuna.trial import TrialState, create_trial

from intraday_jules.agent.model_store import ModelStore, ModelStoreError
from intraday_jules.db.engine import create_db_engine
from intraday_jules.pipelines.study_stats import (
    ModelStudy,
    model_study,
    overfitting_of,
    study_overfitting,
)
from intraday_jules.pipelines.sweep import SweepRequest, run_sweep_worker
from intraday_jules.pipelines.sweep_storage import open_storage
from intraday_jules.pipelines.sweep_trial import load_sweep_data
from intraday_jules.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore", category=ExperimentalWarning)
#: 20 simulated sessions 2025-03-03..03-28: train 10, embargo, validation 4, embargo, test 4
START, END = date(2025, 3, 3), date(2025, 3, 28)
SPACE = """dimensions:
  n_steps: {choices: [32]}
  learning_rate: {low: 1.0e-4, high: 1.0e-3, log: true}
"""


def make_settings(tmp_path: Path, url: str) -> Settings:
    env = {"INTRADAY_JULES_HOME": str(tmp_path / "home"), "INTRADAY_JULES_DEPLOYMENT": "ci"}
    return Settings.from_env(env, database_url=url)


def test_a_tiny_sweep_gives_its_studys_trial_count_sharpe_variance_and_pbo(tmp_path):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'home' / 'ij.db'}")
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    request = SweepRequest(study="stats", trials=2, space=space, source="simulated",
                           start=START, end=END, foundation_steps=256, dual_steps=256,
                           evaluation_seeds=1, prune=False)
    run_sweep_worker(settings, request, worker="w0")
    # two more looks at the data that never completed: they count, their P&L cannot
    study = optuna.load_study(study_name="stats", storage=open_storage(settings))
    study.tell(study.ask(), state=TrialState.FAIL)
    study.tell(study.ask(), state=TrialState.PRUNED)

    stats = study_overfitting(settings, "stats")

    splits = load_sweep_data(settings, "simulated", START, END).splits
    validation = [d for d in (date(2025, 3, day) for day in range(3, 29))
                  if splits.validation.contains(d)]
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert stats.n_trials == 4
    assert (stats.states["COMPLETE"], stats.states["FAIL"], stats.states["PRUNED"]) == (2, 1, 1)
    assert stats.trial_numbers == tuple(t.number for t in complete)
    assert stats.sessions == tuple(d.isoformat() for d in validation if d.weekday() < 5)
    assert len(stats.sessions) == 4
    for column, trial in enumerate(complete):
        pnl = trial.user_attrs["session_pnl_usd"]
        # the sessions' P&L adds up to the objective: the same run, split by session
        assert sum(pnl.values()) == pytest.approx(trial.value, abs=1e-6)
        assert stats.matrix[:, column].tolist() == [pnl[s] for s in stats.sessions]
    assert len(stats.trial_sharpes) == 2
    assert stats.pbo is not None and stats.reason is None
    assert (stats.pbo.n_partitions, stats.pbo.n_combinations) == (4, 6)
    out = stats.to_dict()
    assert out["n_trials"] == 4 and out["pbo"] == stats.pbo.pbo and out["pbo_reason"] is None

    best = study.best_trial
    store = ModelStore(settings.models_dir, create_db_engine(settings.database_url))
    try:
        assert model_study(store, best.user_attrs["model_id"]) == ModelStudy("stats",
                                                                             best.number)
        assert model_study(settings, best.user_attrs["foundation_id"]) == ModelStudy(
            "stats", best.number)
        with pytest.raises(ModelStoreError, match="no model 'nope'"):
            model_study(store, "nope")
    finally:
        store.engine.dispose()


def _complete(number: int, pnl: dict[str, float]) -> optuna.trial.FrozenTrial:
    trial = create_trial(value=sum(pnl.values()), user_attrs={"session_pnl_usd": pnl})
    trial.number = number
    return trial


SIX = {f"2025-01-0{d}": float(d % 3) for d in range(2, 8)}


def test_one_complete_trial_has_no_pbo_and_no_variance_but_every_trial_counts():
    failed = create_trial(state=TrialState.FAIL)
    stats = overfitting_of("one", [_complete(0, SIX), failed])
    assert stats.n_trials == 2 and stats.pbo is None and stats.trial_sharpe_variance is None
    assert stats.reason == "1 complete trial(s) with per-session P&L: PBO compares 2 or more"
    assert stats.variance_reason.startswith("1 complete trial(s) with a per-session Sharpe")


def test_too_few_common_sessions_leave_pbo_null_with_the_reason():
    short = {k: v for k, v in SIX.items() if k < "2025-01-05"}  # 3 sessions
    stats = overfitting_of("short", [_complete(0, SIX), _complete(1, short)])
    assert stats.sessions == ("2025-01-02", "2025-01-03", "2025-01-04")
    assert stats.pbo is None
    assert stats.reason == ("3 validation session(s) common to the complete trials: CSCV "
                            "needs 4 or more")
    assert stats.trial_sharpe_variance is not None  # 3 sessions give Sharpe ratios


def test_partitions_are_the_largest_even_number_of_blocks_up_to_sixteen():
    other = {k: 2.0 - v for k, v in SIX.items()}
    stats = overfitting_of("six", [_complete(0, SIX), _complete(1, other)])
    assert stats.pbo is not None and stats.pbo.n_partitions == 6
    long = {f"2025-{m:02d}-{d:02d}": float((m * d) % 5) for m in (1, 2) for d in range(1, 21)}
    stats = overfitting_of("long", [_complete(0, long),
                                    _complete(1, {k: 1.0 - v for k, v in long.items()})])
    assert stats.pbo is not None and stats.pbo.n_partitions == 16
    assert stats.pbo.dropped_rows == 40 % 16
