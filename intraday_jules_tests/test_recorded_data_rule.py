"""A fresh clone runs the suite whole: the vendor captures are in the repository with their
licence notices, and only tests marked ``recorded_data`` may read the recorded bars in
../shared (they skip with the reason without it; reading them unmarked fails the collection)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from intraday_jules_tests.conftest import FIXTURES_DIR, REPO_ROOT

INI = """[pytest]
markers =
    recorded_data: reads the recorded market bars
"""
CONFTEST = "from intraday_jules_tests.conftest import *  # noqa: F403 (fixtures and hooks)\n"


def _pytest(folder: Path, shared: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "pytest.ini").write_text(INI)
    (folder / "conftest.py").write_text(CONFTEST)
    env = {**os.environ, "INTRADAY_JULES_SHARED_DIR": str(shared),
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # the rule needs no plugin; 30 s less each
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs",
                           *args, str(folder)], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_test_reading_market_dir_without_the_recorded_data_marker_fails_the_collection(
        tmp_path: Path) -> None:
    (tmp_path / "test_unmarked.py").write_text(
        "import pytest\n\n"
        "def test_reads_bars(market_dir):\n    assert market_dir\n\n"
        "@pytest.fixture\ndef bars(shared_dir):\n    return shared_dir\n\n"
        "def test_through_a_fixture(bars):\n    assert bars\n\n"
        "@pytest.mark.recorded_data\ndef test_marked(market_dir):\n    assert market_dir\n\n"
        "def test_plain():\n    assert True\n")
    for extra in ((), ("--collect-only", "-m", "recorded_data")):  # -m cannot hide them
        proc = _pytest(tmp_path, tmp_path / "no-shared", *extra)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 4, out  # pytest's usage error: nothing ran
        assert "2 test(s) use market_dir/shared_dir" in out
        assert "test_unmarked.py::test_reads_bars" in out
        assert "test_unmarked.py::test_through_a_fixture" in out
        assert "test_marked" not in out.split("without @pytest.mark.recorded_data")[1]


def test_recorded_data_tests_skip_with_the_reason_when_the_bars_are_absent(
        tmp_path: Path) -> None:
    (tmp_path / "test_marked.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.recorded_data\ndef test_marked(market_dir):\n    assert market_dir\n\n"
        "@pytest.mark.recorded_data\ndef test_marked_only():\n    assert True\n\n"
        "def test_vendor_captures(fixtures_dir):\n"
        "    assert (fixtures_dir / 'ibkr' / 'tws_interactions_server173.json').is_file()\n")
    absent = _pytest(tmp_path, tmp_path / "no-shared")
    out = absent.stdout + absent.stderr
    assert absent.returncode == 0, out
    assert re.search(r"\b1 passed, 2 skipped\b", out), out
    assert "recorded market bars" in out and "have no licence" in out
    shared = tmp_path / "shared"
    (shared / "data" / "market").mkdir(parents=True)
    present = _pytest(tmp_path, shared)
    assert present.returncode == 0 and re.search(r"\b3 passed\b", present.stdout), present.stdout


def test_every_vendor_capture_in_the_repository_has_its_licence_notice_and_source() -> None:
    captures = [p for p in FIXTURES_DIR.rglob("*")
                if p.is_file() and p.name not in ("LICENSE", "SOURCES.md")]
    assert len(captures) == 16  # 5 recorded + 9 message bodies (Alpha Vantage), 2 IB traces
    for path in captures:
        notice = (path.parent / "LICENSE").read_text()
        assert "MIT License" in notice and "Copyright (c) 20" in notice, path
        assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in notice, path
        vendor = next(p for p in path.parents if p.parent == FIXTURES_DIR)
        assert path.name in (vendor / "SOURCES.md").read_text(), path
    recorded = (FIXTURES_DIR / "alpha_vantage" / "recorded" / "LICENSE").read_text()
    for line in ("Copyright (c) 2017 Romel Torres", "Copyright (c) 2020 Sylvester Sefa-Yeboah",
                 "Copyright (c) 2017 Zack Urben"):
        assert line in recorded
    assert "Copyright (c) 2022 Wil Boayue" in (FIXTURES_DIR / "ibkr" / "LICENSE").read_text()
