"""What a person does in the Dagster UI, as Selenium steps with explicit waits (never sleeps).

Routes and selectors (Dagster 1.13, checked on screenshots):
- ``/asset-groups``: the global asset graph (SVG ``foreignObject`` nodes; with several groups
  they start collapsed); its sidebar input "Jump to…" suggests assets by name
  (``role=menuitem``); choosing one expands its group, selects the node, the URL becomes
  ``/asset-groups/<key, URL-encoded>`` and a side panel titled ``a / b`` opens.
- ``/assets``: the catalog; each asset is a link ``a[href="/assets/<key>"]`` reading ``a / b``.
- ``/assets/<key>``: the asset page; its "Events" tab (``?view=events``) selects the newest
  event and shows "materialized in run <id[:8]>" (a link to ``/runs/<id>``) and a "Metadata"
  table whose first column holds the labels; a Markdown value is a link "[Show Markdown]"
  that opens a ``role=dialog`` with a "Close" button.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from intraday_jules.testing.dagster_ui import DagsterUI

WAIT_S = 45.0  # a loaded 2-core machine renders the first page in seconds, not milliseconds
JUMP_BOX = "//input[starts-with(@placeholder, 'Jump to')]"


def display_name(key: str) -> str:
    """How the UI writes an asset key: ``market_data / bars``."""
    return " / ".join(key.split("/"))


def xpath_literal(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    return "concat(" + ", \"'\", ".join(f"'{part}'" for part in text.split("'")) + ")"


def visible(xpath: str) -> Callable[[WebDriver], WebElement | bool]:
    """Wait condition: the first *displayed* element matching ``xpath`` (hidden ones skipped)."""
    def condition(driver: WebDriver) -> WebElement | bool:
        for element in driver.find_elements(By.XPATH, xpath):
            with contextlib.suppress(StaleElementReferenceException):  # React re-rendered it
                if element.is_displayed():
                    return element
        return False
    return condition


def wait(driver: WebDriver, condition: Callable[[WebDriver], Any], what: str) -> Any:
    return WebDriverWait(driver, WAIT_S, poll_frequency=0.2,
                         ignored_exceptions=(StaleElementReferenceException,)).until(
        condition, f"waited {WAIT_S:.0f} s for {what} on {driver.current_url}")


def wait_visible(driver: WebDriver, xpath: str, what: str) -> WebElement:
    """The first displayed element matching ``xpath``, waiting up to ``WAIT_S`` for it."""
    return cast(WebElement, wait(driver, visible(xpath), what))


def click(driver: WebDriver, xpath: str, what: str) -> None:
    """Click the first displayed match, retrying while React re-renders it (stale, covered)."""
    def clicked(drv: WebDriver) -> bool:
        element = visible(xpath)(drv)
        if not isinstance(element, WebElement):
            return False
        element.click()
        return True
    WebDriverWait(driver, WAIT_S, poll_frequency=0.2, ignored_exceptions=(
        StaleElementReferenceException, ElementClickInterceptedException)).until(
        clicked, f"waited {WAIT_S:.0f} s to click {what} on {driver.current_url}")


def screenshot(driver: WebDriver, folder: Path, name: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace("/", "__")).strip("_")
    path = folder / f"{safe}.png"
    if not driver.save_screenshot(str(path)):
        raise AssertionError(f"screenshot {path} was not written")
    return path


def open_asset_graph(driver: WebDriver, ui: DagsterUI) -> WebElement:
    """Open the global asset graph; return its 'Jump to…' box once the graph is there."""
    driver.get(ui.url("/asset-groups"))
    box = wait_visible(driver, JUMP_BOX, "the asset graph's 'Jump to…' box")
    wait_visible(driver, "//*[local-name()='foreignObject']", "the asset graph's nodes")
    _settle(driver, "//*[text()[contains(., 'fetching statuses')]]")
    return box


def jump_to_asset(driver: WebDriver, box: WebElement, key: str) -> None:
    """In the asset graph, jump to ``key`` by its name, as a person would; check the key."""
    name = key.split("/")[-1]
    box.send_keys(name)
    click(driver, f"//*[@role='menuitem'][normalize-space()={xpath_literal(name)}]",
          f"the 'Jump to' suggestion {name!r}")
    encoded = "/asset-groups/" + quote(key, safe="")
    wait(driver, ec.url_contains(encoded), f"the graph to select {key} ({encoded})")
    wait_visible(driver, f"//*[normalize-space()={xpath_literal(display_name(key))}]",
                 f"the side panel titled {display_name(key)!r}")


def catalog_link(key: str) -> str:
    return f"//a[@href={xpath_literal('/assets/' + key)}]"


def find_in_catalog(driver: WebDriver, ui: DagsterUI, key: str) -> None:
    """Open the catalog and wait for the asset's link, found by key and reading ``a / b``."""
    driver.get(ui.url("/assets"))
    link = wait_visible(driver, catalog_link(key), f"the catalog's link to {key}")
    assert link.text.strip() == display_name(key), f"link to {key} reads {link.text!r}"
    _settle(driver, "//*[starts-with(normalize-space(), 'Refreshing data')]")


def open_from_catalog(driver: WebDriver, key: str) -> None:
    """On the catalog, follow the asset's link to its page."""
    click(driver, catalog_link(key), f"the catalog's link to {key}")
    wait_for_asset_page(driver, key)


def _settle(driver: WebDriver, busy_xpath: str, timeout_s: float = 10.0) -> None:
    """Give a "loading" indicator up to ``timeout_s`` to go (for a fuller screenshot only)."""
    with contextlib.suppress(TimeoutException):
        WebDriverWait(driver, timeout_s, poll_frequency=0.2,
                      ignored_exceptions=(StaleElementReferenceException,)
                      ).until_not(visible(busy_xpath))


EVENTS_TAB = "//a[normalize-space()='Events'][contains(@href, 'view=events')]"
METADATA_TABLE = "//*[normalize-space(text())='Metadata']/following::table[1]"
DIALOG = "//*[@role='dialog']"


def wait_for_asset_page(driver: WebDriver, key: str) -> None:
    """The asset page of ``key`` is shown: its URL, and its tabs (Overview ... Events)."""
    wait(driver, ec.url_contains("/assets/" + key), f"the URL of {key}'s page")
    wait_visible(driver, EVENTS_TAB, f"the 'Events' tab of {key}'s page")


def open_latest_materialization(driver: WebDriver, run_id: str) -> WebElement:
    """On an asset page, open the Events tab; wait until the newest materialization (from
    ``run_id``) is the one shown. Returns the metadata table."""
    click(driver, EVENTS_TAB, "the asset page's 'Events' tab")
    wait_visible(driver, f"//a[starts-with(@href, {xpath_literal('/runs/' + run_id)})]",
                 f"the event of run {run_id[:8]} (the latest materialization)")
    table = wait_visible(driver, METADATA_TABLE, "the event's 'Metadata' table")
    driver.execute_script("arguments[0].scrollIntoView({block: 'nearest'});", table)
    return table


def metadata_label(label: str) -> str:
    """XPath of a label cell in the shown event's metadata table."""
    return f"{METADATA_TABLE}//tr/td[1][normalize-space()={xpath_literal(label)}]"


def open_markdown(driver: WebDriver, label: str) -> WebElement:
    """Click the "[Show Markdown]" of metadata ``label``; return the dialog it opens."""
    link = (f"{metadata_label(label)}/following-sibling::td[1]"
            "//*[contains(text(), 'Show Markdown')]")
    click(driver, link, f"'[Show Markdown]' of metadata {label!r}")
    dialog = wait_visible(driver, DIALOG, f"the dialog of metadata {label!r}")
    # let the fade-in finish (Blueprint's *-enter-active classes), or the screenshot is ghostly
    _settle(driver, "//*[contains(@class, '-enter-active') or contains(@class, '-appear-active')]")
    return dialog


def show_markdown(driver: WebDriver, label: str) -> str:
    """XPath of where metadata ``label``'s Markdown is shown: Dagster renders short Markdown
    inline in the table cell and long Markdown behind "[Show Markdown]" (then: the dialog)."""
    cell = f"{metadata_label(label)}/following-sibling::td[1]"
    wait_visible(driver, cell, f"the value of metadata {label!r}")
    if driver.find_elements(By.XPATH, f"{cell}//*[contains(text(), 'Show Markdown')]"):
        open_markdown(driver, label)
        return DIALOG
    return cell


def wait_for_image(driver: WebDriver, container_xpath: str) -> None:
    """An ``img`` inside the container that has actually loaded (natural width > 0)."""
    script = "return arguments[0].complete && arguments[0].naturalWidth > 0;"

    def loaded(drv: WebDriver) -> bool:
        return any(drv.execute_script(script, img)
                   for img in drv.find_elements(By.XPATH, f"{container_xpath}//img"))
    wait(driver, loaded, "a loaded image in the dialog")


def close_dialog(driver: WebDriver) -> None:
    click(driver, f"{DIALOG}//button[normalize-space()='Close']", "the dialog's 'Close' button")
    wait(driver, lambda drv: not visible(DIALOG)(drv), "the dialog to close")
