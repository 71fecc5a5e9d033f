"""``intraday-jules train --resume``: each phase continues from its checkpoint; after a run
that finished, nothing is retrained and the models equal the first run's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

from intraday_jules.agent.model_store import ModelStore
from intraday_jules.cli import evaluate_cmd, train_cmd
from intraday_jules.db.engine import create_db_engine


def test_train_resume_continues_each_phase_from_its_checkpoint(
        sim_minute_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INTRADAY_JULES_HOME", str(tmp_path))
    monkeypatch.setenv("INTRADAY_JULES_DATABASE_URL", f"sqlite:///{tmp_path / 'ij.db'}")
    app = typer.Typer()
    train_cmd.register(app)
    evaluate_cmd.register(app)  # two commands: typer keeps "train" a sub-command
    args = ["train", "--source", "replay", "--replay-path", str(sim_minute_file),
            "--end", "2025-02-14", "--foundation-steps", "64", "--dual-steps", "64", "--json"]
    runs = []
    for extra in ([], ["--resume"]):
        result = CliRunner().invoke(app, args + extra)
        assert result.exit_code == 0, result.output
        runs.append(json.loads(result.stdout)["models"])
    assert {m["resumed_from_step"] for m in runs[0].values()} == {None}
    # one rollout of the default config (16 envs x 64 steps) covers the 64-step budgets
    assert [runs[1][k]["resumed_from_step"] for k in ("foundation", "dual")] == [1024, 1024]
    assert list((tmp_path / "models" / "checkpoints").glob("dual_seed0_*_1024_steps.ckpt"))
    store = ModelStore(tmp_path / "models", create_db_engine(f"sqlite:///{tmp_path / 'ij.db'}"))
    first, again = (store.load(run["dual"]["id"], live_spec=None) for run in runs)
    for name, tensor in first.model.policy.state_dict().items():
        assert torch.equal(tensor, again.model.policy.state_dict()[name]), name
