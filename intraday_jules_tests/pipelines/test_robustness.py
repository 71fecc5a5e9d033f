"""The robustness figures beside an evaluation, end to end on a real tiny sweep: the CPCV of
the trial model's recipe over its training and validation sessions, the deflated Sharpe ratio
counting every trial of its study, the study's PBO (or why there is none), the session
bootstrap; and the gate reads them."""


import optuna
import pytest
from optuna.exceptions import ExperimentalWarning
from optuna.trial import TrialState

from intraday_jules.agent import DateWindow, ModelStore, evaluate, evaluation_data
from intraday_jules.agent.data import cut_to_window
from intraday_jules.agent.promotion import gate_criteria
from intraday_jules.db.engine import create_db_engine
from intraday_jules.pipelines.robustness import CpcvBudget, robustness_figures
from intraday_jules.pipelines.study_stats import model_study, study_overfitting
from intraday_jules.pipelines.sweep import SweepRequest, run_sweep_worker
from intraday_jules.pipelines.sweep_storage import open_storage
from intraday_jules.pipelines.sweep_trial import load_sweep_data
from intraday_jules_tests.pipelines.test_study_stats import END, SPACE, START, make_settings

pytestmark = pytest.mark.filterwarnings("ignore", category=ExperimentalWarning)


def test_a_sweep_models_robustness_figures_count_its_study_and_feed_the_gate(tmp_path):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'home' / 'ij.db'}")
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    request = SweepRequest(study="robust", trials=2, space=space, source="simulated",
                           start=START, end=END, foundation_steps=256, dual_steps=256,
                           evaluation_seeds=1, prune=False)
    run_sweep_worker(settings, request, worker="w0")
    study = optuna.load_study(study_name="robust", storage=open_storage(settings))
    study.tell(study.ask(), state=TrialState.FAIL)  # a failed look at the data counts too
    best = study.best_trial
    store = ModelStore(settings.models_dir, create_db_engine(settings.database_url))
    model_id = best.user_attrs["model_id"]
    assert model_study(store, model_id).study == "robust"
    bundle = store.load(model_id)
    data = load_sweep_data(settings, "simulated", START, END)
    window = data.splits.validation
    held_out = cut_to_window(data.bars, window)
    report = evaluate(bundle, evaluation_data(bundle, held_out), window=window, seeds=1)
    span = cut_to_window(data.bars, DateWindow(data.splits.train.start, window.end))
    figures = robustness_figures(report, bundle, span, budget=CpcvBudget(64, 64, seeds=1),
                                 study="robust",
                                 study_lookup=lambda name: study_overfitting(settings, name))
    # 15 sessions (10 train, 1 embargo, 4 validation): 5 groups of 3, 10 splits, 4 paths
    cpcv = figures["cpcv"]
    assert figures["cpcv_reason"] is None
    assert (cpcv["groups"], cpcv["test_groups"], cpcv["paths"]) == (5, 2, 4)
    assert len(cpcv["pnl_usd"]["per_path"]) == 4
    assert cpcv["pnl_usd"]["p05"] <= cpcv["pnl_usd"]["median"] <= cpcv["pnl_usd"]["p95"]
    # every trial counted, complete or failed; the model's validation sessions are the DSR's
    assert figures["study"]["n_trials"] == 3
    if figures["dsr"] is not None:
        assert figures["dsr"]["n_trials"] == 3 and figures["dsr"]["n_obs"] == 4
    # 4 validation sessions cannot be split in halves of >= 2 for 4 partitions... or can:
    # either way the figure or its reason is there, never both, never neither
    assert (figures["pbo"] is None) != (figures["pbo_reason"] is None)
    assert figures["bootstrap"]["sessions"] == 4
    low, high = figures["bootstrap"]["pnl_usd"]["low"], figures["bootstrap"]["pnl_usd"]["high"]
    assert low <= report.session_pnl["model"].sum() <= high
    report.robustness = figures
    criteria = {c.name: c for c in gate_criteria(report.to_dict(), bundle.spec_version)}
    assert criteria["cpcv_median_pnl_usd"].value == cpcv["pnl_usd"]["median"]
    assert criteria["cpcv_beats_buy_and_hold"].threshold == cpcv["buy_and_hold_pnl_usd"]["median"]
    if figures["pbo"] is None:  # a model of a study without a PBO is never waved through
        assert not criteria["pbo"].passed and criteria["pbo"].value == (
            f"study robust: {figures['study']['pbo_reason']}")
