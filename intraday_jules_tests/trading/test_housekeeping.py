"""Deferred work of the loop (``trading/housekeeping.py``): the broker journal's disk sync,
the SQLite checkpoint and garbage collection come after a minute's orders, never inside
``submit``, and the collector is back as it was when the session ends."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from intraday_jules.broker import SimulatedBroker
from intraday_jules.broker import journal as journal_module
from intraday_jules.domain.orders import Order
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.trading.result import SessionResult
from intraday_jules_tests.trading.conftest import minute, replay


class WatchedBroker(SimulatedBroker):
    """The real simulated broker; notes whether a submit is running."""

    in_submit = False

    def submit(self, order: Order):  # type: ignore[no-untyped-def]
        self.in_submit = True
        try:
            return super().submit(order)
        finally:
            self.in_submit = False


def test_the_journal_is_synced_after_the_minutes_never_inside_submit(
        tmp_path: Path, replay_source: ReplaySource, monkeypatch: pytest.MonkeyPatch) -> None:
    broker = WatchedBroker(journal=tmp_path / "broker.jsonl")
    syncs: list[bool] = []
    real = journal_module._datasync

    def watched_sync(fd: int) -> None:
        syncs.append(broker.in_submit)
        real(fd)

    monkeypatch.setattr(journal_module, "_datasync", watched_sync)
    session = replay(f"sqlite:///{tmp_path / 'ledger.db'}", replay_source, "random",
                     until=minute(90), broker=broker)
    gc_was_enabled = gc.isenabled()
    result: SessionResult = session.run()
    sent = [r for r in journal_module.Journal(tmp_path / "broker.jsonl").records()
            if r["type"] == "order"]
    assert sent, "the random policy sends orders in 09:30-11:00"
    assert syncs and not any(syncs)
    assert len(syncs) <= result.decisions + 1  # at most one per minute, plus the end
    assert gc.isenabled() == gc_was_enabled
    assert gc.get_freeze_count() == 0
