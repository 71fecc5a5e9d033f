"""Static checks run with the test suite, so CI enforces them: lint and import boundaries."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: `make test` installs the dev extras")
    return found


def test_import_boundaries_from_architecture_hold():
    proc = subprocess.run([_tool("lint-imports")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_ruff_finds_nothing():
    proc = subprocess.run([_tool("ruff"), "check", "intraday_jules", "intraday_jules_tests",
                           "benchmarks"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_mypy_strict_on_money_critical_packages():
    packages = ["intraday_jules/domain", "intraday_jules/risk", "intraday_jules/ledger",
                "intraday_jules/broker"]
    proc = subprocess.run([_tool("mypy"), *packages], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]


def test_repo_dagster_yaml_is_the_instance_config_the_demo_writes():
    from intraday_jules.instance import INSTANCE_YAML

    assert (ROOT / "local" / "dagster.yaml").read_text() == INSTANCE_YAML
