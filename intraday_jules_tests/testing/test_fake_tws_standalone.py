"""The fake gateway as users run it: ``python -m intraday_jules.testing.fake_tws``, and the
replay split it streams live bars from."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ib_async import IB

from intraday_jules.testing.fake_tws import ReplayBars
from intraday_jules.testing.fake_tws.replay import aggregate, split_minute


def test_standalone_gateway_serves_a_real_client(sim_minute_file: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "intraday_jules.testing.fake_tws", "--replay-path",
         str(sim_minute_file), "--port", "0",
         "--live-time", "2025-01-02T15:00:00+00:00"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert match, line
        ib = IB()
        ib.connect("127.0.0.1", int(match.group(1)), clientId=1, timeout=10)
        try:
            assert ib.reqCurrentTime() == datetime(2025, 1, 2, 15, 0, tzinfo=UTC)
        finally:
            ib.disconnect()
    finally:
        process.terminate()
        process.wait(10)


def test_five_second_split_aggregates_back_to_every_minute_of_a_whole_day(
        sim_minute_file: Path) -> None:
    replay = ReplayBars.from_csv(sim_minute_file)
    day = replay.window("NVDA", datetime(2025, 1, 27, 9, 0, tzinfo=UTC),
                        datetime(2025, 1, 28, 1, 0, tzinfo=UTC), rth_only=False)
    assert len(day) > 390
    for bar in day:
        parts = split_minute(bar)
        assert len(parts) == 12
        assert all(p.low <= min(p.open, p.close) <= max(p.open, p.close) <= p.high
                   for p in parts)
        assert aggregate(parts, bar.start) == bar


def test_unknown_csv_path_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ReplayBars.from_csv(tmp_path / "missing.csv")
