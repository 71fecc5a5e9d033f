"""The envs' Gymnasium contract: checkers, determinism, pickling, episodes and rewards."""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from intraday_jules.env import (
    BUY,
    HOLD,
    DualTickerTradingEnv,
    SingleTickerTradingEnv,
    TradingEnvConfig,
    WindowTooShortError,
    encode_action,
)
from intraday_jules.env.data import MarketArrays
from intraday_jules.env.portfolio_env import PortfolioTradingEnv
from intraday_jules.env.synthetic import synthetic_market_arrays

ENV_CLASSES = [SingleTickerTradingEnv, DualTickerTradingEnv]


def _rollout(env: PortfolioTradingEnv, actions: list[int], seed: int | None = None,
             options: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """(obs, reward, terminated, truncated, info) of every step, reset output first."""
    obs, info = env.reset(seed=seed, options=options)
    out: list[tuple[Any, ...]] = [(obs, 0.0, False, False, info)]
    for action in actions:
        out.append(env.step(action))
        if out[-1][3]:
            break
    return out


def _assert_same(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> None:
    assert len(a) == len(b)
    for (obs_a, *rest_a), (obs_b, *rest_b) in zip(a, b, strict=True):
        np.testing.assert_array_equal(obs_a, obs_b)
        assert rest_a == rest_b


def _actions(env: PortfolioTradingEnv, n: int, seed: int = 0) -> list[int]:
    return np.random.default_rng(seed).integers(0, env.action_space.n, size=n).tolist()


@pytest.mark.parametrize("env_class", ENV_CLASSES)
def test_passes_gymnasium_and_sb3_env_checkers_without_warnings(
        env_class: type[PortfolioTradingEnv], arrays: MarketArrays) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gym_check_env(env_class(arrays), skip_render_check=True)
        sb3_check_env(env_class(arrays), warn=True)
    assert [str(w.message) for w in caught] == []


def test_spaces_have_the_documented_shapes(arrays: MarketArrays) -> None:
    single, dual = SingleTickerTradingEnv(arrays), DualTickerTradingEnv(arrays)
    assert single.observation_space.shape == (13,)
    assert single.action_space.n == 3
    assert dual.observation_space.shape == (26,)
    assert dual.action_space.n == 9
    assert dual.observation_space.dtype == np.float32


@pytest.mark.parametrize("env_class", ENV_CLASSES)
def test_same_seed_and_actions_give_identical_rollouts(
        env_class: type[PortfolioTradingEnv], arrays: MarketArrays) -> None:
    first, second = env_class(arrays), env_class(arrays)
    actions = _actions(first, 1200)
    _assert_same(_rollout(first, actions, seed=42), _rollout(second, actions, seed=42))


def test_different_seeds_start_at_different_bars(arrays: MarketArrays) -> None:
    env = DualTickerTradingEnv(arrays, TradingEnvConfig(episode_length=20))
    starts = {env.reset(seed=seed)[1]["bar_index"] for seed in range(8)}
    assert len(starts) > 1


@pytest.mark.parametrize("env_class", ENV_CLASSES)
def test_pickled_env_continues_exactly_like_the_original(
        env_class: type[PortfolioTradingEnv], arrays: MarketArrays) -> None:
    env = env_class(arrays)
    env.reset(seed=5)
    for action in _actions(env, 30, seed=1):
        env.step(action)
    clone = pickle.loads(pickle.dumps(env))  # noqa: S301 (our own object)
    actions = _actions(env, 200, seed=2)
    _assert_same([env.step(a) for a in actions], [clone.step(a) for a in actions])


def test_episode_truncates_after_episode_length_and_never_terminates(
        arrays: MarketArrays) -> None:
    env = DualTickerTradingEnv(arrays, TradingEnvConfig(episode_length=25))
    steps = _rollout(env, _actions(env, 100), seed=0)[1:]
    assert len(steps) == 25
    assert [s[3] for s in steps] == [False] * 24 + [True]
    assert not any(s[2] for s in steps)
    assert steps[-1][4]["shares"] == (0, 0)
    assert steps[-1][4]["forced_flatten"]


def test_sequential_episodes_walk_the_data_in_order(arrays: MarketArrays) -> None:
    env = DualTickerTradingEnv(arrays, TradingEnvConfig(episode_length=10, random_start=False))
    firsts = []
    for _ in range(3):
        _, info = env.reset()
        firsts.append(info["bar_index"])
        for _ in range(10):
            env.step(4)
    assert firsts == env.schedule.bars[[0, 10, 20]].tolist()


def test_start_index_option_pins_the_first_decision(arrays: MarketArrays) -> None:
    env = DualTickerTradingEnv(arrays)
    _, info = env.reset(seed=3, options={"start_index": 17})
    assert info["bar_index"] == env.schedule.bars[17]


def test_rewards_sum_to_the_change_in_portfolio_value(arrays: MarketArrays) -> None:
    env = DualTickerTradingEnv(arrays, TradingEnvConfig(episode_length=None))
    steps = _rollout(env, _actions(env, env.n_decisions), options={"start_index": 0})
    total = sum(s[1] for s in steps)
    final = steps[-1][4]
    assert total == pytest.approx(final["portfolio_value"] - env.config.initial_cash, abs=1e-6)
    assert final["cash"] == final["portfolio_value"]  # ends flat
    assert final["total_trades"] == sum(s[4]["trades"] for s in steps)


def test_turnover_penalty_costs_exactly_its_rate_times_traded_notional(
        arrays: MarketArrays) -> None:
    actions = _actions(DualTickerTradingEnv(arrays), 300, seed=4)
    plain = _rollout(DualTickerTradingEnv(arrays), actions, seed=9)
    penalised = _rollout(DualTickerTradingEnv(arrays, TradingEnvConfig(turnover_penalty=0.001)),
                         actions, seed=9)
    for (_, r0, *_, info), (_, r1, *_) in zip(plain[1:], penalised[1:], strict=True):
        assert r1 == pytest.approx(r0 - 0.001 * info["traded_notional"], abs=1e-9)


def test_drawdown_penalty_only_charges_new_drawdown(arrays: MarketArrays) -> None:
    actions = _actions(DualTickerTradingEnv(arrays), 300, seed=4)
    plain = _rollout(DualTickerTradingEnv(arrays), actions, seed=9)
    penalised = _rollout(DualTickerTradingEnv(arrays, TradingEnvConfig(drawdown_penalty=0.5)),
                         actions, seed=9)
    for before, (_, r0, *_, info), (_, r1, *_) in zip(plain, plain[1:], penalised[1:],
                                                      strict=False):
        deeper = max(info["drawdown"] - before[4]["drawdown"], 0.0)
        assert r1 == pytest.approx(r0 - 0.5 * deeper, abs=1e-9)


def test_joint_action_moves_only_the_assets_it_names(arrays: MarketArrays) -> None:
    env = DualTickerTradingEnv(arrays)
    env.reset(seed=0, options={"start_index": 0})
    _, _, _, _, info = env.step(encode_action((BUY, HOLD)))
    assert info["shares"][0] > 0
    assert info["shares"][1] == 0


def test_position_in_the_observation_is_notional_over_the_cap(arrays: MarketArrays) -> None:
    env = SingleTickerTradingEnv(arrays)
    env.reset(seed=0, options={"start_index": 0})
    obs, _, _, _, info = env.step(BUY)
    t = env.schedule.bars[1]
    expected = info["shares"][0] * env.arrays.close[t, 0] / env.config.max_position_notional
    assert obs[12] == pytest.approx(expected, rel=1e-6)
    assert 0.8 < obs[12] <= 1.0


def test_invalid_action_and_stepping_a_finished_episode_are_refused(
        arrays: MarketArrays) -> None:
    env = SingleTickerTradingEnv(arrays, TradingEnvConfig(episode_length=1))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"Discrete\(3\)"):
        env.step(3)
    env.step(HOLD)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(HOLD)


def test_window_shorter_than_the_lookback_is_refused_by_the_env() -> None:
    tiny = synthetic_market_arrays(n_sessions=1, bars_per_session=55)
    with pytest.raises(WindowTooShortError, match="lookback 50"):
        DualTickerTradingEnv(tiny)
