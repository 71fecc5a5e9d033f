"""``train --resume``: an interrupted training continued from its last checkpoint ends with the
same weights, bit for bit, as the same run left alone (CPU, one torch thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from intraday_jules.agent import ModelBundle, PreparedData, train_dual, train_foundation
from intraday_jules.agent.checkpoints import CheckpointError, latest_checkpoint, load
from intraday_jules.agent.training import train_dual_from_scratch
from intraday_jules.env import TradingEnvConfig
from intraday_jules_tests.agent.conftest import tiny_config


class Interrupted(Exception):
    """Stands for a kill: raised from inside training, mid-rollout."""


def _interrupt_after(steps: int) -> Any:
    def progress(done: int, _total: int) -> None:
        if done >= steps:
            raise Interrupted(done)
    return progress


def _same_weights(a: ModelBundle, b: ModelBundle) -> None:
    left, right = a.model.policy.state_dict(), b.model.policy.state_dict()
    assert left.keys() == right.keys()
    for name in left:
        assert torch.equal(left[name], right[name]), name
    adam_a = a.model.policy.optimizer.state_dict()["state"]
    adam_b = b.model.policy.optimizer.state_dict()["state"]
    for i in adam_a:
        assert torch.equal(adam_a[i]["exp_avg"], adam_b[i]["exp_avg"])


CONFIG = {"total_timesteps": 192, "n_envs": 2, "n_steps": 16, "checkpoint_freq": 64}


@pytest.mark.parametrize("options", [
    {}, {"vec_env": "subproc"},
    {"episode_mode": "env", "env": TradingEnvConfig(episode_length=20)},
], ids=["dummy", "subproc", "short-episodes"])
def test_resumed_foundation_equals_the_uninterrupted_run(
        options: dict[str, object], real_data: PreparedData, tmp_path: Path) -> None:
    config = tiny_config(**CONFIG, **options)
    whole = train_foundation(real_data, config, checkpoint_dir=tmp_path / "whole")
    with pytest.raises(Interrupted):  # killed mid-rollout, past the checkpoint at step 64
        train_foundation(real_data, config, checkpoint_dir=tmp_path / "cut",
                         progress=_interrupt_after(100))
    last = latest_checkpoint(tmp_path / "cut", f"foundation_seed0_{_key(tmp_path / 'whole')}")
    assert last is not None and last.name.endswith("_64_steps.ckpt")
    resumed = train_foundation(real_data, config, checkpoint_dir=tmp_path / "cut", resume=True)
    assert resumed.metrics["resumed_from_step"] == 64
    assert resumed.model.num_timesteps == whole.model.num_timesteps == 192
    _same_weights(whole, resumed)
    assert resumed.metrics["learning_curve"] == whole.metrics["learning_curve"]
    if options.get("episode_mode") == "env":  # episodes finished: the curve is not empty
        assert len(whole.metrics["learning_curve"]) >= 3


def _key(folder: Path) -> str:
    names = sorted(p.name for p in folder.iterdir())
    steps = sorted(int(n.split("_")[3]) for n in names)
    assert steps == [64, 128, 192], names  # every 64 steps, and the final state
    return names[0].split("_")[2]


def test_resumed_dual_transfer_and_scratch_equal_their_uninterrupted_runs(
        real_data: PreparedData, foundation: ModelBundle, tmp_path: Path) -> None:
    config = tiny_config(**CONFIG, seed=foundation.config.seed)
    for train in (lambda **kw: train_dual(real_data, foundation, config, **kw),
                  lambda **kw: train_dual_from_scratch(real_data, config, **kw)):
        whole = train(checkpoint_dir=tmp_path / "whole")
        with pytest.raises(Interrupted):
            train(checkpoint_dir=tmp_path / "cut", progress=_interrupt_after(140))
        resumed = train(checkpoint_dir=tmp_path / "cut", resume=True)
        assert resumed.metrics["resumed_from_step"] == 128
        _same_weights(whole, resumed)


def test_resume_without_a_checkpoint_starts_afresh_and_a_finished_run_is_not_retrained(
        real_data: PreparedData, tmp_path: Path) -> None:
    config = tiny_config(**CONFIG)
    first = train_foundation(real_data, config, checkpoint_dir=tmp_path, resume=True)
    assert first.metrics["resumed_from_step"] is None
    again = train_foundation(real_data, config, checkpoint_dir=tmp_path, resume=True)
    assert again.metrics["resumed_from_step"] == 192
    assert again.metrics["learning_curve"] == first.metrics["learning_curve"]
    _same_weights(first, again)


def test_another_seed_or_budget_never_resumes_this_runs_checkpoint(
        real_data: PreparedData, tmp_path: Path) -> None:
    train_foundation(real_data, tiny_config(**CONFIG), checkpoint_dir=tmp_path)
    for other in (tiny_config(**CONFIG, seed=1), tiny_config(**{**CONFIG, "n_steps": 32})):
        bundle = train_foundation(real_data, other, checkpoint_dir=tmp_path, resume=True)
        assert bundle.metrics["resumed_from_step"] is None


def test_resume_needs_a_checkpoint_folder_and_refuses_another_format(
        real_data: PreparedData, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="checkpoint_dir"):
        train_foundation(real_data, tiny_config(**CONFIG), resume=True)
    bad = tmp_path / "x_1_steps.ckpt"
    bad.write_bytes(b"\x80\x04}\x94.")  # an empty pickled dict: no format
    with pytest.raises(CheckpointError, match="format"):
        load(bad)
