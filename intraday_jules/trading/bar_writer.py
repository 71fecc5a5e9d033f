"""Storing a minute's bars on the latency path (see ``BarStore.upsert_bars``).

``BarStore.upsert`` validates every batch with ``validate_bars`` first: right for vendor
files, but heavy pandas work for a two-row frame on the decision-latency path.
The loop's bars are ``Bar`` objects, which validated themselves on construction, and the intake
has refused duplicates; ``upsert_bars`` writes them through the same idempotent upsert.
"""

from __future__ import annotations

from collections.abc import Sequence

from intraday_jules.domain.bars import Bar
from intraday_jules.market_data.store import BarStore


def write_bars(store: BarStore, bars: Sequence[Bar], source: str) -> None:
    """Upsert already-validated ``bars`` with provenance ``source`` (idempotent)."""
    store.upsert_bars(bars, source)
