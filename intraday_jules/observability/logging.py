"""One logging setup for CLI, Dagster code location and services, with secret redaction.

Secrets are never logged on purpose (they travel as ``SecretValue``); the redacting filter is
the second line of defence: it masks any revealed secret value and ``apikey=``-style URL
parameters in records from our loggers and from the HTTP libraries, whatever handler (Rich,
Dagster's event log capture, a file) ends up receiving them.
"""

from __future__ import annotations

import logging
import os

from intraday_jules.secrets import install_log_redaction

QUIET_LOGGERS = ("alembic", "great_expectations", "urllib3", "httpx", "httpcore", "ib_async",
                 "matplotlib")
# Loggers that may see URLs or payloads carrying credentials: redact at the source logger, so
# the record is clean before it propagates to any handler we do not own.
REDACTED_LOGGERS = ("intraday_jules", "httpx", "httpcore", "urllib3", "ib_async", "uvicorn",
                    "uvicorn.access", "dagster")

_CONFIGURED = False


def configure_logging(level: str = "INFO") -> None:
    """Configure the ``intraday_jules`` logger once; noisy libraries stay at WARNING."""
    global _CONFIGURED
    logger = logging.getLogger("intraday_jules")
    logger.setLevel(level)
    install_redaction()
    if _CONFIGURED:
        return
    if not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        install_log_redaction(handler)
        logger.addHandler(handler)
        logger.propagate = False
    if level != "DEBUG":
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("TQDM_DISABLE", "1")
    _CONFIGURED = True


def install_redaction() -> None:
    """Put the redacting filter on the sensitive loggers and on every root handler."""
    for name in REDACTED_LOGGERS:
        install_log_redaction(logging.getLogger(name))
    for handler in logging.getLogger().handlers:
        install_log_redaction(handler)
