"""The local Dagster instance: ``DAGSTER_HOME`` under ``$INTRADAY_JULES_HOME/dagster``.

The repository's ``local/dagster.yaml`` is the same file (a test keeps them identical), for
users who point ``DAGSTER_HOME`` at a folder of their own. It is not at the repository's root:
``dagster dev`` warns about a ``dagster.yaml`` in its working folder that is not DAGSTER_HOME.
"""

from __future__ import annotations

import os
from pathlib import Path

from intraday_jules.settings import Settings

INSTANCE_YAML = """\
# Dagster instance for the embedded default: SQLite run/event storage under DAGSTER_HOME.
# The Docker stack uses docker/dagster.yaml (dagster-postgres storage) instead.
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 2
    tag_concurrency_limits:
      # one broker connection at a time: trading runs never overlap
      - key: intraday_jules/pool
        value: broker
        limit: 1
"""


def ensure_dagster_home(settings: Settings) -> Path:
    """Create DAGSTER_HOME with our instance config (kept if present) and export it."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
