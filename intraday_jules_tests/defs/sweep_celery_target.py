"""The reconstructable ``sweep_job_celery`` the Celery test runs: Celery workers rebuild the job
by importing this module and calling ``celery_sweep_job`` with their own environment (the same
INTRADAY_JULES_* as the test), as they would import ``intraday_jules.definitions``."""

import dagster as dg

from intraday_jules.defs.sweeps.jobs import build_sweep_job
from intraday_jules.settings import Settings


def celery_sweep_job() -> dg.JobDefinition:
    return build_sweep_job(Settings.from_env(), celery=True)
