"""``make ui`` starts without warnings a newcomer cannot act on.

The target itself runs (``make -o`` keeps it from reinstalling the venv this test runs in):
``dagster dev`` until the webserver serves and the code location is loaded, then the whole
process group is stopped. Three warnings it used to print: a ``dagster.yaml`` in the working
folder that is not DAGSTER_HOME, "use 'dg dev'" (a package we do not install), and a
BetaWarning about the ``owners`` parameter Dagster itself passes when it binds resources.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from intraday_jules.testing.dagster_ui import DagsterUI, free_port, stop_process_group

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.executable).parent.parent  # the venv whose python runs these tests

# what each of the three warnings printed (a fragment of each is enough to find it)
WARNINGS = (
    "Found a dagster instance configuration value (dagster.yaml) in the current folder",
    "is superseded and its usage is discouraged. Use 'dg dev' instead",
    "BetaWarning",
)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_ui_serves_the_code_location_without_the_three_warnings(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "make-ui.log"
    env = {**os.environ, "INTRADAY_JULES_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    env.pop("DAGSTER_HOME", None)  # the Makefile's default: $INTRADAY_JULES_HOME/dagster
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # make, with our own arguments
            ["make", "-o", f"{VENV}/.installed", "ui", f"VENV={VENV}", f"UI_PORT={port}"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    ui = DagsterUI(f"http://127.0.0.1:{port}", process, log_path)
    try:
        ui.wait_until_serving(timeout_s=90)
        assert ui.wait_for_code_locations(timeout_s=90) == ["intraday_jules"]
    finally:
        stop_process_group(process)
    output = log_path.read_text(errors="replace")
    assert "Serving dagster-webserver" in output
    assert (tmp_path / "home" / "dagster" / "dagster.yaml").read_text() == (
        ROOT / "local" / "dagster.yaml").read_text()
    for warning in WARNINGS:
        assert warning not in output, output
