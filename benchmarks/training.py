"""RecurrentPPO training speed on the dual env: ours versus stock sb3-contrib, same run.

Run: ``python -m benchmarks.training [--quick]``.

1. Stock: ``RecurrentPPO("MlpLstmPolicy", env)`` with sb3-contrib's defaults (1 env,
   n_steps 128, LSTM 256, batch 128, 10 epochs) on ``DualTickerTradingEnv``.
2. Ours: ``TrainingConfig.dual()`` (16 DummyVecEnv envs x 64 steps, batched LSTM passes,
   LSTM 2 x 64, batch 512, 10 epochs): the same algorithm, on the same env and arrays.
3. Our batching at the stock network size (LSTM 256, MLP 64-64), to separate the two
   effects, and DummyVecEnv versus SubprocVecEnv for our config.
4. The full 50,000 + 200,000 run (foundation then transfer) on the recorded NVDA/MSFT bars
   (synthetic bars if the shared data is absent): measured for real when the estimate from
   step 2 fits in 10 minutes, else extrapolated; ``--quick`` always extrapolates. The output
   says which.

Everything runs with ``torch.set_num_threads(1)`` (docs/training.md). Last line: JSON with
``ratio`` = ours / stock steps per second (goal >= 20, issue 14) and ``full_run_s`` (goal
< 60 s).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import torch
from sb3_contrib import RecurrentPPO
from stable_baselines3.common.vec_env import DummyVecEnv

from benchmarks._common import emit_result, synthetic_bars
from intraday_jules.agent import (
    DateWindow,
    TrainingConfig,
    prepare_data,
    split_sessions,
    train_dual,
    train_foundation,
)
from intraday_jules.agent.envs import make_training_env
from intraday_jules.agent.policy import SequenceLstmPolicy
from intraday_jules.agent.training import fast_torch
from intraday_jules.env import DualTickerTradingEnv, MarketArrays
from intraday_jules.env.synthetic import synthetic_market_arrays

SHARED_FILE = (Path(__file__).resolve().parents[2] / "shared" / "data" / "market"
               / "nvda_msft_1min_2025-01-02_2025-02-28.csv")
BUDGET_S = 600.0  # measure the full run for real when the estimate fits this
GOAL_RATIO = 20.0  # issue 14: >= 20x stock sb3-contrib
GOAL_FULL_RUN_S = 60.0  # issue 14: 50K + 200K under 60 s on 2 cores


def stock_fps(arrays: MarketArrays, steps: int) -> float:
    """sb3-contrib defaults, one env: the baseline of the ratio."""
    env = DummyVecEnv([lambda: DualTickerTradingEnv(arrays)])
    model = RecurrentPPO("MlpLstmPolicy", env, seed=0, device="cpu", verbose=0)
    start = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - start)


def ours_fps(arrays: MarketArrays, config: TrainingConfig, n_assets: int) -> float:
    """Our training path (agent/training.py's envs, policy and torch settings)."""
    with fast_torch(config.torch_threads):
        env = make_training_env(arrays.select(arrays.symbols[:n_assets]), n_assets, config)
        model = RecurrentPPO(SequenceLstmPolicy, env,
                             policy_kwargs=config.policy_kwargs(n_assets), verbose=0,
                             **config.ppo_kwargs())
        start = time.perf_counter()
        model.learn(config.total_timesteps)
        fps = model.num_timesteps / (time.perf_counter() - start)
        env.close()
    return fps


def load_bars() -> tuple[pd.DataFrame, str]:
    if SHARED_FILE.is_file():
        from intraday_jules.market_data.replay import read_bars_file

        return read_bars_file(SHARED_FILE), f"recorded bars ({SHARED_FILE.name})"
    bars = synthetic_bars(39 * 390 * 2, start=date(2025, 1, 2)).drop(columns="source")
    return bars, "synthetic bars (shared data absent)"


def full_run(bars: pd.DataFrame) -> tuple[float, float]:
    """Wall seconds of the seed's foundation (50K) and dual (200K) runs, for real."""
    days = sorted(set(bars["ts"].dt.tz_convert("America/New_York").dt.date))
    splits = split_sessions(days)
    data = prepare_data(bars, train_window=DateWindow(splits.train.start, splits.train.end))
    start = time.perf_counter()
    foundation = train_foundation(data, TrainingConfig.foundation())
    middle = time.perf_counter()
    train_dual(data, foundation, TrainingConfig.dual())
    return middle - start, time.perf_counter() - middle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="extrapolate the full run")
    parser.add_argument("--stock-steps", type=int, default=2_048)
    parser.add_argument("--ours-steps", type=int, default=16_384)
    args = parser.parse_args()
    torch.set_num_threads(1)
    arrays = synthetic_market_arrays(n_sessions=20, seed=1)
    stock = stock_fps(arrays, args.stock_steps)
    print(f"stock RecurrentPPO (1 env, n_steps 128, LSTM 256): {stock:,.0f} steps/s")
    dual_config = TrainingConfig.dual(total_timesteps=args.ours_steps)
    ours = ours_fps(arrays, dual_config, 2)
    print(f"ours dual (16 envs x 64 steps, LSTM 2x64, batched): {ours:,.0f} steps/s "
          f"= {ours / stock:.2f}x stock")
    big = ours_fps(arrays, replace(dual_config, total_timesteps=args.ours_steps // 2,
                                   lstm_hidden_size=128, net_arch=(32, 32)), 2)
    print(f"ours batching at the stock network size (LSTM 256, MLP 64-64): {big:,.0f} steps/s "
          f"= {big / stock:.2f}x stock (the batching alone)")
    subproc = ours_fps(arrays, replace(dual_config, total_timesteps=args.ours_steps // 2,
                                       vec_env="subproc"), 2)
    print(f"ours with SubprocVecEnv: {subproc:,.0f} steps/s (DummyVecEnv: {ours:,.0f})")
    foundation = ours_fps(arrays, TrainingConfig.foundation(
        total_timesteps=args.ours_steps // 2), 1)
    estimate = 50_000 / foundation + 200_000 / ours
    print(f"ours foundation: {foundation:,.0f} steps/s; 50K + 200K estimated {estimate:.0f} s")
    result = {"benchmark": "training", "stock_fps": round(stock, 1), "ours_fps": round(ours, 1),
              "ratio": round(ours / stock, 2), "goal_ratio": GOAL_RATIO,
              "ours_stock_size_fps": round(big, 1), "dummy_fps": round(ours, 1),
              "subproc_fps": round(subproc, 1),
              "foundation_fps": round(foundation, 1), "full_run_s": round(estimate, 1),
              "full_run": "extrapolated", "target_full_run_s": GOAL_FULL_RUN_S}
    if not args.quick and estimate < BUDGET_S:
        bars, origin = load_bars()
        found_s, dual_s = full_run(bars)
        print(f"full run MEASURED on {origin}: foundation 50K {found_s:.0f} s + dual 200K "
              f"{dual_s:.0f} s = {found_s + dual_s:.0f} s")
        result.update(full_run_s=round(found_s + dual_s, 1), full_run="measured",
                      foundation_s=round(found_s, 1), dual_s=round(dual_s, 1))
    else:
        print(f"full run EXTRAPOLATED from measured fps: {estimate:.0f} s")
    emit_result(result)


if __name__ == "__main__":
    main()
