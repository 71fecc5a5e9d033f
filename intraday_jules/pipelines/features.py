"""Build and store the features of one (session, symbol) partition, gated by data quality.

The one code path behind the ``features/feature_table`` asset: a partition whose latest
``market_data/bars`` quality report failed an ERROR check is refused (naming the partition and
the checks) and no feature row is written for it; the feature frame is checked against
``data_contracts/features.yaml`` before it is written (a failed check writes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine

from intraday_jules.domain.calendar import session_window
from intraday_jules.features.build import build_features
from intraday_jules.features.spec import DEFAULT_SPEC, FeatureSpec
from intraday_jules.features.store import write_features
from intraday_jules.market_data.store import BarStore
from intraday_jules.quality import (
    BARS_ASSET_KEY,
    QualityReport,
    blocking_reason,
    run_quality_checks,
)


class PartitionBlocked(RuntimeError):
    """The partition's bars failed blocking checks (or were never checked): no features."""


@dataclass(frozen=True)
class FeaturePartition:
    partition_key: str
    rows: int
    warmup_rows: int
    spec_version: str
    report: QualityReport


def require_unblocked(engine: Engine, partition_key: str) -> None:
    """``PartitionBlocked`` (saying why) unless the partition's bars passed their checks."""
    reason = blocking_reason(engine, partition_key, BARS_ASSET_KEY)
    if reason is not None:
        raise PartitionBlocked(f"{reason}; no features are built on it")


def build_partition_features(engine: Engine, bars: pd.DataFrame, *, session: date,
                             symbol: str, partition_key: str,
                             spec: FeatureSpec = DEFAULT_SPEC,
                             use_gx: bool = True) -> FeaturePartition:
    """Check the gate, build, contract-check and write one partition's features (``use_gx``:
    the contract's Great Expectations engine too, as ``QualityGate.use_gx``)."""
    require_unblocked(engine, partition_key)
    features = build_features(bars, spec, origin=f"partition {partition_key}")
    frame = features.reset_index().assign(spec_version=spec.version)
    report = run_quality_checks(frame, symbols=[symbol], sessions=[session],
                                extended_hours=spec.hours == "extended", contract="features",
                                use_gx=use_gx)
    if report.blocking_failed:
        failed = "; ".join(f"{c.name}: {c.failures[0].detail if c.failures else c.note}"
                           for c in report.checks if c.blocking)
        raise PartitionBlocked(f"partition {partition_key}: features failed their contract "
                               f"({failed}); nothing was written")
    rows = write_features(engine, features, spec, partition=partition_key)
    return FeaturePartition(partition_key, rows, int(features["warmup"].sum()), spec.version,
                            report)


def session_bars_window(session: date, extended: bool) -> tuple[pd.Timestamp, pd.Timestamp]:
    window = session_window(session)
    if extended:
        return pd.Timestamp(window.extended_open), pd.Timestamp(window.extended_close)
    return pd.Timestamp(window.open), pd.Timestamp(window.close)


def store_partition_features(store: BarStore, session: date, symbol: str, partition_key: str,
                             spec: FeatureSpec = DEFAULT_SPEC,
                             use_gx: bool = True) -> FeaturePartition:
    """Read the partition's stored bars (the spec's hours) and build, check and write its
    features: the ``features/feature_table`` asset and ``ingest --features`` both call this.
    ``PartitionBlocked`` if no bars are stored or they failed blocking checks."""
    start, end = session_bars_window(session, spec.hours == "extended")
    bars = store.read([symbol], start.to_pydatetime(), end.to_pydatetime())
    if bars.empty:
        raise PartitionBlocked(f"partition {partition_key}: no bars stored; materialize "
                               "market_data/bars")
    return build_partition_features(store.engine, bars, session=session, symbol=symbol,
                                    partition_key=partition_key, spec=spec, use_gx=use_gx)
