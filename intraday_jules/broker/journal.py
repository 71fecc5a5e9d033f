"""The simulated broker's own durable memory: an append-only JSON-lines journal.

A real broker survives our crash: its orders, fills and positions are still there when we
restart. The simulated broker gets the same property from this file, kept apart from our
ledger on purpose: if it derived its state from the ledger, reconciliation would compare the
ledger with itself and could never find a difference.

Every accepted order, rejection, fill, cancel and re-submission is one line, flushed and
fsync'ed before the broker answers, so a process killed (SIGKILL) right after ``submit``
returned still finds the order on restart. A torn last line (the kill landed mid-write) is
cut off when the journal is opened: that record was never acknowledged to anyone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

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


class Journal:
    """Append-only JSON lines at ``path``; ``durable`` fsyncs every record (the default)."""

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        self.path = Path(path)
        self.durable = durable
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_torn_tail()

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
        line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            if self.durable:
                os.fsync(handle.fileno())
