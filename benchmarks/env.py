"""Dual env steps/s versus a pure NumPy rollout of the same accounting.

Run: ``python -m benchmarks.env``.

Both sides walk the same precomputed arrays (synthetic, seeded) with the same random action
sequence: build the observation, size the orders on bar t's close, fill at bar t+1's open with
slippage and commission, mark at bar t+1's close, compute the reward. The NumPy side is written
plainly (vectorised over the two assets, a loop over steps, since each position depends on the
previous one). The two must end with the same rewards, which shows they do the same work.
Last line: JSON with ``ratio`` = env / numpy (target >= 0.5).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from intraday_jules.env import DualTickerTradingEnv, ExecutionModel, TradingEnvConfig
from intraday_jules.env.data import MarketArrays
from intraday_jules.env.synthetic import synthetic_market_arrays


def env_rollout(env: DualTickerTradingEnv, actions: list[int]) -> np.ndarray:
    """One whole-window episode through the env's public API; returns the rewards."""
    rewards = np.empty(len(actions))
    env.reset(options={"start_index": 0})
    step = env.step
    for k, action in enumerate(actions):
        rewards[k] = step(action)[1]
    return rewards


def numpy_rollout(arrays: MarketArrays, actions: list[int], config: TradingEnvConfig,
                  model: ExecutionModel) -> np.ndarray:
    """The same episode as plain NumPy over the same arrays (the env's limit)."""
    schedule = arrays.decision_schedule(config.lookback, config.flatten_bars_before_close)
    clip, cap, step_size = (config.observation_clip, config.max_position_notional,
                            config.step_notional)
    floor = -cap if config.allow_short else 0.0
    features = np.clip(arrays.features.reshape(arrays.n_bars, -1), -clip, clip)
    slip = float(model.config.slippage_bps) / 1e4
    c = model.config
    per_share, minimum, max_pct, mult = (float(c.commission_per_share), float(c.commission_min),
                                         float(c.commission_max_pct), float(c.cost_multiplier))
    directions = np.array([[a // 3 - 1, a % 3 - 1] for a in range(9)], dtype=np.float64)
    shares = np.zeros(arrays.n_assets)
    cash = value = float(config.initial_cash)
    rewards = np.empty(len(actions))
    last = len(actions) - 1
    for k, action in enumerate(actions):
        t = schedule.bars[k]
        close_t, open_1, close_1 = arrays.close[t], arrays.open[t + 1], arrays.close[t + 1]
        obs = np.concatenate([features[t], np.clip(shares * close_t / cap, -clip, clip)])
        obs = obs.astype(np.float32)  # what the policy would be fed
        if schedule.flatten[k] or k == last:
            quantity = -shares
        else:
            d = directions[action]
            target = np.clip(shares * close_t + d * step_size, floor, cap)
            target_shares = np.trunc(target / close_t)
            target_shares -= np.sign(target_shares) * (np.abs(target_shares) * close_t > cap)
            quantity = np.where(d > 0, np.maximum(target_shares - shares, 0),
                                np.where(d < 0, np.minimum(target_shares - shares, 0), 0))
        price = open_1 * (1 + np.sign(quantity) * slip)
        size = np.abs(quantity)
        fee = np.minimum(np.maximum(size * per_share, minimum), max_pct * size * price) * mult
        cash -= float(quantity @ price + fee[size > 0].sum())
        shares = shares + quantity
        new_value = cash + float(shares @ close_1)
        rewards[k] = (new_value - value) * config.reward_scale
        value = new_value
    return rewards


def _best_rate(fn: object, steps: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return steps / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    arrays = synthetic_market_arrays(n_sessions=args.sessions, seed=args.seed)
    config = TradingEnvConfig(episode_length=None)
    model = ExecutionModel()
    env = DualTickerTradingEnv(arrays, config, model)
    rng = np.random.default_rng(args.seed)
    actions = [int(a) for a in rng.integers(0, 9, size=env.n_decisions)]
    env_rewards = env_rollout(env, actions)
    np_rewards = numpy_rollout(arrays, actions, config, model)
    if not np.allclose(env_rewards, np_rewards, rtol=0, atol=1e-6):
        raise SystemExit("env and numpy rollouts disagree: not the same accounting")
    steps = len(actions)
    env_rate = _best_rate(lambda: env_rollout(env, actions), steps, args.repeats)
    np_rate = _best_rate(lambda: numpy_rollout(arrays, actions, config, model), steps,
                         args.repeats)
    print(f"steps per rollout: {steps}; total reward ${env_rewards.sum():.2f} (both sides)")
    print(f"dual env: {env_rate:,.0f} steps/s; numpy rollout: {np_rate:,.0f} steps/s")
    print(json.dumps({"benchmark": "env", "env_steps_per_s": round(env_rate, 1),
                      "numpy_steps_per_s": round(np_rate, 1),
                      "ratio": round(env_rate / np_rate, 3)}))


if __name__ == "__main__":
    main()
