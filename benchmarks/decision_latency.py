"""Decision latency of the live trading loop: bar close -> orders handed to the broker.

Run: ``python -m benchmarks.decision_latency [--sessions 2] [--policies random,lstm]
[--bars CSV]``.

Replays recorded sessions (``../shared/data/market``; simulated ones when absent) through
``run_session`` exactly as the job runs it: bar store, features (streamed: each bar stepped
once), policy, risk engine, ledger (SQLite file), simulated broker with its fsync'ed journal,
metrics. Latency is measured on the
loop's own clock (a ``ReplayClock``: the time since the minute's last bar was delivered).

Risk limits are set high enough that no session halts, so every decision minute of every
session takes the full path (orders sent most minutes): the heaviest realistic load.

Policies: ``random`` (the loop's own cost) and ``lstm``: a freshly initialised (untrained) dual
RecurrentPPO behind the agent's ``LivePolicy``, i.e. the real inference path of the promoted
model. The top-level figures are the LSTM run's when it ran (the real cost), else the random
run's. Last line: JSON (targets: p99 < 5 ms, peak RSS < 1.5 GB). No fsync is on the measured
path: the journal's lines reach the kernel before the broker answers and the disk at the loop's
housekeeping after the minute's orders; the ledger commits in SQLite WAL mode
(``synchronous=NORMAL``) and checkpoints after the minute's orders (docs/risk_and_ledger.md,
"What is durable when"). The span is the loop's own (``SessionResult.latencies_ms``),
unchanged: from the minute's first bar delivered (the clock jumps to its close) to its last
order handed to the broker.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import emit_result
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.market_data.simulated import SimulatedSource
from intraday_jules.market_data.source import BarSource
from intraday_jules.risk import RiskLimits
from intraday_jules.trading import Collaborators, Policy, SessionConfig, build_replay_session

RECORDED = (Path(__file__).resolve().parents[1].parent / "shared" / "data" / "market"
            / "nvda_msft_1min_2025-01-02_2025-02-28.csv")
SESSIONS = (date(2025, 2, 3), date(2025, 2, 4), date(2025, 2, 5), date(2025, 2, 6),
            date(2025, 2, 7))
TRAIN_SESSIONS = (date(2025, 1, 28), date(2025, 1, 29))  # normalisation window of the LSTM
TARGET_P99_MS, TARGET_RSS_MB = 5.0, 1536.0
NEVER_HALT = RiskLimits(daily_loss_limit_usd=Decimal(10**6), drawdown_limit_usd=Decimal(10**6))


def bar_source(recorded: Path = RECORDED) -> BarSource:
    return ReplaySource(recorded) if recorded.is_file() else SimulatedSource(seed=7)


def untrained_lstm(source: BarSource) -> Policy:
    """The promoted-model path with fresh weights: LivePolicy over an untrained dual model."""
    import pandas as pd
    import torch
    from sb3_contrib import RecurrentPPO

    from intraday_jules.agent import DateWindow, LivePolicy, ModelBundle, TrainingConfig
    from intraday_jules.agent.data import prepare_data
    from intraday_jules.agent.envs import make_training_env
    from intraday_jules.agent.policy import SequenceLstmPolicy
    from intraday_jules.market_data.source import BarRequest
    from intraday_jules.trading.promoted import PromotedPolicy

    torch.set_num_threads(1)
    bars = pd.concat([source.fetch_session(BarRequest(s, d)) for d in TRAIN_SESSIONS
                      for s in DEFAULT_SYMBOLS]).drop(columns=["source"])
    config = TrainingConfig.dual(n_envs=1, seed=0)
    window = DateWindow.of(list(TRAIN_SESSIONS))
    data = prepare_data(bars, train_window=window)
    env = make_training_env(data.window(window), 2, config)
    model = RecurrentPPO(SequenceLstmPolicy, env, policy_kwargs=config.policy_kwargs(2),
                         verbose=0, **config.ppo_kwargs())
    bundle = ModelBundle(model, "dual", DEFAULT_SYMBOLS, data.spec, data.normalizers,
                         config, window, data.data_hashes)
    return PromotedPolicy(LivePolicy(bundle, seed=0), name="lstm-untrained")


def run_policy(name: str, sessions: list[date], source: BarSource, folder: Path
               ) -> dict[str, Any]:
    """Replay ``sessions`` (consecutive days, one database) with policy ``name``."""
    url = f"sqlite:///{folder / f'{name}.db'}"
    latencies: list[float] = []
    minutes, wall = 0, 0.0
    for day in sessions:
        policy: Policy | str = untrained_lstm(source) if name == "lstm" else "random"
        session = build_replay_session(SessionConfig(day), database_url=url, source=source,
                                       policy=policy, seed=1, limits=NEVER_HALT,
                                       broker_journal=folder / f"{name}.jsonl",
                                       extras=Collaborators(report=False))
        started = time.perf_counter()
        result = session.run()
        wall += time.perf_counter() - started
        latencies += result.latencies_ms
        minutes += result.decisions  # one decision row per complete minute
        print(f"{name} {day}: {result.summary_line()}", flush=True)
    values = np.asarray(latencies)
    return {"policy": name, "sessions": len(sessions), "minutes": minutes,
            "decisions": int(values.size),
            "p50_ms": round(float(np.percentile(values, 50)), 2),
            "p99_ms": round(float(np.percentile(values, 99)), 2),
            "max_ms": round(float(values.max()), 2),
            "minutes_per_s": round(minutes / wall, 1),
            "bars_per_s": round(minutes * 2 / wall, 1)}  # two symbols per minute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2, choices=range(1, len(SESSIONS) + 1))
    parser.add_argument("--policies", default="random,lstm",
                        help="comma-separated: random, lstm (untrained LivePolicy)")
    parser.add_argument("--bars", type=Path, default=RECORDED,
                        help="recorded 1-minute bars (CSV; simulated bars when absent)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    source = bar_source(args.bars)
    sessions = list(SESSIONS[:args.sessions])
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in [p.strip() for p in args.policies.split(",") if p.strip()]:
            try:
                runs[name] = run_policy(name, sessions, source, Path(tmp))
            except ImportError as exc:  # the agent stack (torch, sb3) is not installed
                print(f"{name}: skipped ({exc})", flush=True)
    headline = runs.get("lstm") or runs["random"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit_result({"benchmark": "decision_latency", "p50_ms": headline["p50_ms"],
                 "p99_ms": headline["p99_ms"], "bars_per_s": headline["bars_per_s"],
                 "peak_rss_mb": round(peak_mb, 1), "headline_policy": headline["policy"],
                 "source": source.name, "runs": runs,
                 "targets": {"p99_ms": TARGET_P99_MS, "peak_rss_mb": TARGET_RSS_MB},
                 "meets_targets": headline["p99_ms"] < TARGET_P99_MS
                 and peak_mb < TARGET_RSS_MB})


if __name__ == "__main__":
    main()
