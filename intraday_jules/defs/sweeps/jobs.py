"""``sweep_job``: a plan step fans out into K worker steps, each running
``run_sweep_worker`` (ask -> train -> evaluate -> tell on one Optuna study until it holds
``trials`` complete trials), then a summary step that records ``models/sweep_report``.

``sweep_job`` runs its steps as local processes (the multiprocess executor: works on the
embedded default); ``sweep_job_celery`` is the same graph on dagster-celery, whose steps run on
Celery workers (``celery_config.py``). Both take one flat run config::

    {study: NAME, trials: N, workers: K, space: FILE, source: ..., start: ..., end: ...,
     foundation_steps: N, dual_steps: N, seed: N}
"""

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg

from intraday_jules.defs.sweeps.assets import STUDY_PARTITIONS, SWEEP_REPORT_KEY, report_metadata
from intraday_jules.defs.sweeps.celery_config import executor_config
from intraday_jules.settings import Settings

SWEEP_JOB_NAME = "sweep_job"
SWEEP_CELERY_JOB_NAME = "sweep_job_celery"
STUDY_TAG = "intraday_jules/study"


class SweepJobConfig(dg.Config):
    """study: the Optuna study's name (workers of any run or machine join it); trials: complete
    trials the study must reach; workers: worker steps (K); space: YAML search space (empty:
    sweeps/default.yaml); source/start/end: the bars, as for `intraday-jules train`
    (start/end YYYY-MM-DD, empty: the source's default); foundation_steps/dual_steps: per-trial
    training budgets (empty: the library's defaults); seed."""

    study: str
    trials: int
    workers: int = 1
    space: str = ""
    source: str = "simulated"
    start: str = ""
    end: str = ""
    foundation_steps: int | None = None
    dual_steps: int | None = None
    seed: int = 0


def _day(name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise dg.Failure(description=f"{name} must be YYYY-MM-DD, got {text!r}") from None


def sweep_request(fields: dict[str, Any]) -> Any:
    """The library's ``SweepRequest`` for a validated ``SweepJobConfig`` (as a dict: that is
    what the plan step hands to the worker steps). Unset budgets keep the library's defaults."""
    from intraday_jules.pipelines.sweep import SweepRequest, default_space_path

    budgets = {k: fields[k] for k in ("foundation_steps", "dual_steps")
               if fields.get(k) is not None}
    return SweepRequest(study=fields["study"], trials=fields["trials"],
                        space=Path(fields["space"]) if fields["space"] else default_space_path(),
                        source=fields["source"], start=_day("start", fields["start"]),
                        end=_day("end", fields["end"]), seed=fields["seed"], **budgets)


def _checked(config: SweepJobConfig) -> dict[str, Any]:
    fields = config.model_dump()
    for name in ("trials", "workers"):
        if fields[name] < 1:
            raise dg.Failure(description=f"{name} must be at least 1, got {fields[name]}")
    if not fields["study"].strip():
        raise dg.Failure(description="study must name the Optuna study, got an empty name")
    request = sweep_request(fields)  # refuses a bad date or space now, not in K workers
    if not request.space.is_file():
        raise dg.Failure(description=f"search space {request.space} does not exist")
    return fields


@dg.op(out=dg.DynamicOut(dict))
def plan_sweep(context: dg.OpExecutionContext,
               config: SweepJobConfig) -> Iterator[dg.DynamicOutput[dict[str, Any]]]:
    """One output per worker step, each the whole (checked) request."""
    fields = _checked(config)
    context.log.info("study %s: %d trials over %d workers", fields["study"], fields["trials"],
                     fields["workers"])
    for index in range(fields["workers"]):
        yield dg.DynamicOutput(fields, mapping_key=str(index))


def _worker_op(settings: Settings) -> dg.OpDefinition:
    @dg.op(name="sweep_worker")
    def sweep_worker(context: dg.OpExecutionContext, request: dict[str, Any]) -> dict[str, Any]:
        from intraday_jules.pipelines.sweep import run_sweep_worker

        # the step key names the worker in each trial's user attributes; a step that Celery
        # redelivers after its worker died keeps its name
        worker = f"sweep_worker[{context.get_mapping_key()}]"
        done = run_sweep_worker(settings, sweep_request(request), worker=worker)
        context.log.info("%s completed trials %s", worker, done)
        return {"study": request["study"], "worker": worker, "completed": list(done)}

    return sweep_worker


def _summary_op(settings: Settings) -> dg.OpDefinition:
    @dg.op(name="summarize_sweep")
    def summarize_sweep(context: dg.OpExecutionContext,
                        workers: list[dict[str, Any]]) -> Iterator[Any]:
        from intraday_jules.pipelines.sweep import sweep_summary

        study = workers[0]["study"]
        summary = sweep_summary(settings, study)
        context.log.info("study %s: %s; best %s", study,
                         {w["worker"]: w["completed"] for w in workers}, summary.get("best"))
        context.instance.add_dynamic_partitions(STUDY_PARTITIONS, [study])
        yield dg.AssetMaterialization(asset_key=SWEEP_REPORT_KEY, partition=study,
                                      metadata=report_metadata(settings, study))
        yield dg.Output(summary)

    return summarize_sweep


def _flat_config(executor: dict[str, Any] | None) -> dg.ConfigMapping:
    """The job's run config is ``SweepJobConfig`` itself (what the issue and the CLI name),
    mapped onto the plan step; the Celery job adds its executor's settings."""

    def to_run_config(config: SweepJobConfig) -> dict[str, Any]:
        # Dagster validates the outer config against SweepJobConfig, then passes it as a dict
        fields = config.model_dump() if isinstance(config, dg.Config) else dict(config)
        run_config: dict[str, Any] = {"ops": {"plan_sweep": {"config": fields}}}
        if executor is not None:
            run_config["execution"] = executor
        return run_config

    return dg.ConfigMapping(config_fn=to_run_config)


def sweep_graph(settings: Settings) -> dg.GraphDefinition:
    """plan_sweep -> sweep_worker[0..K-1] -> summarize_sweep. Both jobs of a code location
    must share one graph (op names are unique per repository)."""
    worker, summary = _worker_op(settings), _summary_op(settings)

    @dg.graph(name="sweep")
    def sweep() -> None:
        summary(plan_sweep().map(worker).collect())

    return sweep


def sweep_job_from(graph: dg.GraphDefinition, *, celery: bool = False) -> dg.JobDefinition:
    """``sweep_job`` (local processes) or, with ``celery``, ``sweep_job_celery``."""
    if celery:
        from dagster_celery import celery_executor

        return graph.to_job(name=SWEEP_CELERY_JOB_NAME, executor_def=celery_executor,
                            config=_flat_config(executor_config()),
                            description="sweep_job with its worker steps on Celery workers "
                                        "(docs/sweeps_scale_out.md).")
    return graph.to_job(name=SWEEP_JOB_NAME, executor_def=dg.multiprocess_executor,
                        config=_flat_config(None),
                        description="K workers pull trials from one Optuna study until it "
                                    "holds N complete trials; then models/sweep_report.")


def build_sweep_job(settings: Settings, *, celery: bool = False) -> dg.JobDefinition:
    """One of the two jobs on its own (tests, the Celery workers' reconstructable target)."""
    return sweep_job_from(sweep_graph(settings), celery=celery)
