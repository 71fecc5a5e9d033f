"""Work the loop does after a minute's orders are handed over, never between bar and order.

Two costs used to land at random on the decision-latency path (bar close -> order handed
to the broker; docs/trading.md, "Decision latency"):
- Python's cyclic garbage collector runs when allocations cross a threshold, whatever the
  loop is doing: a young collection took up to 13 ms, a full one over 100 ms (the model,
  pandas and SQLAlchemy make a large heap). During the loop the collector is paused; the
  objects built before it (model, caches) are frozen out of every collection, and the
  young generations are collected here, after each minute; a full collection every
  ``FULL_EVERY`` minutes.
- SQLite moves its write-ahead log into the database file (a checkpoint, two fsyncs) inside
  whichever commit crosses 1000 pages. ``Ledger.checkpoint`` runs it here every
  ``CHECKPOINT_EVERY`` minutes, so the log never grows that far during a session.
- The simulated broker's journal reaches the disk (``JournaledBroker.sync``, one
  fdatasync for the minute's lines) after every minute.
All of it happens while the loop waits for the next bar (it has the rest of the minute); the
state is restored when the session ends, so a process that runs several sessions (tests)
gets its collector back as it was.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from intraday_jules.broker.base import Broker, JournaledBroker
from intraday_jules.ledger import Ledger

FULL_EVERY = 30
CHECKPOINT_EVERY = 10


class Housekeeping:
    """Counts minutes and does the deferred work due after each."""

    def __init__(self, ledger: Ledger, broker: Broker) -> None:
        self._ledger = ledger
        self._broker = broker
        self._minutes = 0

    def after_minute(self) -> None:
        self._minutes += 1
        sync_broker(self._broker)
        gc.collect(2 if self._minutes % FULL_EVERY == 0 else 1)
        if self._minutes % CHECKPOINT_EVERY == 0:
            self._ledger.checkpoint()


def sync_broker(broker: Broker) -> None:
    """A broker that keeps its memory in our file writes it to the disk now."""
    if isinstance(broker, JournaledBroker):
        broker.sync()


@contextmanager
def paced_collector() -> Iterator[None]:
    """Pause automatic garbage collection (``Housekeeping`` collects between minutes);
    what exists already is frozen out of collections until the session ends."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
