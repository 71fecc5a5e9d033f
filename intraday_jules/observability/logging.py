"""One logging setup for CLI, Dagster code location and services."""

from __future__ import annotations

import logging
import os

_CONFIGURED = False
QUIET_LOGGERS = ("alembic", "great_expectations", "urllib3", "httpx", "ib_async", "matplotlib")


def configure_logging(level: str = "INFO") -> None:
    """Configure the ``intraday_jules`` logger once; noisy libraries stay at WARNING."""
    global _CONFIGURED
    logger = logging.getLogger("intraday_jules")
    logger.setLevel(level)
    if not _CONFIGURED:
        if not logging.getLogger().handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
            logger.propagate = False
        for name in QUIET_LOGGERS:
            if level != "DEBUG":
                logging.getLogger(name).setLevel(logging.WARNING)
        os.environ.setdefault("TQDM_DISABLE", "1")
        _CONFIGURED = True
