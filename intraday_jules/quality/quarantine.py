"""Quarantine: move bad rows aside, with the check and reason, instead of failing a partition.

Only where the contract allows it (``quarantine.allowed`` and the check's ``quarantine: true``)
and only rows a check marked quarantinable: a duplicate's later copies, rows breaking a value
rule, bars outside the session, a bad tick. Problems that are not rows (a missing column, a
missing session, a split-like gap) cannot be quarantined away and still fail the re-check.
Writing is idempotent per partition: a re-run replaces that partition's quarantined rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intraday_jules.quality.contracts import Contract
from intraday_jules.quality.results import QualityReport
from intraday_jules.quality.tables import market_data_quarantine

QUARANTINE_COLUMNS = ("symbol", "ts", "open", "high", "low", "close", "volume", "source")


@dataclass(frozen=True)
class QuarantineSplit:
    """``clean``: the rows to keep (original order and index); ``quarantined``: the others
    with ``check_name`` (first check, in contract order, that refused the row) and ``reason``
    (every check's detail for that row, joined)."""

    clean: pd.DataFrame
    quarantined: pd.DataFrame


def split_quarantine(bars: pd.DataFrame, report: QualityReport,
                     contract: Contract) -> QuarantineSplit:
    """Split ``bars`` (the frame the report was computed on) into clean and quarantined."""
    empty = bars.iloc[0:0].assign(check_name=pd.Series(dtype=object),
                                  reason=pd.Series(dtype=object))
    if not contract.quarantine_allowed:
        return QuarantineSplit(bars, empty)
    pieces = []
    for result in report.checks:
        spec = contract.check(result.name)
        if result.passed or spec is None or not spec.quarantine or result.offending.empty:
            continue
        rows = result.offending[result.offending["quarantinable"]]
        pieces.append(rows.assign(check_name=result.name,
                                  reason=result.name + ": " + rows["detail"].astype(str)))
    if not pieces:
        return QuarantineSplit(bars, empty)
    table = pd.concat(pieces, ignore_index=True)
    reasons = table.groupby("position", sort=True).agg(
        check_name=("check_name", "first"), reason=("reason", "; ".join))
    positions = reasons.index.to_numpy(dtype=np.int64)
    quarantined = bars.iloc[positions].assign(check_name=reasons["check_name"].to_numpy(),
                                              reason=reasons["reason"].to_numpy())
    keep = np.ones(len(bars), dtype=bool)
    keep[positions] = False
    return QuarantineSplit(bars.iloc[keep], quarantined)


def _records(quarantined: pd.DataFrame, partition_key: str, run_id: str | None,
             at: datetime) -> list[dict[str, Any]]:
    out = []
    columns = [c for c in QUARANTINE_COLUMNS if c in quarantined.columns]
    for row in quarantined[[*columns, "check_name", "reason"]].to_dict("records"):
        record = {c: _plain(row.get(c)) for c in QUARANTINE_COLUMNS}
        record.update(partition_key=partition_key, check_name=row["check_name"],
                      reason=row["reason"], quarantined_at=at, run_id=run_id)
        out.append(record)
    return out


def _plain(value: Any) -> Any:
    """NaN/NaT -> None, pandas/numpy scalars -> Python, timestamps -> aware datetime."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime() if value.tzinfo else None
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_quarantine(engine: Engine, quarantined: pd.DataFrame, *, partition_key: str,
                     run_id: str | None = None, quarantined_at: datetime | None = None) -> int:
    """Replace the partition's quarantined rows with these (one transaction); returns count."""
    at = quarantined_at or datetime.now(UTC)
    records = _records(quarantined, partition_key, run_id, at)
    table = market_data_quarantine
    with engine.begin() as conn:
        conn.execute(sa.delete(table).where(table.c.partition_key == partition_key))
        if records:
            conn.execute(sa.insert(table), records)
    return len(records)


def read_quarantine(engine: Engine, partition_key: str | None = None) -> pd.DataFrame:
    """Quarantined rows (all, or one partition's), oldest first."""
    table = market_data_quarantine
    query = sa.select(table).order_by(table.c.id)
    if partition_key is not None:
        query = query.where(table.c.partition_key == partition_key)
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    frame = pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in table.columns])
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame
