"""Inference service latency: ``POST /predict`` (stateless) and the session API (stateful)
against the real server.

    python -m benchmarks.inference [--requests 200] [--concurrency 4] [--minutes 120]
                                   [--input bars|observations] [--workers 1]
                                   [--session-concurrency 8] [--no-access-log]

Builds a dual model at the production network size (``TrainingConfig.dual()``: LSTM 2 x 64;
untrained weights, since inference cost does not depend on training) normalised on two
recorded sessions (simulated bars when ``../shared`` is absent), saves it in a temporary
``ModelStore`` (SQLite) and records it promoted, then starts ``uvicorn
intraday_jules.service.app:app`` on 127.0.0.1 in a child process, configured by environment
variables only, exactly as ``make serve`` runs it. After a warm-up it sends one request
``--requests`` times from ``--concurrency`` closed-loop clients: the regular-hours bars of
session 2025-02-20 up to its ``--minutes``-th minute (what a trading client sends at that
bar's close; the server replays ``minutes - 50`` decision bars through the LSTM), or as many
26-dim observations. A sequential run (one client) gives the unloaded latency.

Stateful: ``--session-concurrency`` clients (default 8) each open a session of 2025-02-20
(``POST /sessions``) and send it the session's regular-hours bars one minute per request
(``POST /sessions/{id}/bars``, both symbols' bars of that minute), in order, each as soon
as the previous answer arrives: every answer is the decision (or no-decision) on the newest
bar, computed incrementally. ``stateful_decisions_per_s`` counts the answers that are
decisions (not the warm-up's or the post-flatten minutes' no-decisions) per second;
``stateful_answers_per_s`` all answers.
One client through the whole session first gives the unloaded per-bar latency. The session
clients are lean asyncio connections in one thread (``service.rawclient``: httpx's own CPU,
~0.8 ms a request, would otherwise dominate a ~1 ms answer on a machine shared with the
server); the stateless burst keeps httpx, as before. "One new bar per request" is one new
minute: each request carries that minute's bar of each symbol (NVDA and MSFT), the smallest
request after which a decision is due.

``--no-access-log`` starts uvicorn with ``--no-access-log`` (``make serve`` keeps uvicorn's
access log: one formatted, redacted log line per request, ~0.1 ms of the server's CPU).

Latency is client-side (request sent -> answer read), on the same machine as the server.
Last line: {"benchmark": "inference", "requests", "p50_ms", "p99_ms", "rps", ...,
"stateful_p50_ms", "stateful_p99_ms", "stateful_decisions_per_s", ...}.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks._common import emit_result
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.market_data.simulated import SimulatedSource
from intraday_jules.market_data.source import BarRequest, BarSource
from intraday_jules.service.loadcheck import BurstResult, burst, run_service, session_burst

RECORDED = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "market"
            / "nvda_msft_1min_2025-01-02_2025-02-28.csv")
TRAIN_SESSIONS = (date(2025, 1, 28), date(2025, 1, 29))  # normalisation window
SESSION = date(2025, 2, 20)
SYMBOLS = DEFAULT_SYMBOLS
MODEL_ID = "benchmark-dual"


def bar_source() -> BarSource:
    return ReplaySource(RECORDED) if RECORDED.is_file() else SimulatedSource(seed=7)


def session_bars(source: BarSource, day: date) -> pd.DataFrame:
    bars = pd.concat([source.fetch_session(BarRequest(s, day)) for s in SYMBOLS])
    return bars.drop(columns=["source"]).sort_values(["ts", "symbol"]).reset_index(drop=True)


def promote_untrained_dual(source: BarSource, home: Path) -> None:
    """A production-size dual RecurrentPPO, saved in ``home``'s registry and promoted."""
    import torch
    from sb3_contrib import RecurrentPPO

    from intraday_jules.agent import DateWindow, ModelBundle, ModelStore, TrainingConfig
    from intraday_jules.agent.data import prepare_data
    from intraday_jules.agent.envs import make_training_env
    from intraday_jules.agent.policy import SequenceLstmPolicy
    from intraday_jules.db.engine import create_db_engine

    torch.set_num_threads(1)
    bars = pd.concat([session_bars(source, d) for d in TRAIN_SESSIONS])
    config = TrainingConfig.dual(n_envs=1, seed=0)
    window = DateWindow.of(list(TRAIN_SESSIONS))
    data = prepare_data(bars, train_window=window)
    env = make_training_env(data.window(window), len(SYMBOLS), config)
    model = RecurrentPPO(SequenceLstmPolicy, env, policy_kwargs=config.policy_kwargs(2),
                         verbose=0, **config.ppo_kwargs())
    bundle = ModelBundle(model, "dual", SYMBOLS, data.spec, data.normalizers, config, window,
                         data.data_hashes)
    store = ModelStore(home / "models", create_db_engine(database_url(home)))
    store.save(bundle, model_id=MODEL_ID)
    store.record_decision(MODEL_ID, "promoted", "benchmark: promoted directly")
    store.engine.dispose()


def database_url(home: Path) -> str:
    return f"sqlite:///{home / 'intraday_jules.db'}"


def request_body(source: BarSource, kind: str, minutes: int) -> dict[str, Any]:
    bars = session_bars(source, SESSION)
    stamps = sorted(bars["ts"].unique())[:minutes]
    if kind == "observations":
        rows = np.random.default_rng(0).normal(size=(max(minutes - 50, 1), 26))
        return {"observations": rows.astype(np.float32).tolist()}
    return {"bars": [{"symbol": r.symbol, "ts": r.ts.isoformat(), "open": float(r.open),
                      "high": float(r.high), "low": float(r.low), "close": float(r.close),
                      "volume": int(r.volume)}
                     for r in bars[bars["ts"].isin(stamps)].itertuples(index=False)]}


def minute_requests(source: BarSource) -> list[list[dict[str, Any]]]:
    """The session's regular-hours bars grouped by minute, in order, as request bodies."""
    bars = session_bars(source, SESSION)
    return [[{"symbol": r.symbol, "ts": r.ts.isoformat(), "open": float(r.open),
              "high": float(r.high), "low": float(r.low), "close": float(r.close),
              "volume": int(r.volume)} for r in minute.itertuples(index=False)]
            for _, minute in bars.groupby("ts", sort=True)]


def stateful(url: str, source: BarSource, concurrency: int) -> tuple[BurstResult, BurstResult]:
    """One client through the whole session (unloaded latency), then ``concurrency``."""
    minutes = minute_requests(source)
    opening = {"session": SESSION.isoformat()}
    sequential = session_burst(url, opening, minutes, concurrency=1)
    if set(sequential.statuses) != {200}:
        raise SystemExit(f"stateful run failed: {dict(sequential.statuses)}")
    print(f"stateful sequential: {sequential.line()}", flush=True)
    result = session_burst(url, opening, minutes, concurrency=concurrency)
    print(f"stateful: {result.line()}, {result.decided} decisions "
          f"({result.decisions_per_s}/s)", flush=True)
    return sequential, result


def service_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTRADAY_JULES_")}
    env.update({"INTRADAY_JULES_HOME": str(home), "INTRADAY_JULES_DATABASE_URL":
                database_url(home), "INTRADAY_JULES_LOG_LEVEL": "WARNING",
                "OMP_NUM_THREADS": "1"})
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--minutes", type=int, default=120,
                        help="regular-hours minutes of the session sent (decisions from 51)")
    parser.add_argument("--input", choices=("bars", "observations"), default="bars")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--session-concurrency", type=int, default=8,
                        help="concurrent sessions of the stateful run (one client each)")
    parser.add_argument("--no-access-log", action="store_true",
                        help="serve without uvicorn's access log (--no-access-log)")
    args = parser.parse_args()
    source = bar_source()
    body = request_body(source, args.input, args.minutes)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        promote_untrained_dual(source, home)
        with run_service(service_env(home), home / "service.log",
                         workers=args.workers, access_log=not args.no_access_log) as service:
            warm = burst(service.url, "/predict", body, requests=5, concurrency=1)
            if warm.statuses != {200: 5}:
                raise SystemExit(f"warm-up failed: {dict(warm.statuses)}\n{service.log()}")
            sequential = burst(service.url, "/predict", body, requests=50, concurrency=1)
            print(f"sequential: {sequential.line()}", flush=True)
            loaded = burst(service.url, "/predict", body, requests=args.requests,
                           concurrency=args.concurrency)
            print(f"burst: {loaded.line()}", flush=True)
            one_session, sessions = stateful(service.url, source, args.session_concurrency)
    emit_result({"benchmark": "inference", "requests": loaded.requests,
                 "p50_ms": loaded.percentile(50), "p99_ms": loaded.percentile(99),
                 "rps": loaded.rps, "concurrency": args.concurrency, "workers": args.workers,
                 "succeeded": loaded.succeeded, "input": args.input,
                 "minutes": args.minutes, "decision_bars": max(args.minutes - 50, 0),
                 "sequential_p50_ms": sequential.percentile(50),
                 "sequential_p99_ms": sequential.percentile(99), "source": source.name,
                 "cpus": os.cpu_count(), "stateful_p50_ms": sessions.percentile(50),
                 "stateful_p99_ms": sessions.percentile(99),
                 "stateful_decisions_per_s": sessions.decisions_per_s,
                 "stateful_answers_per_s": sessions.rps,
                 "stateful_decided": sessions.decided,
                 "stateful_requests": sessions.requests, "stateful_succeeded": sessions.succeeded,
                 "stateful_concurrency": args.session_concurrency,
                 "stateful_sequential_p50_ms": one_session.percentile(50),
                 "stateful_sequential_p99_ms": one_session.percentile(99),
                 "access_log": not args.no_access_log,
                 "load_avg_1m": round(os.getloadavg()[0], 2)})


if __name__ == "__main__":
    main()
