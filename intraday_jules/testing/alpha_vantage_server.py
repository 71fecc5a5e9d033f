"""A loopback Alpha Vantage: TIME_SERIES_INTRADAY from replay bars, plus scripted faults.

Why: our tests (and users') cannot reach the vendor, and the vendor's interesting behaviour is
in its answers: HTTP 200 with an error body, throttle texts, a key echoed back. This server
speaks the real format over a real socket so the real HTTP client is exercised.

- Data: bars (a bars frame, or a replay CSV/Parquet like ``shared/data/market``) rendered as the
  vendor does: US/Eastern wall-clock keys, newest first, values as strings, ``Meta Data``;
  ``month=YYYY-MM`` selects the month, ``extended_hours=false`` keeps 09:30-16:00 ET.
  ``label="end"`` renders END-labelled keys (as the vendor did before), to test detection.
- Script (``Reply`` values): ``push`` (next requests, in order), ``reply_for_symbol``,
  ``rate_limit_after(n, reply)``; replies can be slow, truncated, cut off mid-body or HTTP 5xx.
  A reply whose body contains ``REDACTED_KEY`` gets the caller's key in its place, as the
  vendor's "We have detected your API key as ..." answer does.
- ``requests`` records every call with the apikey masked; nothing logged shows the key.

Standalone: ``python -m intraday_jules.testing.alpha_vantage_server --replay-path FILE``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pandas as pd

from intraday_jules.domain.calendar import NEW_YORK, session_window

log = logging.getLogger(__name__)

KEY_PLACEHOLDER = b"REDACTED_KEY"
INVALID_CALL = ("Invalid API call. Please retry or visit the documentation "
                "(https://www.alphavantage.co/documentation/) for TIME_SERIES_INTRADAY.")
INVALID_KEY = ("the parameter apikey is invalid or missing. Please claim your free API key on "
               "(https://www.alphavantage.co/support/#api-key). It should take less than 20 "
               "seconds.")


@dataclass(frozen=True)
class Reply:
    """One scripted HTTP answer.

    ``delay_s`` sleeps before answering; ``declared_length`` claims a longer Content-Length than
    the body sent and closes the connection (a transfer cut off mid-body).
    """

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    delay_s: float = 0.0
    declared_length: int | None = None

    @classmethod
    def json(cls, obj: Any, **kwargs: Any) -> Reply:
        return cls(json.dumps(obj, indent=4).encode(), **kwargs)

    @classmethod
    def file(cls, path: Path, **kwargs: Any) -> Reply:
        """A recorded fixture, byte for byte (CSV served as the vendor's text/csv)."""
        kind = "text/csv" if path.suffix == ".csv" else "application/json"
        return cls(path.read_bytes(), content_type=kind, **kwargs)

    @classmethod
    def http_error(cls, status: int = 500, text: str = "Internal Server Error") -> Reply:
        return cls(f"<html><body>{text}</body></html>".encode(), status=status,
                   content_type="text/html")

    def slow(self, delay_s: float) -> Reply:
        return replace(self, delay_s=delay_s)

    def truncated(self, keep: int) -> Reply:
        """A complete HTTP answer whose JSON body stops after ``keep`` bytes."""
        return replace(self, body=self.body[:keep])

    def cut_off(self, keep: int) -> Reply:
        """Declares the full length, sends ``keep`` bytes, closes the connection."""
        return replace(self, body=self.body[:keep], declared_length=len(self.body))


@dataclass(frozen=True)
class RecordedRequest:
    """A request as received, apikey masked."""

    path: str
    params: dict[str, str]


def render_intraday(bars: pd.DataFrame, symbol: str, month: str, *, extended_hours: bool,
                    label: str = "start") -> dict[str, Any] | None:
    """The vendor's TIME_SERIES_INTRADAY JSON (1min) for one month; None if no bars."""
    rows = bars[bars["symbol"] == symbol]
    local = rows["ts"].dt.tz_convert(NEW_YORK)
    in_month = local.dt.strftime("%Y-%m") == month
    rows, local = rows[in_month], local[in_month]
    if not extended_hours:
        keep = _regular_mask(rows["ts"], local)
        rows, local = rows[keep], local[keep]
    if rows.empty:
        return None
    if label == "end":
        local = local + pd.Timedelta(minutes=1)
    keys = local.dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    prices = {c: rows[c].map("{:.4f}".format).to_numpy() for c in ("open", "high", "low", "close")}
    volume = rows["volume"].astype("int64").astype(str).to_numpy()
    series = {}
    for i in reversed(range(len(keys))):  # newest first, as the vendor sends
        series[keys[i]] = {"1. open": prices["open"][i], "2. high": prices["high"][i],
                           "3. low": prices["low"][i], "4. close": prices["close"][i],
                           "5. volume": volume[i]}
    meta = {"1. Information": "Intraday (1min) open, high, low, close prices and volume",
            "2. Symbol": symbol, "3. Last Refreshed": keys[-1], "4. Interval": "1min",
            "5. Output Size": "Full size", "6. Time Zone": "US/Eastern"}
    return {"Meta Data": meta, "Time Series (1min)": series}


def _regular_mask(ts: pd.Series, local: pd.Series) -> pd.Series:
    keep = pd.Series(False, index=ts.index)
    for day in sorted(set(local.dt.date)):
        try:
            window = session_window(day)
        except ValueError:  # not a session: no regular hours
            continue
        keep |= (ts >= window.open) & (ts < window.close)
    return keep


class AlphaVantageServer:
    """The loopback server; ``start()`` (or ``with``) runs it on a thread, port 0 by default.

    ``api_key``: if given, other keys get the vendor's invalid-key answer. ``bars``: the bars
    frame to serve (``from_replay_file`` reads one).
    """

    def __init__(self, bars: pd.DataFrame | None = None, *, api_key: str | None = None,
                 label: str = "start", host: str = "127.0.0.1", port: int = 0) -> None:
        self.bars = bars if bars is not None else pd.DataFrame(
            {"symbol": [], "ts": pd.Series([], dtype="datetime64[us, UTC]")})
        self.api_key = api_key
        self.label = label
        self._address = (host, port)
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._queue: deque[Reply] = deque()
        self._by_symbol: dict[str, Reply] = {}
        self._limit: tuple[int, Reply] | None = None
        self._served = 0
        self._rendered: dict[tuple[str, str, bool], Reply] = {}
        self._httpd: ThreadingHTTPServer | None = None

    @classmethod
    def from_replay_file(cls, path: Path, **kwargs: Any) -> AlphaVantageServer:
        from intraday_jules.market_data.replay import read_bars_file

        return cls(read_bars_file(path), **kwargs)

    # --- lifecycle ---
    def start(self) -> AlphaVantageServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _QuietServer(self._address, handler)
        # A short poll so stop() returns in milliseconds (the default waits up to 0.5 s).
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                         name="alpha-vantage-fake", daemon=True).start()
        log.info("fake Alpha Vantage listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> AlphaVantageServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/query"

    # --- script ---
    def push(self, *replies: Reply) -> None:
        """The next requests (any symbol) get these replies, in order."""
        with self._lock:
            self._queue.extend(replies)

    def reply_for_symbol(self, symbol: str, reply: Reply) -> None:
        """Every request for ``symbol`` gets ``reply`` (e.g. the invalid-call body)."""
        with self._lock:
            self._by_symbol[symbol] = reply

    def rate_limit_after(self, calls: int, reply: Reply) -> None:
        """After ``calls`` more requests, every request gets ``reply`` (a throttle body)."""
        with self._lock:
            self._limit = (self._served + calls, reply)

    def clear_script(self) -> None:
        with self._lock:
            self._queue.clear()
            self._by_symbol.clear()
            self._limit = None

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    # --- answering ---
    def answer(self, path: str, params: dict[str, str]) -> Reply:
        """Record the request and choose its reply (script first, then data)."""
        shown = {k: ("***" if k == "apikey" else v) for k, v in params.items()}
        with self._lock:
            self._requests.append(RecordedRequest(path, shown))
            self._served += 1
            scripted = self._scripted(params.get("symbol", ""))
        if scripted is not None:
            return replace(scripted, body=scripted.body.replace(
                KEY_PLACEHOLDER, params.get("apikey", "").encode()))
        if path != "/query":
            return Reply(b"Not Found", status=404, content_type="text/plain")
        if not params.get("apikey") or (self.api_key and params["apikey"] != self.api_key):
            return Reply.json({"Error Message": INVALID_KEY})
        return self._data(params)

    def _scripted(self, symbol: str) -> Reply | None:
        if self._queue:
            return self._queue.popleft()
        if symbol in self._by_symbol:
            return self._by_symbol[symbol]
        if self._limit is not None and self._served > self._limit[0]:
            return self._limit[1]
        return None

    def _data(self, params: dict[str, str]) -> Reply:
        if params.get("function") != "TIME_SERIES_INTRADAY" or params.get("interval") != "1min":
            return Reply.json({"Error Message": INVALID_CALL})
        symbol = params.get("symbol", "")
        month = params.get("month") or self._latest_month(symbol)
        extended = params.get("extended_hours", "true").lower() != "false"
        key = (symbol, month or "", extended)
        if key not in self._rendered:  # bars never change: render each month once
            body = render_intraday(self.bars, symbol, month or "", extended_hours=extended,
                                   label=self.label) if month else None
            self._rendered[key] = Reply.json(body or {"Error Message": INVALID_CALL})
        return self._rendered[key]

    def _latest_month(self, symbol: str) -> str | None:
        rows = self.bars[self.bars["symbol"] == symbol]
        return None if rows.empty else rows["ts"].max().tz_convert(NEW_YORK).strftime("%Y-%m")


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or drop mid-reply are part of the scripts; no stderr traceback.
        log.debug("fake Alpha Vantage: client %s went away", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    fake: AlphaVantageServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # http.server's naming
        parts = urlsplit(self.path)
        reply = self.fake.answer(parts.path, dict(parse_qsl(parts.query)))
        if reply.delay_s:
            time.sleep(reply.delay_s)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(reply.declared_length or len(reply.body)))
        if reply.declared_length is not None:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)
        if reply.declared_length is not None:
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # stdlib signature
        from intraday_jules.secrets import redact

        log.debug("fake Alpha Vantage: %s", redact(format % args))


def main(argv: list[str] | None = None) -> None:
    """Serve a replay file until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replay-path", type=Path, required=True, help="bars CSV or Parquet")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--api-key", default=None, help="accept only this key (default: any)")
    parser.add_argument("--label", choices=("start", "end"), default="start")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = AlphaVantageServer.from_replay_file(args.replay_path, api_key=args.api_key,
                                                 label=args.label, host=args.host, port=args.port)
    with server:
        print(f"fake Alpha Vantage on {server.base_url} "
              f"(INTRADAY_JULES_AV_BASE_URL={server.base_url}); Ctrl-C stops", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
