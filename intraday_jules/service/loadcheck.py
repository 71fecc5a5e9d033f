"""Run the real service in a child process and send it a bounded burst of requests.

Used by the service tests and ``python -m benchmarks.inference``: ``run_service`` starts
``uvicorn intraday_jules.service.app:app`` on 127.0.0.1 (a free port, retried if another
process takes it first) with the given environment and waits for ``GET /health``;
``burst`` sends ``requests`` copies of one request from ``concurrency`` closed-loop clients
(one HTTP connection each) and reports client-side latency percentiles and throughput;
``session_burst`` does the same for the stateful API: each client opens its own session and
sends it a session's bars in order, one request per minute (lean asyncio clients, see
``rawclient``: httpx's own CPU would dominate a ~1 ms answer on the server's machine).
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from intraday_jules.service.rawclient import RawConnection

APP = "intraday_jules.service.app:app"
#: How a session answer that is a decision starts its ``decided`` field (pydantic's JSON).
DECIDED = b'"decided":true'


@dataclass(frozen=True)
class ServiceProcess:
    """A running server: its base URL, process and combined stdout/stderr log file."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def run_service(env: Mapping[str, str], log_path: Path, *, timeout_s: float = 90.0,
                attempts: int = 3, workers: int = 1, host: str = "127.0.0.1",
                access_log: bool = True) -> Iterator[ServiceProcess]:
    """The service in a child process with environment ``env`` (``workers`` > 1: that many
    uvicorn worker processes), bound to ``host`` (reached on 127.0.0.1); stopped on exit.
    ``access_log`` False: uvicorn's ``--no-access-log`` (one log line less per request)."""
    service = None
    for _ in range(attempts):
        service = _start(env, log_path, workers, host, access_log)
        if _wait_healthy(service, timeout_s):
            break
        _stop(service)
        if "address already in use" not in service.log().lower():
            raise RuntimeError(f"the service did not become healthy within {timeout_s} s; "
                               f"its log:\n{service.log()[-4000:]}")
    else:
        raise RuntimeError(f"no free port after {attempts} attempts")
    try:
        yield service
    finally:
        _stop(service)


def service_command(port: int, host: str = "127.0.0.1", workers: int = 1,
                    access_log: bool = True) -> list[str]:
    """The uvicorn CLI command line that serves the module-level app."""
    command = [sys.executable, "-m", "uvicorn", APP, "--host", host, "--port", str(port),
               "--log-level", "info"]
    if workers > 1:
        command += ["--workers", str(workers)]
    if not access_log:
        command.append("--no-access-log")
    return command


def _start(env: Mapping[str, str], log_path: Path, workers: int,
           host: str = "127.0.0.1", access_log: bool = True) -> ServiceProcess:
    port = free_port()
    command = service_command(port, host, workers, access_log)
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(  # noqa: S603  # our own interpreter and module
            command, env=dict(env), stdout=log_file, stderr=subprocess.STDOUT)
    return ServiceProcess(f"http://127.0.0.1:{port}", process, log_path)


def _wait_healthy(service: ServiceProcess, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and service.process.poll() is None:
        try:
            if httpx.get(f"{service.url}/health", timeout=2.0).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    return False


def _stop(service: ServiceProcess) -> None:
    if service.process.poll() is None:
        service.process.terminate()
        try:
            service.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            service.process.kill()
            service.process.wait()


@dataclass(frozen=True)
class BurstResult:
    """Latencies (ms, client side, per request) and status codes of one burst."""

    concurrency: int
    latencies_ms: tuple[float, ...]
    statuses: Mapping[int, int]
    wall_s: float
    decided: int | None = None  # session answers with a decision (``session_burst`` only)

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def succeeded(self) -> int:
        return int(self.statuses.get(200, 0))

    def percentile(self, q: float) -> float:
        return round(float(np.percentile(np.asarray(self.latencies_ms), q)), 2)

    @property
    def rps(self) -> float:
        return round(self.requests / self.wall_s, 1)

    @property
    def decisions_per_s(self) -> float:
        """Answers that are decisions (``decided`` true), per second of the burst."""
        if self.decided is None:
            raise ValueError("not a session burst: decisions were not counted")
        return round(self.decided / self.wall_s, 1)

    def line(self) -> str:
        return (f"{self.requests} requests, concurrency {self.concurrency}: "
                f"p50 {self.percentile(50)} ms, p99 {self.percentile(99)} ms, "
                f"max {max(self.latencies_ms):.2f} ms, {self.rps} req/s, "
                f"statuses {dict(self.statuses)}")

    def to_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "concurrency": self.concurrency,
                "p50_ms": self.percentile(50), "p99_ms": self.percentile(99),
                "max_ms": round(max(self.latencies_ms), 2), "rps": self.rps,
                "statuses": {str(k): v for k, v in self.statuses.items()}}


def burst(url: str, path: str, payload: Any, *, requests: int = 200, concurrency: int = 4,
          timeout_s: float = 60.0, headers: Mapping[str, str] | None = None) -> BurstResult:
    """POST ``payload`` (JSON, encoded once) ``requests`` times from ``concurrency``
    clients, each sending its next request when the previous answer arrives (``headers``:
    extra request headers, e.g. the bearer token)."""
    body = json.dumps(payload).encode()
    sent_headers = {"content-type": "application/json", **(headers or {})}
    shares = [requests // concurrency + (i < requests % concurrency) for i in range(concurrency)]

    def client(n: int) -> list[tuple[float, int]]:
        out = []
        with httpx.Client(base_url=url, timeout=timeout_s) as session:
            for _ in range(n):
                started = time.perf_counter()
                response = session.post(path, content=body, headers=sent_headers)
                out.append(((time.perf_counter() - started) * 1000.0, response.status_code))
        return out

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = [r for part in pool.map(client, shares) for r in part]
    wall = time.perf_counter() - started
    return BurstResult(concurrency, tuple(r[0] for r in results),
                       Counter(r[1] for r in results), wall)


def session_burst(url: str, opening: Mapping[str, Any], minutes: list[list[dict[str, Any]]],
                  *, concurrency: int = 8, timeout_s: float = 60.0,
                  headers: Mapping[str, str] | None = None) -> BurstResult:
    """``concurrency`` clients each open a session (``POST /sessions`` with ``opening``),
    then, all together, send it ``minutes`` in order (one ``POST /sessions/{id}/bars`` per
    item, the next when the answer arrives), then delete it. Latency and wall time cover
    the bars requests only. The clients are ``rawclient`` connections in one event loop
    (its docstring says why not httpx)."""
    return asyncio.run(asyncio.wait_for(
        _session_burst(url, opening, minutes, concurrency, headers), timeout_s * len(minutes)))


async def _session_burst(url: str, opening: Mapping[str, Any],
                         minutes: list[list[dict[str, Any]]], concurrency: int,
                         headers: Mapping[str, str] | None) -> BurstResult:
    bodies = [json.dumps({"bars": bars}).encode() for bars in minutes]
    connections = [await RawConnection(url, headers).open() for _ in range(concurrency)]
    opened = [await c.call("POST", "/sessions", dict(opening)) for c in connections]
    refused = [r.status for r in opened if r.status != 201]
    if refused:
        for connection in connections:
            await connection.close()
        return BurstResult(concurrency, (0.0,) * len(refused), Counter(refused), 0.0)

    async def client(connection: RawConnection, session_id: str
                     ) -> list[tuple[float, int, bool]]:
        path = f"/sessions/{session_id}/bars"
        requests = [connection.request_bytes("POST", path, body) for body in bodies]
        out = []
        for request in requests:
            began = time.perf_counter()
            response = await connection.send(request)
            out.append(((time.perf_counter() - began) * 1000.0, response.status,
                        DECIDED in response.body))
        return out

    started = time.perf_counter()
    parts = await asyncio.gather(*[client(c, r.json()["id"])
                                   for c, r in zip(connections, opened, strict=True)])
    wall = time.perf_counter() - started
    for connection, response in zip(connections, opened, strict=True):
        await connection.call("DELETE", f"/sessions/{response.json()['id']}")
        await connection.close()
    results = [r for part in parts for r in part]
    return BurstResult(concurrency, tuple(r[0] for r in results),
                       Counter(r[1] for r in results), wall, sum(r[2] for r in results))
