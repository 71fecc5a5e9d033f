"""The broker journal: a record is in the kernel when ``append`` returns (it survives a kill
of the process), and on disk at ``sync`` (one fdatasync for every line since the last),
which the trading loop calls after a minute's orders, never on ``submit``'s path."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest

from intraday_jules.broker import journal as journal_module
from intraday_jules.broker.journal import Journal, JournalError

SLOW_SYNC_S = 0.3


def record(n: int) -> dict[str, object]:
    return {"type": "resubmit", "client_order_id": f"IJ-20250203-{1430 + n}-NVDA"}


def test_a_record_is_readable_by_another_process_view_as_soon_as_append_returns(
        tmp_path: Path) -> None:
    writer = Journal(tmp_path / "broker.jsonl")
    writer.append(record(0))
    assert list(Journal(tmp_path / "broker.jsonl").records()) == [record(0)]
    writer.close()
    assert list(Journal(tmp_path / "broker.jsonl").records()) == [record(0)]


def test_append_does_not_wait_for_the_disk_and_one_sync_covers_every_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []

    def slow_disk(fd: int) -> None:  # a disk whose fdatasync takes SLOW_SYNC_S
        time.sleep(SLOW_SYNC_S)
        os.fsync(fd)
        synced.append(fd)

    monkeypatch.setattr(journal_module, "_datasync", slow_disk)
    journal = Journal(tmp_path / "broker.jsonl")
    started = time.perf_counter()
    for n in range(5):
        journal.append(record(n))
    appended = time.perf_counter() - started
    assert appended < SLOW_SYNC_S / 2, f"append waited for the disk ({appended:.3f} s)"
    assert not synced
    journal.sync()
    assert time.perf_counter() - started >= SLOW_SYNC_S
    assert len(synced) == 1
    journal.sync()  # nothing new: no second fdatasync
    assert len(synced) == 1
    assert list(journal.records()) == [record(n) for n in range(5)]


def test_a_failed_sync_is_raised_by_sync_and_by_every_later_append(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_disk(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(journal_module, "_datasync", failing_disk)
    journal = Journal(tmp_path / "broker.jsonl")
    journal.append(record(0))
    with pytest.raises(JournalError, match="Input/output error"):
        journal.sync()
    with pytest.raises(JournalError, match="failed to sync"):
        journal.append(record(1))
    assert list(journal.records()) == [record(0)]


def test_a_non_durable_journal_never_syncs(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def no_sync_expected(fd: int) -> None:
        raise AssertionError("a non-durable journal synced")

    monkeypatch.setattr(journal_module, "_datasync", no_sync_expected)
    journal = Journal(tmp_path / "broker.jsonl", durable=False)
    journal.append(record(0))
    journal.sync()
    assert list(journal.records()) == [record(0)]


def test_the_simulated_broker_syncs_its_journal_when_asked_never_on_submit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from intraday_jules.broker import JournaledBroker, SimulatedBroker
    from intraday_jules_tests.broker.test_simulated import order

    synced: list[int] = []
    monkeypatch.setattr(journal_module, "_datasync", lambda fd: synced.append(fd))
    broker = SimulatedBroker(journal=tmp_path / "broker.jsonl")
    broker.connect()
    broker.submit(order(minute=0))
    assert not synced
    assert [r["type"] for r in Journal(tmp_path / "broker.jsonl").records()] == ["order"]
    assert isinstance(broker, JournaledBroker)
    broker.sync()
    assert len(synced) == 1
