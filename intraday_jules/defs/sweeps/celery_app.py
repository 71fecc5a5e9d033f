"""The Celery app the sweep's workers run (``celery -A intraday_jules.defs.sweeps.celery_app
worker -Q dagster``): dagster-celery's ``execute_plan`` task on the broker and settings of
``celery_config.py``, the same the executor of ``sweep_job_celery`` sends with. Importing
this module reads the environment (the broker URL); only Celery workers import it."""

from __future__ import annotations

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from intraday_jules.defs.sweeps.celery_config import BACKEND, CONFIG_SOURCE, broker_url

# dagster-celery is untyped
app = make_app(CeleryExecutor.for_cli(  # type: ignore[no-untyped-call]
    broker=broker_url(), backend=BACKEND, config_source=dict(CONFIG_SOURCE)).app_args())
execute_plan = create_task(app)  # type: ignore[no-untyped-call]
