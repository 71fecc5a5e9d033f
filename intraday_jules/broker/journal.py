"""The simulated broker's own durable memory: an append-only JSON-lines journal.

A real broker survives our crash: its orders, fills and positions are still there when we
restart. The simulated broker gets the same property from this file, kept apart from our
ledger on purpose: if it derived its state from the ledger, reconciliation would compare the
ledger with itself and could never find a difference.

What is durable when (docs/risk_and_ledger.md, "What is durable when"):
- Every accepted order, rejection, fill, cancel and re-submission is one line, written and
  flushed to the operating system before the broker answers. A process killed (SIGKILL) right
  after ``submit`` returned still finds the order on restart: the kernel holds the line.
- The lines reach the disk (one ``fdatasync`` for all since the last) at ``sync()``, which
  the trading loop calls after each minute's orders are handed over
  (``trading/housekeeping.py``), never between a bar and its orders: an fsync on a shared
  disk takes 4-13 ms, more than the whole decision-latency budget. (A background sync thread
  was tried: waking it costs the loop GIL hand-overs, 3-5 ms at p90 under load.) Only a
  power loss or kernel crash before that sync loses the newest lines; the broker then
  forgets those orders, and the restart's reconciliation settles them by client order id
  (re-sent once if still fresh, else expired; never a duplicate). ``close()`` syncs too.
A torn last line (the kill landed mid-write) is cut off when the journal is opened: that
record was never acknowledged to anyone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from intraday_jules.domain.orders import Fill, IntentOrigin, Order, Side

Record = dict[str, Any]


def order_record(order: Order) -> Record:
    return {"type": "order", "client_order_id": order.client_order_id,
            "session": order.session.isoformat(), "symbol": order.symbol,
            "side": order.side.value, "quantity": order.quantity, "ts": order.ts.isoformat(),
            "reference_price": str(order.reference_price), "origin": order.origin.value}


def order_from_record(record: Record) -> Order:
    return Order(record["client_order_id"], date.fromisoformat(record["session"]),
                 record["symbol"], Side(record["side"]), int(record["quantity"]),
                 datetime.fromisoformat(record["ts"]), Decimal(record["reference_price"]),
                 IntentOrigin(record["origin"]))


def fill_record(fill: Fill) -> Record:
    return {"type": "fill", "ts": fill.ts.isoformat(), "symbol": fill.symbol,
            "side": fill.side.value, "quantity": fill.quantity, "price": str(fill.price),
            "commission": str(fill.commission), "client_order_id": fill.client_order_id,
            "exec_id": fill.exec_id}


def fill_from_record(record: Record) -> Fill:
    return Fill(datetime.fromisoformat(record["ts"]), record["symbol"], Side(record["side"]),
                int(record["quantity"]), Decimal(record["price"]), Decimal(record["commission"]),
                record["client_order_id"], record["exec_id"])


class JournalError(OSError):
    """The journal could not be made durable (a failed fdatasync): its state is unknown."""


_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


class Journal:
    """Append-only JSON lines at ``path``; ``durable`` (the default): ``sync`` gets every
    record to the disk, one fdatasync for all lines since the last (see the module docstring)."""

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_torn_tail()
        self._handle: IO[str] | None = None
        self._dirty = False
        self._error: OSError | None = None

    def _drop_torn_tail(self) -> None:
        """Cut a last line without its newline, so the next record starts on a line of its own."""
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            with self.path.open("r+b") as handle:
                handle.truncate(data.rfind(b"\n") + 1)

    def __repr__(self) -> str:
        return f"Journal(path={str(self.path)!r})"

    def records(self) -> Iterator[Record]:
        """Every complete record, oldest first."""
        if not self.path.exists():
            return
        lines = self.path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                raise ValueError(f"broker journal {self.path} line {number} is corrupt") from None

    def append(self, record: Record) -> None:
        """Write ``record`` as one line and hand it to the kernel (survives a process kill);
        the disk gets it at the next ``sync``. Raises ``JournalError`` once a sync failed."""
        if self._error is not None:
            raise JournalError(f"broker journal {self.path} failed to sync: "
                               f"{self._error}") from self._error
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        if self._handle is None or self._handle.closed:
            self._handle = self.path.open("a", encoding="utf-8")
        self._handle.write(line)
        self._handle.flush()
        self._dirty = self.durable

    def sync(self) -> None:
        """fdatasync every line appended since the last sync (nothing to do: no call)."""
        if self._error is not None:
            raise JournalError(f"broker journal {self.path} failed to sync: "
                               f"{self._error}") from self._error
        if not self._dirty or self._handle is None:
            return
        try:
            _datasync(self._handle.fileno())
        except OSError as exc:  # after a failed fsync the file's state is unknown: stop
            self._error = exc
            raise JournalError(f"broker journal {self.path} failed to sync: {exc}") from exc
        self._dirty = False

    def close(self) -> None:
        """Sync, then close the file (a later ``append`` opens it again)."""
        self.sync()
        if self._handle is not None:
            self._handle.close()
            self._handle = None
