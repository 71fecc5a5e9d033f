"""Training: smoke runs over options, determinism, episodes, batched LSTM, transfer checks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch as th
from sb3_contrib.common.recurrent.policies import RecurrentActorCriticPolicy

from intraday_jules.agent import (
    ModelBundle,
    PreparedData,
    TrainingConfig,
    TrainingDataError,
    prepare_data,
    train_dual,
    train_dual_from_scratch,
    train_foundation,
)
from intraday_jules.agent.envs import SessionEpisodes, trading_env
from intraday_jules.agent.policy import PolicyStepper, SequenceLstmPolicy
from intraday_jules.agent.training import compare_curves
from intraday_jules.env import TradingEnvConfig
from intraday_jules.env.synthetic import synthetic_market_arrays
from intraday_jules_tests.agent.conftest import tiny_config


@pytest.mark.parametrize("options", [
    {},
    {"episode_mode": "env", "env": TradingEnvConfig(episode_length=20)},
    {"env": TradingEnvConfig(allow_short=False, drawdown_penalty=0.5, turnover_penalty=1e-4)},
    {"vec_env": "subproc"},
], ids=["session-episodes", "env-episodes", "long-only-penalties", "subproc"])
def test_tiny_foundation_training_runs_and_saves_checkpoints_and_tensorboard_logs(
        options: dict[str, object], real_data: PreparedData, tmp_path: Path) -> None:
    config = tiny_config(checkpoint_freq=32, tensorboard_dir=tmp_path / "tb", **options)
    seen: list[int] = []
    bundle = train_foundation(real_data, config, checkpoint_dir=tmp_path / "ckpt",
                              progress=lambda done, total: seen.append(done))
    assert bundle.model.num_timesteps == 64 and bundle.obs_shape == (13,)
    assert bundle.kind == "foundation" and bundle.symbols == ("NVDA",)
    assert seen[-1] == 64 and seen == sorted(seen)
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert [n.split("_")[:2] + n.split("_")[3:] for n in names] == [
        ["foundation", "seed0", "32", "steps.ckpt"], ["foundation", "seed0", "64", "steps.ckpt"]]
    assert list((tmp_path / "tb").rglob("events.out.tfevents.*"))
    assert bundle.metrics["train_decisions"] > 0 and bundle.metrics["steps_per_s"] > 0


def test_tiny_dual_training_from_transfer_and_from_scratch(real_data: PreparedData,
                                                          foundation: ModelBundle) -> None:
    transferred = train_dual(real_data, foundation, tiny_config(seed=3))
    scratch = train_dual_from_scratch(real_data, tiny_config(seed=3))
    for bundle in (transferred, scratch):
        assert bundle.obs_shape == (26,) and bundle.n_actions == 9
        assert bundle.symbols == ("NVDA", "MSFT")
    assert transferred.metrics["initialisation"] == "transfer"
    assert set(transferred.metrics["transfer"]["mapping"]) == set(
        transferred.model.policy.state_dict())
    assert scratch.metrics["initialisation"] == "scratch"


def _actions(bundle: ModelBundle, obs: np.ndarray) -> np.ndarray:
    stepper = PolicyStepper(bundle.model.policy)
    return np.array([stepper.step(o[None], np.array([k == 0]))[0] for k, o in enumerate(obs)])


def test_same_seed_gives_the_same_model_and_actions_and_another_seed_does_not(
        real_data: PreparedData) -> None:
    obs = np.random.default_rng(0).normal(size=(20, 13)).astype(np.float32)
    first = train_foundation(real_data, tiny_config(seed=11))
    again = train_foundation(real_data, tiny_config(seed=11))
    other = train_foundation(real_data, tiny_config(seed=12))
    np.testing.assert_array_equal(_actions(first, obs), _actions(again, obs))
    for name, tensor in first.model.policy.state_dict().items():
        assert th.equal(tensor, again.model.policy.state_dict()[name]), name
    assert not np.allclose(_actions(first, obs), _actions(other, obs))


def test_dual_training_refuses_data_not_normalised_like_the_foundation(
        real_bars: object, real_data: PreparedData, foundation: ModelBundle) -> None:
    other_window = replace(real_data.train_window, start=real_data.sessions[3])  # type: ignore[type-var]
    refit = prepare_data(real_bars, train_window=other_window)  # type: ignore[arg-type]
    with pytest.raises(TrainingDataError, match=r"normalizers=foundation\.normalizers"):
        train_dual(refit, foundation, tiny_config())
    with pytest.raises(ValueError, match="per-asset network sizes differ"):
        train_dual(real_data, foundation, tiny_config(lstm_hidden_size=16))


def test_session_episodes_start_at_a_session_open_and_end_at_its_forced_flatten() -> None:
    arrays = synthetic_market_arrays(n_sessions=3, bars_per_session=80, seed=2)
    env = SessionEpisodes(trading_env(arrays, 2, tiny_config(
        env=TradingEnvConfig(episode_length=None))))
    starts = set(np.flatnonzero(np.concatenate([[True], env.env.schedule.flatten[:-1]])))
    for seed in range(4):
        _, info = env.reset(seed=seed)
        assert info["bar_index"] in {int(env.env.schedule.bars[s]) for s in starts}
        steps, terminated, truncated = 0, False, False
        while not (terminated or truncated):
            _, _, terminated, truncated, info = env.step(8)
            steps += 1
        assert terminated and not truncated and info["forced_flatten"]
        assert steps == 80 - 50 - 5 and info["shares"] == (0, 0)


def test_sequence_policy_computes_what_the_stock_step_loop_computes() -> None:
    th.manual_seed(0)
    lstm = th.nn.LSTM(7, 6)
    n_seq, length = 5, 9
    features = th.randn(n_seq * length, 7)
    starts = th.zeros(n_seq, length)
    starts[1, 0] = starts[3, 0] = 1.0  # sequences begin episodes only at their first step
    states = (th.randn(1, n_seq, 6), th.randn(1, n_seq, 6))
    ours = SequenceLstmPolicy._process_sequence(features, states, starts.flatten(), lstm)
    stock = RecurrentActorCriticPolicy._process_sequence(features, states, starts.flatten(),
                                                         lstm)
    th.testing.assert_close(ours[0], stock[0], atol=1e-6, rtol=1e-5)
    th.testing.assert_close(ours[1][0], stock[1][0], atol=1e-6, rtol=1e-5)
    starts[2, 4] = 1.0  # a mid-sequence start falls back to the stock loop: still equal
    th.testing.assert_close(
        SequenceLstmPolicy._process_sequence(features, states, starts.flatten(), lstm)[0],
        RecurrentActorCriticPolicy._process_sequence(features, states, starts.flatten(),
                                                     lstm)[0])


def test_training_config_round_trips_and_scales_the_network_per_asset() -> None:
    config = TrainingConfig.dual(seed=4, net_arch=(32, 16), tensorboard_dir=Path("/tmp/tb"))
    assert TrainingConfig.from_dict(config.to_dict()) == config
    assert config.total_timesteps == 200_000
    assert TrainingConfig.foundation().total_timesteps == 50_000
    assert config.policy_kwargs(2) == {"lstm_hidden_size": 128,
                                       "net_arch": {"pi": [64, 32], "vf": [64, 32]}}
    with pytest.raises(ValueError, match="n_envs"):
        TrainingConfig(n_envs=0)


def test_compare_curves_reports_transfer_minus_scratch_at_equal_steps() -> None:
    transfer = [[1024, -5.0, 3], [2048, -1.0, 3], [3072, 1.0, 3]]
    scratch = [[1024, -9.0, 3], [2048, -3.0, 3], [4096, 0.0, 3]]
    out = compare_curves(transfer, scratch)
    assert out["aligned_points"] == 2
    assert out["mean_session_reward"]["difference"] == pytest.approx(3.0)
    assert out["final_20pct_session_reward"] == {"transfer": -1.0, "scratch": -3.0,
                                                 "difference": 2.0}
