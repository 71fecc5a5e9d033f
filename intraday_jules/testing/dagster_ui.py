"""The Dagster UI as a person sees it: a real ``dagster dev`` and Debian's headless Chromium.

Why a harness: ``dagster dev`` starts five processes and does not reliably exit on a signal
(measured here: once all five still up 30 s after SIGTERM to the group, once gone after 7 s;
still up 60 s after SIGINT), and ``dagster-webserver`` exits on SIGTERM in ~2 s but leaves its
gRPC code server running. So the UI runs in its own process group (its own session) and
stopping it signals the whole group: SIGTERM, a short grace, then SIGKILL of what is left.

Usage (the browser needs the dev extra ``selenium`` and Debian's ``chromium chromium-driver``)::

    with dagster_ui(home, workspace=repo / "workspace.yaml") as ui:
        ui.wait_for_code_locations()     # raises with the error if the location failed
        ui.dismiss_community_dialog()    # else a modal covers the first page of a new home
        with headless_chromium() as driver:
            driver.get(ui.url("/assets"))

``home`` is an ``INTRADAY_JULES_HOME`` (e.g. prepared by ``intraday-jules demo``); the UI reads
its Dagster instance from ``home/dagster``. ``daemon=False`` runs ``dagster-webserver`` alone
(two processes, ready in about half the time): enough to browse assets, runs and metadata,
but schedules, sensors and queued runs do not run. The tests use ``dagster dev``: it is what
``make ui`` runs and what the issue asks for.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Flags that work headless, as root, on a machine with a closed network: without the
# background-networking ones Chromium hammers the firewall and logs refused connections.
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
)
_LOCATIONS_QUERY = """{ workspaceOrError { __typename
  ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message } } } }
  ... on PythonError { message } } }"""

_LATEST_QUERY = """query Latest($path: [String!]!) { assetOrError(assetKey: {path: $path}) {
  __typename ... on Asset { assetMaterializations(limit: 1) { runId partition timestamp } } } }"""


class DagsterUIError(RuntimeError):
    """The UI did not come up (or its code location failed); the message has the log's tail."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium and ChromeDriver exist."""
    absent = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if absent:
        return (f"{' and '.join(absent)} not found: "
                "apt-get install -y chromium chromium-driver")
    return None


@dataclass
class DagsterUI:
    """A running UI: its base URL, process group and log file."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def graphql(self, query: str, variables: dict[str, Any] | None = None,
                timeout_s: float = 10.0) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(self.url("/graphql"), data=body,  # noqa: S310
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout_s) as reply:  # noqa: S310
            payload = json.loads(reply.read())
        if payload.get("errors") or payload.get("data") is None:
            raise DagsterUIError(f"GraphQL errors: {payload.get('errors')}")
        return payload["data"]  # type: ignore[no-any-return]

    def wait_until_serving(self, timeout_s: float = 90.0) -> None:
        """Poll ``/server_info`` until it answers; fail fast if the process dies."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DagsterUIError(f"the Dagster UI exited ({self.process.returncode}) "
                                     f"before serving:\n{self.log_tail()}")
            if _answers(self.url("/server_info")):
                return
            time.sleep(0.25)
        raise DagsterUIError(f"no answer on {self.url('/server_info')} within {timeout_s:.0f} s:"
                             f"\n{self.log_tail()}")

    def dismiss_community_dialog(self) -> None:
        """Mark Dagster's "Join the Dagster community" dialog as seen for this instance.

        The same mutation its Skip button sends; without it the dialog covers every page of a
        fresh DAGSTER_HOME (on localhost) about a second after the first load.
        """
        self.graphql("mutation { setNuxSeen }")

    def latest_materialization(self, key: str) -> dict[str, Any] | None:
        """``{"runId", "partition", "timestamp"}`` of the asset's newest materialization."""
        data = self.graphql(_LATEST_QUERY, {"path": key.split("/")})
        asset = data["assetOrError"]
        if asset["__typename"] != "Asset" or not asset["assetMaterializations"]:
            return None
        return asset["assetMaterializations"][0]  # type: ignore[no-any-return]

    def wait_for_code_locations(self, timeout_s: float = 90.0) -> list[str]:
        """Wait until every code location is loaded; raise with its error if one failed."""
        deadline = time.monotonic() + timeout_s
        entries: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            workspace = self.graphql(_LOCATIONS_QUERY)["workspaceOrError"]
            if workspace["__typename"] != "Workspace":
                raise DagsterUIError(f"workspace failed to load: {workspace.get('message')}")
            entries = workspace["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                failed = [e for e in entries
                          if e["locationOrLoadError"]["__typename"] == "PythonError"]
                if failed:
                    raise DagsterUIError("code location failed to load: " + "; ".join(
                        f"{e['name']}: {e['locationOrLoadError']['message']}" for e in failed))
                return [e["name"] for e in entries]
            time.sleep(0.5)
        raise DagsterUIError(f"code locations not loaded within {timeout_s:.0f} s: {entries}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - loopback http
            return bool(reply.status == 200)
    except OSError:
        return False


def _command(workspace: Path, port: int, daemon: bool) -> list[str]:
    if daemon:
        return [sys.executable, "-m", "dagster", "dev", "-w", str(workspace),
                "-h", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "dagster_webserver", "-w", str(workspace),
            "-h", "127.0.0.1", "-p", str(port)]


def stop_process_group(process: subprocess.Popen[bytes], grace_s: float = 5.0) -> None:
    """SIGTERM the process's whole group, wait ``grace_s``, then SIGKILL what is left."""
    pgid = process.pid  # start_new_session=True: the leader's pid is the group id
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace_s)
    # even when the leader exited, its children may linger in the group
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    process.wait(timeout=30)


@contextlib.contextmanager
def dagster_ui(home: Path, *, workspace: Path, daemon: bool = True, port: int | None = None,
               env: Mapping[str, str] | None = None, log_path: Path | None = None,
               startup_timeout_s: float = 90.0, grace_s: float = 5.0) -> Iterator[DagsterUI]:
    """Run ``dagster dev`` (or the webserver alone) on 127.0.0.1 against ``home``.

    ``env`` is the base environment (default: this process's); ``INTRADAY_JULES_HOME`` and
    ``DAGSTER_HOME`` are set from ``home``. Yields once ``/server_info`` answers; always stops
    the whole process group on exit.
    """
    port = port or free_port()
    log_path = log_path or home / "dagster-ui.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**(os.environ if env is None else env), "INTRADAY_JULES_HOME": str(home),
           "DAGSTER_HOME": str(home / "dagster"), "PYTHONUNBUFFERED": "1"}
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            _command(workspace, port, daemon), cwd=workspace.parent, env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
    ui = DagsterUI(f"http://127.0.0.1:{port}", process, log_path)
    try:
        ui.wait_until_serving(startup_timeout_s)
        yield ui
    finally:
        stop_process_group(process, grace_s)


@contextlib.contextmanager
def headless_chromium(window: tuple[int, int] = (1600, 1000)) -> Iterator[Any]:
    """A Selenium ``webdriver.Chrome`` on Debian's Chromium, with a fresh profile.

    The driver path is given explicitly, so Selenium Manager never runs (nothing downloads).
    """
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    reason = browser_missing()
    if reason:
        raise FileNotFoundError(reason)
    with tempfile.TemporaryDirectory(prefix="ij-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                     f"--window-size={window[0]},{window[1]}"):
            options.add_argument(flag)
        service = Service(executable_path=str(CHROMEDRIVER))
        driver = webdriver.Chrome(service=service, options=options)
        try:
            driver.set_page_load_timeout(60)
            yield driver
        finally:
            driver.quit()
