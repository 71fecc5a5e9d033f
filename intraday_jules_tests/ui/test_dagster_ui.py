"""The Dagster UI as a person sees it: ``dagster dev`` on a demo home, Debian's headless Chromium.

One demo run, one UI and one browser per module (about a minute in all). Screenshots of every
page land in ``test-artifacts/ui/`` (git-ignored); a failing test adds ``FAILED-<test>.png`` and
the UI's log is ``test-artifacts/ui/dagster-ui.log``.

Adding an asset to check is one line: its key in ``EXPECTED_ASSETS`` (found in the graph and the
catalog); to check its newest materialization's metadata, its labels in ``EXPECTED_METADATA``;
to open a Markdown metadata value (a report, a PNG), an entry in ``EXPECTED_MARKDOWN``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from intraday_jules.settings import SETTING_SPECS
from intraday_jules.testing.dagster_ui import DagsterUI, browser_missing, dagster_ui

try:  # selenium is a dev extra: without it the tests skip (or fail when required)
    from intraday_jules.testing.dagster_ui import headless_chromium
    from intraday_jules_tests.ui import pages
except ImportError as exc:  # pragma: no cover - depends on the environment
    pages = None  # type: ignore[assignment]
    SELENIUM_MISSING: str | None = f"selenium is not importable ({exc}): pip install -e '.[dev]'"
else:
    SELENIUM_MISSING = None

pytestmark = pytest.mark.browser

# The smallest demo that materializes every asset below (training budgets at their minimum).
DEMO_ARGS: tuple[str, ...] = ("--sessions", "8", "--foundation-steps", "256",
                              "--dual-steps", "256")

EXPECTED_ASSETS: tuple[str, ...] = (
    "market_data/bars", "quality/bar_quality_report", "features/feature_table",
    "models/model_evaluation", "models/promoted_model", "trading/session_report",
    "trading/performance_report",
)
EXPECTED_METADATA: dict[str, tuple[str, ...]] = {
    "market_data/bars": ("rows_written", "source", "backend"),
    "quality/bar_quality_report": ("checks", "failed_checks", "blocking_failed", "report"),
    "models/model_evaluation": ("model_id", "total_return_pct", "sharpe", "sharpe_per_session",
                                "max_drawdown_pct"),
    "models/promoted_model": ("champion", "challenger", "promoted", "gate"),
    "trading/session_report": ("report", "equity_png", "summary"),
    "trading/performance_report": ("report", "equity_png", "targets", "targets_met"),
}
# (asset, Markdown metadata label, a text its dialog shows, or None for "shows a loaded image")
EXPECTED_MARKDOWN: tuple[tuple[str, str, str | None], ...] = (
    ("quality/bar_quality_report", "report", "Data quality"),
    ("quality/bar_quality_report", "minutes_png", None),
    ("models/model_evaluation", "table", "walk-forward folds"),
    ("models/model_evaluation", "equity_png", None),
    ("trading/session_report", "equity_png", None),
    ("trading/performance_report", "report", "Targets"),
    ("trading/performance_report", "equity_png", None),
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "ui"
REQUIRE_BROWSER = os.environ.get("INTRADAY_JULES_REQUIRE_BROWSER", "") == "1"


def _hermetic_env(home: Path) -> dict[str, str]:
    """This process's environment without our settings (demo defaults: simulated, SQLite)."""
    ours = {spec.env for spec in SETTING_SPECS} | {"DAGSTER_HOME"}
    env = {k: v for k, v in os.environ.items() if k not in ours}
    return {**env, "INTRADAY_JULES_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}


@pytest.fixture(scope="module")
def browser_ready() -> None:
    reason = browser_missing() or SELENIUM_MISSING
    if reason is None:
        return
    if REQUIRE_BROWSER:
        pytest.fail(f"INTRADAY_JULES_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("*.png"):
        stale.unlink()
    return ARTIFACTS


@pytest.fixture(scope="module")
def demo_home(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An INTRADAY_JULES_HOME after ``intraday-jules demo DEMO_ARGS`` (real Dagster runs)."""
    home = tmp_path_factory.mktemp("ui-home")
    done = subprocess.run(
        [sys.executable, "-m", "intraday_jules.cli", "demo", *DEMO_ARGS, "--json"],
        env=_hermetic_env(home), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"demo failed:\n{done.stdout}\n{done.stderr}"
    report = json.loads(done.stdout)
    assert report["runs"], report
    return home


@pytest.fixture(scope="module")
def ui(demo_home: Path, artifacts: Path) -> Iterator[DagsterUI]:
    with dagster_ui(demo_home, workspace=REPO_ROOT / "workspace.yaml",
                    env=_hermetic_env(demo_home), log_path=artifacts / "dagster-ui.log") as ui:
        ui.wait_for_code_locations()
        ui.dismiss_community_dialog()
        yield ui


@pytest.fixture(scope="module")
def browser(browser_ready: None) -> Iterator[Any]:
    with headless_chromium() as driver:
        yield driver


@pytest.fixture
def page(browser: Any, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The browser; if the test fails, a screenshot of where it was."""
    yield browser
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        pages.screenshot(browser, artifacts, f"FAILED-{request.node.name}")


@pytest.mark.parametrize("key", EXPECTED_ASSETS)
def test_asset_graph_finds_each_expected_asset_by_key(
        ui: DagsterUI, page: Any, artifacts: Path, key: str) -> None:
    jump_box = pages.open_asset_graph(page, ui)
    if not (artifacts / "graph.png").exists():  # the graph as first opened (groups collapsed)
        pages.screenshot(page, artifacts, "graph")
    pages.jump_to_asset(page, jump_box, key)
    pages.screenshot(page, artifacts, f"graph-{key}")


@pytest.mark.parametrize("key", EXPECTED_ASSETS)
def test_catalog_lists_each_expected_asset_and_opens_its_page(
        ui: DagsterUI, page: Any, artifacts: Path, key: str) -> None:
    pages.find_in_catalog(page, ui, key)
    pages.screenshot(page, artifacts, f"catalog-{key}")
    pages.open_from_catalog(page, key)
    pages.screenshot(page, artifacts, f"asset-{key}")


def _open_latest_materialization(ui: DagsterUI, page: Any, key: str) -> None:
    """Open the asset's page, then its newest materialization's event (Events tab)."""
    latest = ui.latest_materialization(key)
    assert latest is not None, f"the demo left no materialization of {key}"
    page.get(ui.url(f"/assets/{key}"))
    pages.wait_for_asset_page(page, key)
    pages.open_latest_materialization(page, latest["runId"])


@pytest.mark.parametrize(("key", "labels"), list(EXPECTED_METADATA.items()))
def test_latest_materialization_shows_its_metadata(
        ui: DagsterUI, page: Any, artifacts: Path, key: str, labels: tuple[str, ...]) -> None:
    _open_latest_materialization(ui, page, key)
    for label in labels:
        pages.wait_visible(page, pages.metadata_label(label), f"metadata label {label!r} of {key}")
    pages.screenshot(page, artifacts, f"metadata-{key}")


@pytest.mark.parametrize(("key", "label", "text"), EXPECTED_MARKDOWN)
def test_markdown_metadata_is_readable_inline_or_in_its_dialog(
        ui: DagsterUI, page: Any, artifacts: Path, key: str, label: str,
        text: str | None) -> None:
    _open_latest_materialization(ui, page, key)
    where = pages.show_markdown(page, label)
    if text is None:
        pages.wait_for_image(page, where)
    else:
        shows = f"{where}//*[contains(normalize-space(), {pages.xpath_literal(text)})]"
        pages.wait_visible(page, shows, f"{text!r} in the Markdown of {key} {label}")
    pages.screenshot(page, artifacts, f"markdown-{key}-{label}")
    if where == pages.DIALOG:
        pages.close_dialog(page)
