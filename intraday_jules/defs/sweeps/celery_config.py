"""How the sweep's Celery executor and the Celery workers talk: one broker, one result backend,
one set of Celery settings, used by both sides (dagster-celery requires they agree).

Start a worker (any machine that reaches the broker, the project database and the Dagster
instance, with the same ``INTRADAY_JULES_*`` environment as the code location)::

    celery -A intraday_jules.defs.sweeps.celery_app worker -Q dagster --concurrency 1

The broker URL comes from ``INTRADAY_JULES_CELERY_BROKER_URL`` (it may carry a password, so it
is never part of the run config) and defaults to the local RabbitMQ with guest/guest.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

BROKER_ENV = "INTRADAY_JULES_CELERY_BROKER_URL"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
# Results travel back to the run on an AMQP reply queue: nothing else to run or clean up.
BACKEND = "rpc://"

# dagster-celery leaves Celery's defaults: a step's message is acknowledged when a worker takes
# it, so a worker killed mid-step loses the step and the run waits for it forever. Acknowledging
# when the step ends puts the message back on the queue when the worker's connection drops
# (kill -9, a lost machine), and reject_on_worker_lost does the same when only the pool process
# dies; another worker then runs the step again. Running a sweep step twice is safe: the step
# asks the study for trials until it has enough, and Optuna's heartbeat fails and retries the
# trial the dead worker held. One step per worker process at a time (prefetch 1): a step is a
# long loop of trainings, prefetching a second one would only hide it from idle workers.
CONFIG_SOURCE: Mapping[str, Any] = {
    "task_acks_late": True,
    "task_reject_on_worker_lost": True,
    "worker_prefetch_multiplier": 1,
    "broker_connection_retry_on_startup": True,
}


def broker_url(environ: Mapping[str, str] | None = None) -> str:
    """The broker the executor sends steps to and the workers listen on."""
    env = os.environ if environ is None else environ
    return env.get(BROKER_ENV) or DEFAULT_BROKER


def broker_config(environ: Mapping[str, str] | None = None) -> str | dict[str, str]:
    """The executor's ``broker`` field: a reference to the environment variable when it is set
    (so a password never lands in the run's stored config), else the local default."""
    env = os.environ if environ is None else environ
    return {"env": BROKER_ENV} if env.get(BROKER_ENV) else DEFAULT_BROKER


def executor_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The run config's ``execution`` block for ``sweep_job_celery``."""
    return {"config": {"broker": broker_config(environ), "backend": BACKEND,
                       "config_source": dict(CONFIG_SOURCE)}}
