"""``python -m intraday_jules.testing.fake_tws --replay-path FILE --port 7497``

Serves the replay file to any TWS API client (ib_async, IB's own ibapi) until interrupted.
Point ``INTRADAY_JULES_IBKR_PORT`` (or your client) at the printed port.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from datetime import datetime

from intraday_jules.testing.fake_tws.server import FakeTws
from intraday_jules.testing.fake_tws.wire import SERVER_VERSION, SUPPORTED_SERVER_VERSIONS


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m intraday_jules.testing.fake_tws",
                                     description="Fake TWS gateway serving recorded bars.")
    parser.add_argument("--replay-path", required=True,
                        help="bars CSV: symbol,ts,open,high,low,close,volume (ts UTC bar start)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7497, help="0 picks a free port")
    parser.add_argument("--server-version", type=int, default=SERVER_VERSION,
                        choices=SUPPORTED_SERVER_VERSIONS)
    parser.add_argument("--live-time", type=datetime.fromisoformat, default=None,
                        help="initial live 'now' (ISO-8601 with offset); default: end of data")
    parser.add_argument("--enforce-pacing", action="store_true",
                        help="answer requests that break IB's pacing rules with error 162")
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    gateway = FakeTws(args.replay_path, host=args.host, port=args.port,
                      server_version=args.server_version, live_time=args.live_time,
                      enforce_pacing=args.enforce_pacing)
    port = await gateway.start()
    print(f"fake TWS (server version {gateway.server_version}) listening on "
          f"{args.host}:{port}; symbols {', '.join(gateway.replay.symbols)}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await gateway.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO)
    args = _parse_args(argv)
    if args.live_time is not None and args.live_time.tzinfo is None:
        raise SystemExit("--live-time needs an explicit UTC offset, e.g. 2025-01-02T15:00:00Z")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
