"""INTRADAY_JULES_DEVICE / TrainingConfig.device: cpu by default, auto picks CUDA only when
torch sees it, cuda without a CUDA device is a clear error (never a silent CPU run)."""

from __future__ import annotations

import pytest
import torch

from intraday_jules.agent import PreparedData, TrainingConfig, train_foundation
from intraday_jules.agent.device import DeviceUnavailableError, resolve_device
from intraday_jules.settings import Settings, SettingsError
from intraday_jules_tests.agent.conftest import tiny_config

HAS_CUDA = torch.cuda.is_available()


def test_the_setting_defaults_to_cpu_and_refuses_unknown_devices() -> None:
    assert Settings.from_env({}).device == "cpu"
    assert Settings.from_env({"INTRADAY_JULES_DEVICE": " AUTO "}).device == "auto"
    with pytest.raises(SettingsError, match=r"INTRADAY_JULES_DEVICE='tpu'.*auto, cpu or cuda"):
        Settings.from_env({"INTRADAY_JULES_DEVICE": "tpu"})


def test_config_device_reaches_ppo_and_is_saved_with_the_model() -> None:
    assert TrainingConfig().device == "cpu" and TrainingConfig().ppo_kwargs()["device"] == "cpu"
    auto = TrainingConfig(device="auto")
    assert auto.ppo_kwargs()["device"] == ("cuda" if HAS_CUDA else "cpu")
    assert TrainingConfig.from_dict(auto.to_dict()).device == "auto"
    with pytest.raises(ValueError, match="auto, cpu, cuda"):
        TrainingConfig(device="gpu")


@pytest.mark.skipif(HAS_CUDA, reason="checks the error raised when CUDA is absent")
def test_cuda_requested_without_cuda_is_a_clear_error(real_data: PreparedData) -> None:
    with pytest.raises(DeviceUnavailableError, match=r"INTRADAY_JULES_DEVICE=cuda.*no CUDA"):
        resolve_device("cuda")
    with pytest.raises(DeviceUnavailableError):
        train_foundation(real_data, tiny_config(device="cuda"))


@pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")
def test_cuda_training_runs_on_the_gpu(real_data: PreparedData) -> None:
    bundle = train_foundation(real_data, tiny_config(device="cuda"))
    assert next(bundle.model.policy.parameters()).device.type == "cuda"
