"""``intraday-jules train --source store``: the stored feature rows when the features table
covers the train window (``ingest --features`` stores them), the bars otherwise, and the
output says which."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from intraday_jules.agent.data import DateWindow, cut_to_window
from intraday_jules.cli import evaluate_cmd, ingest_cmd, train_cmd
from intraday_jules.features import DEFAULT_SPEC
from intraday_jules.market_data.store import BarStore
from intraday_jules_tests.agent.test_data_from_store import TRAIN, VALIDATION


def _run(app: typer.Typer, *args: str) -> dict[str, object]:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    payload: dict[str, object] = json.loads(result.stdout)
    return payload


def test_train_from_the_store_says_which_features_it_used(
        real_bars: pd.DataFrame, sim_minute_file: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'ij.db'}"
    monkeypatch.setenv("INTRADAY_JULES_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INTRADAY_JULES_DATABASE_URL", url)
    monkeypatch.setenv("INTRADAY_JULES_FOUNDATION_STEPS", "64")
    monkeypatch.setenv("INTRADAY_JULES_DUAL_STEPS", "64")
    bars = cut_to_window(real_bars, DateWindow(TRAIN.start, VALIDATION.end))
    store = BarStore.open(url)
    store.upsert(bars, source="simulated")
    app = typer.Typer()
    for command in (train_cmd, evaluate_cmd, ingest_cmd):
        command.register(app)
    built = _run(app, "train", "--seed", "3")
    assert built["splits"]["train"] == {"start": "2025-01-02", "end": "2025-01-06"}  # type: ignore[index]
    assert str(built["features"]).startswith(  # 3 train sessions x 2 symbols, none stored
        f"built from the bars (6 partition(s) have no stored rows of spec "
        f"{DEFAULT_SPEC.version[:12]}, e.g. 2025-01-02|MSFT)")
    ingested = _run(app, "ingest", "--start", "2025-01-02", "--end", "2025-01-06",
                    "--source", "replay", "--replay-path", str(sim_minute_file), "--features")
    assert ingested["features"] == {"partitions": 6, "rows": 6 * 390,
                                    "spec_version": DEFAULT_SPEC.version}
    stored = _run(app, "train", "--seed", "3")
    store.close()
    assert stored["features"] == (f"stored rows of the features table "
                                  f"(spec {DEFAULT_SPEC.version[:12]})")
    assert stored["splits"] == built["splits"]
