"""``intraday-jules train`` and ``evaluate``, end to end on the recorded bars."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from intraday_jules.agent.data import DateWindow, cut_to_window
from intraday_jules.cli import evaluate_cmd, train_cmd
from intraday_jules.cli._output import CliError
from intraday_jules_tests.builders import write_csv

METRICS = ("total_return", "pnl_usd", "sharpe", "sortino", "max_drawdown_pct", "calmar",
           "turnover", "trades_per_day")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    train_cmd.register(app)
    evaluate_cmd.register(app)
    return app


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module", autouse=True)
def settings_env(home: Path) -> Iterator[None]:
    """Settings read inside the commands: a fresh home, SQLite, tiny default budgets."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INTRADAY_JULES_HOME", str(home))
        mp.setenv("INTRADAY_JULES_DATABASE_URL", f"sqlite:///{home / 'ij.db'}")
        mp.setenv("INTRADAY_JULES_FOUNDATION_STEPS", "64")
        mp.setenv("INTRADAY_JULES_DUAL_STEPS", "64")
        yield


@pytest.fixture(scope="module")
def trained(app: typer.Typer, sim_minute_file: Path) -> dict[str, object]:
    result = CliRunner().invoke(app, [
        "train", "--source", "replay", "--replay-path",
        str(sim_minute_file),
        "--end", "2025-02-14", "--seed", "1", "--compare-scratch", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_saves_foundation_then_transferred_dual_and_reports_the_comparison(
        trained: dict[str, object], home: Path) -> None:
    models = trained["models"]
    assert set(models) == {"foundation", "dual", "scratch"}  # type: ignore[arg-type]
    dual = models["dual"]  # type: ignore[index]
    assert dual["kind"] == "dual" and dual["parent_id"] == models["foundation"]["id"]  # type: ignore[index]
    assert dual["seed"] == 1 and Path(dual["path"]).is_dir()
    assert Path(dual["path"]).parent == home / "models"
    assert trained["budgets"] == {"foundation": 64, "dual": 64}
    assert trained["splits"]["train"]["start"] == "2025-01-02"  # type: ignore[index]
    assert "aligned_points" in trained["transfer_vs_scratch"]  # type: ignore[operator]
    assert list((home / "tensorboard").rglob("events.out.tfevents.*"))


def test_evaluate_an_unseen_replay_file_end_to_end_prints_the_json_shape(
        app: typer.Typer, trained: dict[str, object], real_bars: pd.DataFrame,
        tmp_path: Path, home: Path) -> None:
    unseen = tmp_path / "unseen.csv"
    write_csv(unseen, cut_to_window(real_bars, DateWindow(date(2025, 2, 20),
                                                          date(2025, 2, 24))))
    dual_id = trained["models"]["dual"]["id"]  # type: ignore[index]
    result = CliRunner().invoke(app, [
        "evaluate", "--model", dual_id, "--source", "replay", "--replay-path", str(unseen),
        "--start", "2025-02-20", "--end", "2025-02-24", "--seeds", "2", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out) == ["model", "baselines", "seeds", "ci95", "costs", "execution_spec",
                         "study", "cpcv", "cpcv_reason", "dsr", "dsr_reason", "pbo",
                         "pbo_reason", "pbo_detail", "bootstrap"]
    assert out["seeds"] == 2 and out["execution_spec"]["allow_short"] is False
    # 3 sessions: too few to cross-validate; a model of no sweep: PBO not applicable
    assert out["cpcv"] is None and "3 sessions are too few" in out["cpcv_reason"]
    assert out["pbo"] is None and out["pbo_reason"] == (
        "the model has no study (it did not come from a sweep)")
    assert out["study"] is None and out["bootstrap"]["sessions"] == 3
    assert (out["dsr"] is None) != (out["dsr_reason"] is None)
    assert set(METRICS) <= set(out["model"]) and set(METRICS) <= set(out["ci95"])
    assert {"flat", "buy_and_hold_nvda", "buy_and_hold_msft", "fifty_fifty", "random",
            "momentum"} == set(out["baselines"])
    folder = home / "models" / dual_id / "evaluations" / "2025-02-20_2025-02-24"
    assert (folder / "equity.png").is_file() and (folder / "evaluation.md").is_file()


def test_evaluate_refuses_the_training_window_and_an_unpromoted_champion(
        app: typer.Typer, trained: dict[str, object], sim_minute_file: Path) -> None:
    path = str(sim_minute_file)
    dual_id = trained["models"]["dual"]["id"]  # type: ignore[index]
    overlap = CliRunner().invoke(app, ["evaluate", "--model", dual_id, "--source", "replay",
                                       "--replay-path", path, "--start", "2025-01-06",
                                       "--end", "2025-01-08", "--json"])
    assert isinstance(overlap.exception, CliError)
    assert "overlap the model's training window" in overlap.exception.message
    none = CliRunner().invoke(app, ["evaluate", "--source", "replay", "--replay-path", path,
                                    "--json"])
    assert isinstance(none.exception, CliError)
    assert "no model has been promoted" in none.exception.message


def test_train_refuses_a_window_too_short_to_split(app: typer.Typer, sim_minute_file: Path) -> None:
    result = CliRunner().invoke(app, [
        "train", "--source", "replay", "--replay-path",
        str(sim_minute_file),
        "--start", "2025-01-02", "--end", "2025-01-03", "--json"])
    assert isinstance(result.exception, CliError)
    assert "cannot be split" in result.exception.message
