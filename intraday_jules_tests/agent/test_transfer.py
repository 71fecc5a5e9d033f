"""The foundation -> dual weight mapping: every parameter, exact behaviour at initialisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from sb3_contrib import RecurrentPPO

from intraday_jules.agent.policy import PolicyStepper, SequenceLstmPolicy
from intraday_jules.agent.transfer import TransferError, map_state_dict, transfer_weights
from intraday_jules.env import DualTickerTradingEnv, SingleTickerTradingEnv
from intraday_jules.env.synthetic import synthetic_market_arrays
from intraday_jules_tests.agent.conftest import tiny_config

N_FEATURES = 12


def _models(net_arch: tuple[int, ...] = (8, 6), critic_lstm: bool = True
            ) -> tuple[RecurrentPPO, RecurrentPPO]:
    arrays = synthetic_market_arrays(n_sessions=1)
    config = tiny_config(lstm_hidden_size=5, net_arch=net_arch)

    def build(env: object, n: int, seed: int) -> RecurrentPPO:
        kwargs = {**config.policy_kwargs(n), "enable_critic_lstm": critic_lstm}
        return RecurrentPPO(SequenceLstmPolicy, env, policy_kwargs=kwargs, seed=seed,
                            device="cpu")

    return (build(SingleTickerTradingEnv(arrays), 1, 1),
            build(DualTickerTradingEnv(arrays), 2, 2))


def _dual_obs(nvda: np.ndarray, msft: np.ndarray) -> np.ndarray:
    """Dual layout: NVDA features, MSFT features, NVDA position, MSFT position."""
    return np.concatenate([nvda[:12], msft[:12], nvda[12:], msft[12:]]).astype(np.float32)


@pytest.mark.parametrize("critic_lstm", [True, False])
def test_every_dual_parameter_is_mapped_from_the_foundation_with_matching_shapes(
        critic_lstm: bool) -> None:
    foundation, dual = _models(critic_lstm=critic_lstm)
    report = transfer_weights(foundation, dual, N_FEATURES)
    target = dual.policy.state_dict()
    assert set(report.mapping) == set(target) == set(foundation.policy.state_dict())
    mapped, _ = map_state_dict(foundation.policy.state_dict(), N_FEATURES)
    for name, tensor in target.items():
        assert th.equal(tensor, mapped[name]), name
    assert target["lstm_actor.weight_ih_l0"].shape == (4 * 10, 26)
    assert target["action_net.weight"].shape == (9, 12)


def test_msft_feature_columns_are_the_nvda_columns_and_positions_land_at_24_and_25() -> None:
    foundation, dual = _models()
    transfer_weights(foundation, dual, N_FEATURES)
    single = foundation.policy.state_dict()["lstm_actor.weight_ih_l0"]
    both = dual.policy.state_dict()["lstm_actor.weight_ih_l0"]
    h = 5
    for gate in range(4):
        nvda_rows = both[gate * 2 * h:gate * 2 * h + h]
        msft_rows = both[gate * 2 * h + h:(gate + 1) * 2 * h]
        source = single[gate * h:(gate + 1) * h]
        assert th.equal(nvda_rows[:, :12], source[:, :12])
        assert th.equal(msft_rows[:, 12:24], source[:, :12])
        assert th.equal(nvda_rows[:, 24], source[:, 12])
        assert th.equal(msft_rows[:, 25], source[:, 12])
        assert not nvda_rows[:, 12:24].any() and not nvda_rows[:, 25].any()
        assert not msft_rows[:, :12].any() and not msft_rows[:, 24].any()


@pytest.mark.parametrize("msft_inputs", ["zeroed", "random"])
def test_dual_marginal_over_nvda_actions_equals_the_foundations(msft_inputs: str) -> None:
    foundation, dual = _models()
    transfer_weights(foundation, dual, N_FEATURES)
    rng = np.random.default_rng(0)
    single, both = PolicyStepper(foundation.policy), PolicyStepper(dual.policy)
    for step in range(30):
        nvda = rng.normal(size=13).astype(np.float32)
        msft = (np.zeros(13, np.float32) if msft_inputs == "zeroed"
                else rng.normal(size=13).astype(np.float32))
        start = np.array([step in (0, 17)])  # a session restart on the way
        p_single = single.step(nvda[None], start)[0]
        joint = both.step(_dual_obs(nvda, msft)[None], start)[0].reshape(3, 3)
        np.testing.assert_allclose(joint.sum(axis=1), p_single, atol=1e-6)


def test_dual_joint_is_the_product_of_per_asset_policies_and_its_value_the_sum() -> None:
    foundation, dual = _models()
    transfer_weights(foundation, dual, N_FEATURES)
    rng = np.random.default_rng(1)
    nvda_steps = rng.normal(size=(12, 13)).astype(np.float32)
    msft_steps = rng.normal(size=(12, 13)).astype(np.float32)
    p_nvda, p_msft = PolicyStepper(foundation.policy), PolicyStepper(foundation.policy)
    joint = PolicyStepper(dual.policy)
    for k in range(12):
        start = np.array([k == 0])
        a = p_nvda.step(nvda_steps[k][None], start)[0]
        b = p_msft.step(msft_steps[k][None], start)[0]
        np.testing.assert_allclose(
            joint.step(_dual_obs(nvda_steps[k], msft_steps[k])[None], start)[0],
            np.outer(a, b).reshape(-1), atol=1e-6)

    def value(model: RecurrentPPO, obs: np.ndarray) -> float:
        states = th.zeros(model.policy.lstm_hidden_state_shape), th.zeros(
            model.policy.lstm_hidden_state_shape)
        with th.no_grad():
            out = model.policy.predict_values(th.as_tensor(obs), states, th.ones(len(obs)))
        return float(out[-1, 0])

    both_value = value(dual, np.stack([_dual_obs(nvda_steps[0], msft_steps[0])]))
    np.testing.assert_allclose(both_value, value(foundation, nvda_steps[:1])
                               + value(foundation, msft_steps[:1]), atol=1e-5)


def test_transfer_refuses_a_dual_policy_of_another_size() -> None:
    foundation, _ = _models()
    _, other = _models(net_arch=(4,))
    with pytest.raises(TransferError, match="mlp_extractor"):
        transfer_weights(foundation, other, N_FEATURES)
