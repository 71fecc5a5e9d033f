"""A real Prometheus Pushgateway on 127.0.0.1 for the metrics tests.

CI starts one and exports ``INTRADAY_JULES_TEST_PUSHGATEWAY_URL``; otherwise the fixture starts
Debian's ``prometheus-pushgateway`` on a free port and stops it afterwards. Absent binary: skip,
or fail when ``INTRADAY_JULES_REQUIRE_PUSHGATEWAY=1`` (CI must not silently skip these).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

BINARY = "prometheus-pushgateway"


def _required() -> bool:
    return os.environ.get("INTRADAY_JULES_REQUIRE_PUSHGATEWAY", "") == "1"


def _skip_or_fail(reason: str) -> None:
    if _required():
        pytest.fail(f"INTRADAY_JULES_REQUIRE_PUSHGATEWAY=1 but {reason}")
    pytest.skip(reason)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def pushgateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT``) of a Pushgateway that answers ``/-/ready``."""
    given = os.environ.get("INTRADAY_JULES_TEST_PUSHGATEWAY_URL", "").rstrip("/")
    if given:
        if not _ready(given):
            _skip_or_fail(f"INTRADAY_JULES_TEST_PUSHGATEWAY_URL={given} is not ready")
        yield given
        return
    binary = shutil.which(BINARY)
    if binary is None:
        _skip_or_fail(f"{BINARY} not on PATH (apt-get install prometheus-pushgateway, or set "
                      "INTRADAY_JULES_TEST_PUSHGATEWAY_URL)")
    url = f"http://127.0.0.1:{free_port()}"
    log_path: Path = tmp_path_factory.mktemp("pushgateway") / "pushgateway.log"
    with log_path.open("wb") as log_file:
        # Debian's build persists to /var/lib/prometheus by default: keep ours in memory.
        args = [binary, f"--web.listen-address={url.removeprefix('http://')}",
                "--persistence.file="]
        proc = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 15
            while not _ready(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"{BINARY} did not become ready: {log_path.read_text()[-2000:]}")
                time.sleep(0.05)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
