"""The reward choices (``TradingEnvConfig.reward``): "pnl" (today's), "penalised" and "dsr"."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from intraday_jules.env import DualTickerTradingEnv, TradingEnvConfig
from intraday_jules.env.data import MarketArrays
from intraday_jules.env.rewards import DifferentialSharpe

WALK = TradingEnvConfig(episode_length=None, random_start=False)


def _rollout(env: DualTickerTradingEnv, seed: int = 0) -> tuple[list[float], list[float]]:
    """(rewards, portfolio values incl. the initial one) of seeded random actions."""
    rng = np.random.default_rng(seed)
    _, info = env.reset(options={"start_index": 0})
    rewards, values = [], [info["portfolio_value"]]
    done = False
    while not done:
        _, reward, terminated, truncated, info = env.step(int(rng.integers(9)))
        rewards.append(reward)
        values.append(info["portfolio_value"])
        done = terminated or truncated
    return rewards, values


def test_differential_sharpe_matches_a_hand_computed_sequence() -> None:
    dsr = DifferentialSharpe(eta=0.1)
    # step 1: A = B = 0, no variance yet -> 0; then A = 0.001, B = 0.00001
    assert dsr.step(0.01) == 0.0
    assert (dsr.first_moment, dsr.second_moment) == pytest.approx((0.001, 0.00001))
    # step 2: var = 1e-5 - 1e-6 = 9e-6; dA = -0.021; dB = 0.0004 - 0.00001 = 0.00039
    # D = (1e-5 x -0.021 - 0.5 x 0.001 x 0.00039) / (9e-6)^1.5 = -4.05e-7 / 2.7e-8 = -15
    assert dsr.step(-0.02) == pytest.approx(-15.0, rel=1e-9)
    assert (dsr.first_moment, dsr.second_moment) == pytest.approx((-0.0011, 0.000049))
    # step 3: var = 4.9e-5 - 1.21e-6 = 4.779e-5; dA = 0.0311; dB = 0.0009 - 0.000049
    # D = (4.9e-5 x 0.0311 + 0.5 x 0.0011 x 0.000851) / 4.779e-5^1.5 = 1.99195e-6 / ...
    assert dsr.step(0.03) == pytest.approx(1.99195e-6 / 4.779e-5 ** 1.5, rel=1e-9)
    assert dsr.step(0.03) > 0  # another good return still raises the Sharpe ratio
    dsr.reset()
    assert dsr.step(0.05) == 0.0


def test_differential_sharpe_is_invariant_to_the_scale_of_the_returns() -> None:
    returns = np.random.default_rng(1).normal(0, 1e-3, 50)
    small, large = DifferentialSharpe(0.05), DifferentialSharpe(0.05)
    for r in returns:
        assert small.step(float(r)) == pytest.approx(large.step(float(r) * 100), rel=1e-6)


def test_dsr_env_pays_the_differential_sharpe_of_the_books_returns(
        arrays: MarketArrays) -> None:
    rewards, values = _rollout(DualTickerTradingEnv(arrays, replace(WALK, reward="dsr",
                                                                    dsr_eta=0.02)))
    expected = DifferentialSharpe(0.02)
    for k, reward in enumerate(rewards):
        assert reward == pytest.approx(expected.step(values[k + 1] / values[k] - 1),
                                       rel=1e-9, abs=1e-12)
    assert any(r != 0 for r in rewards)


def test_penalised_reward_is_pnl_with_its_named_coefficients(arrays: MarketArrays) -> None:
    config = replace(WALK, reward="penalised", penalised_drawdown_coef=0.3,
                     penalised_turnover_coef=0.001)
    penalised, values = _rollout(DualTickerTradingEnv(arrays, config))
    legacy, same_values = _rollout(DualTickerTradingEnv(
        arrays, replace(WALK, drawdown_penalty=0.3, turnover_penalty=0.001)))
    plain, _ = _rollout(DualTickerTradingEnv(arrays, WALK))
    assert penalised == legacy and values == same_values
    assert sum(penalised) < sum(plain)
    assert sum(plain) == pytest.approx(values[-1] - values[0])


def test_the_default_reward_is_pnl_and_penalised_defaults_are_not_zero() -> None:
    config = TradingEnvConfig()
    assert config.reward == "pnl" and config.decision_interval_minutes == 1
    assert config.penalty_coefficients() == (0.0, 0.0)
    assert min(replace(config, reward="penalised").penalty_coefficients()) > 0


@pytest.mark.parametrize(("overrides", "message"), [
    ({"reward": "sharpe"}, "reward must be one of pnl, penalised, dsr"),
    ({"reward": "dsr", "drawdown_penalty": 0.1}, "apply to the 'pnl' reward only"),
    ({"reward": "penalised", "turnover_penalty": 0.1}, "apply to the 'pnl' reward only"),
    ({"dsr_eta": 0.0}, "eta must be in"), ({"dsr_eta": 1.0}, "eta must be in"),
    ({"penalised_drawdown_coef": -1.0}, "penalties must be >= 0"),
    ({"decision_interval_minutes": 2}, "decision interval 2 minutes is not supported"),
    ({"decision_interval_minutes": True}, "decision interval True minutes"),
])
def test_bad_reward_settings_are_refused_precisely(overrides: dict[str, object],
                                                   message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TradingEnvConfig(**overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize("reward", ["pnl", "penalised", "dsr"])
def test_an_env_restored_from_its_pickled_state_goes_on_paying_the_same_rewards(
        arrays: MarketArrays, reward: str) -> None:
    # regression: the reward function was a bound method kept in the env's __dict__; a resumed
    # training (agent.checkpoints pickles each env's __dict__) called it on a detached copy
    import pickle

    config = replace(WALK, reward=reward)  # type: ignore[arg-type]
    expected, _ = _rollout(DualTickerTradingEnv(arrays, config))
    env = DualTickerTradingEnv(arrays, config)
    env.reset(options={"start_index": 0})
    rng = np.random.default_rng(0)
    rewards = [env.step(int(rng.integers(9)))[1] for _ in range(5)]
    restored = DualTickerTradingEnv(arrays, config)
    restored.__dict__ = pickle.loads(pickle.dumps(env.__dict__))  # noqa: S301
    done = False
    while not done:
        _, r, terminated, truncated, _ = restored.step(int(rng.integers(9)))
        rewards.append(r)
        done = terminated or truncated
    assert rewards == expected
