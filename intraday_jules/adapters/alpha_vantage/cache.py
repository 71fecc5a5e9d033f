"""Months of vendor bars, kept so that a month of sessions costs one request.

Alpha Vantage answers per (symbol, month): one call returns up to ~20,000 one-minute bars, and
the free tier allows 25 calls a day. Sessions are asked for one at a time (one Dagster partition
each), so without this every session would fetch its whole month again.

Memory always; disk (Parquet, optional) so separate processes share the month too. A cached
month answers a session only if it was fetched after that session ended (the current month is
still growing); the source decides that from ``fetched_at``.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)
_FETCHED_AT = b"intraday_jules.fetched_at"


@dataclass(frozen=True, slots=True)
class MonthKey:
    symbol: str
    month: str
    extended_hours: bool

    @property
    def filename(self) -> str:
        return f"{self.symbol}_{self.month}_{'ext' if self.extended_hours else 'rth'}.parquet"


@dataclass(frozen=True, slots=True)
class CachedMonth:
    """A parsed, validated month of bars and the UTC instant it was fetched."""

    bars: pd.DataFrame
    fetched_at: datetime


class MonthCache:
    """LRU of ``max_months`` months in memory, mirrored to ``directory`` when given."""

    def __init__(self, max_months: int = 24, directory: Path | None = None) -> None:
        self.max_months = max_months
        self.directory = directory
        self._memory: OrderedDict[MonthKey, CachedMonth] = OrderedDict()

    def __len__(self) -> int:
        return len(self._memory)

    def get(self, key: MonthKey) -> CachedMonth | None:
        month = self._memory.get(key)
        if month is not None:
            self._memory.move_to_end(key)
            return month
        month = self._read(key)
        if month is not None:
            self._remember(key, month)
        return month

    def put(self, key: MonthKey, month: CachedMonth) -> None:
        self._remember(key, month)
        if self.directory is not None:
            self._write(key, month)

    def _remember(self, key: MonthKey, month: CachedMonth) -> None:
        self._memory[key] = month
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_months:
            self._memory.popitem(last=False)

    def _write(self, key: MonthKey, month: CachedMonth) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert self.directory is not None
        self.directory.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pandas(month.bars, preserve_index=False)
        metadata = {**(table.schema.metadata or {}),
                    _FETCHED_AT: month.fetched_at.isoformat().encode()}
        path = self.directory / key.filename
        tmp = path.with_suffix(".tmp")
        pq.write_table(table.replace_schema_metadata(metadata), tmp)
        os.replace(tmp, path)  # readers never see half a file

    def _read(self, key: MonthKey) -> CachedMonth | None:
        if self.directory is None or not (self.directory / key.filename).is_file():
            return None
        import pyarrow.parquet as pq

        path = self.directory / key.filename
        try:
            table = pq.read_table(path)
            fetched_at = datetime.fromisoformat(table.schema.metadata[_FETCHED_AT].decode())
            return CachedMonth(table.to_pandas(), fetched_at)
        except Exception as exc:  # a damaged cache file is a miss, never a failure
            log.warning("ignoring unreadable Alpha Vantage cache file %s: %s", path, exc)
            return None
