"""``sweep_job``'s wiring on the embedded default: the flat run config, the fan-out into K
worker steps on one study, the summary and ``models/sweep_report``; bad config refused by name;
the Celery variant's executor settings. Real trials (``intraday_jules.pipelines.sweep``) at
small budgets."""

import dagster as dg
import pytest

from intraday_jules.defs.sweeps.assets import SWEEP_REPORT_KEY, sweep_report_asset
from intraday_jules.defs.sweeps.celery_config import (
    BROKER_ENV,
    CONFIG_SOURCE,
    DEFAULT_BROKER,
    executor_config,
)
from intraday_jules.defs.sweeps.jobs import build_sweep_job

BUDGETS = {"foundation_steps": 512, "dual_steps": 1024}


@pytest.fixture
def settings(settings_for, sqlite_url):
    return settings_for(database_url=sqlite_url)


def _run(settings, instance, **config):
    return build_sweep_job(settings).execute_in_process(run_config=config, instance=instance,
                                                       raise_on_error=False)


def test_sweep_job_fills_the_study_and_records_its_report(settings) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = _run(settings, instance, study="wiring", trials=3, workers=2,
                      **BUDGETS)
        assert result.success
        summary = result.output_for_node("summarize_sweep")
        complete = [t for t in summary["trials"] if t["state"] == "COMPLETE"]
        assert len(complete) == 3
        assert {t["worker"] for t in complete} <= {"sweep_worker[0]", "sweep_worker[1]"}
        workers = result.output_for_node("sweep_worker")
        assert sorted(workers) == ["0", "1"]  # the two mapped worker steps
        assert sorted(n for w in workers.values() for n in w["completed"]) == \
            sorted(t["number"] for t in complete)
        [report] = result.asset_materializations_for_node("summarize_sweep")
        assert report.asset_key == SWEEP_REPORT_KEY and report.partition == "wiring"
        assert "# Sweep `wiring`" in report.metadata["report"].value
        assert report.metadata["history_png"].value.startswith("![history](data:image/png")
        assert report.metadata["best"].value == summary["best"]
        assert instance.get_dynamic_partitions("sweep_study") == ["wiring"]
        # materializing the asset again renders the study as it stands
        again = dg.materialize([sweep_report_asset(settings)], instance=instance,
                               partition_key="wiring")
        [meta] = [m.metadata for m in again.asset_materializations_for_node("models__sweep_report")]
        assert meta["best"].value == summary["best"]


@pytest.mark.parametrize(("config", "message"), [
    ({"trials": 0}, "trials must be at least 1, got 0"),
    ({"workers": 0}, "workers must be at least 1, got 0"),
    ({"start": "2025-13-01"}, "start must be YYYY-MM-DD, got '2025-13-01'"),
    ({"space": "/nonexistent/space.yaml"}, "search space /nonexistent/space.yaml does not exist"),
])
def test_sweep_job_refuses_bad_config_by_name(settings, config, message) -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = _run(settings, instance, **{"study": "bad", "trials": 2, **config})
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "plan_sweep"
    assert message in failure.step_failure_data.error.message


def test_sweep_job_celery_is_the_same_graph_on_the_celery_executor(settings) -> None:
    local, celery = build_sweep_job(settings), build_sweep_job(settings, celery=True)
    assert celery.name == "sweep_job_celery" and local.name == "sweep_job"
    assert celery.executor_def.name == "celery"
    assert local.graph.dependencies == celery.graph.dependencies
    assert sorted(local.graph.node_dict) == ["plan_sweep", "summarize_sweep", "sweep_worker"]


def test_the_broker_url_stays_out_of_the_run_config() -> None:
    with_env = executor_config({BROKER_ENV: "amqp://u:secret@rabbitmq:5672//"})
    assert with_env["config"]["broker"] == {"env": BROKER_ENV}
    assert executor_config({})["config"]["broker"] == DEFAULT_BROKER
    # a worker killed mid-step must leave its step on the broker (see celery_config.py)
    assert with_env["config"]["config_source"]["task_acks_late"] is True
    assert CONFIG_SOURCE["task_reject_on_worker_lost"] is True
