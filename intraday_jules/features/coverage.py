"""Do stored feature rows stand for a set of bars? The check behind training on the table.

Training and evaluation may take their features from the ``features`` table (written by the
``features/feature_table`` asset) instead of rebuilding them. That is only the same data if,
for every (symbol, session) partition of the bars, the stored rows of the model's spec version
are exactly the rows ``build_features`` would return for those bars: one row per bar inside
the spec's hours, no more, no fewer. A partition with no rows, or with rows for other minutes
(bars re-ingested since), is refused by name; nothing is recomputed silently. Rows of
partitions the bars do not cover are dropped, since they would shift a normaliser fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from intraday_jules.domain.calendar import partition_key_for
from intraday_jules.features.sessions import new_york_day, session_bounds
from intraday_jules.features.spec import FeatureSpec

_EPOCH = date(1970, 1, 1)
_SHOWN = 10  # partitions named in a message; the rest are counted


class MissingFeaturesError(ValueError):
    """Stored feature rows do not cover the bars; names the partitions to materialise."""

    def __init__(self, origin: str, spec_version: str, missing: Sequence[str],
                 mismatched: Sequence[str] = (), other_versions: Sequence[str] = ()) -> None:
        self.missing, self.mismatched = tuple(missing), tuple(mismatched)
        self.partitions = tuple(sorted({*self.missing, *self.mismatched}))
        self.other_versions = tuple(other_versions)
        parts = []
        if self.missing:
            parts.append(f"no rows for {len(self.missing)} partition(s) {_listed(self.missing)}")
        if self.mismatched:
            parts.append(f"rows that are not the bars' minutes (bars changed since) for "
                         f"{len(self.mismatched)} partition(s) {_listed(self.mismatched)}")
        if self.other_versions:
            parts.append("rows there are of other spec version(s) "
                         f"{', '.join(v[:12] for v in self.other_versions)}")
        super().__init__(
            f"{origin}: the features table does not cover the bars for spec "
            f"{spec_version[:12]}: {'; '.join(parts)}; materialise features/feature_table for "
            f"partitions {_listed(self.partitions)} first")


def _listed(keys: Sequence[str]) -> str:
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


@dataclass(frozen=True)
class Coverage:
    """Partition keys ("YYYY-MM-DD|SYMBOL") with bars but no stored rows (``missing``) or
    rows for other minutes (``mismatched``); ``keep``: stored rows of the bars' partitions."""

    missing: tuple[str, ...]
    mismatched: tuple[str, ...]
    keep: np.ndarray


def feature_rows_of_bars(bars: pd.DataFrame, spec: FeatureSpec,
                         symbols: Sequence[str]) -> pd.DataFrame:
    """(symbol, ts_us, day) of every bar of ``symbols`` that ``build_features`` keeps: inside
    its XNYS session's regular (or, per spec, extended) hours."""
    rows = bars[bars["symbol"].isin(list(symbols))]
    ts_us = _ts_us(pd.DatetimeIndex(rows["ts"]))
    day = new_york_day(ts_us) if len(ts_us) else np.array([], dtype=np.int64)
    bounds = session_bounds(day) if len(ts_us) else np.zeros((4, 0), dtype=np.int64)
    lo, hi = (bounds[0], bounds[1]) if spec.hours == "regular" else (bounds[2], bounds[3])
    inside = (ts_us >= lo) & (ts_us < hi)
    return pd.DataFrame({"symbol": rows["symbol"].astype(str).to_numpy(dtype=object)[inside],
                         "ts": ts_us[inside], "day": day[inside]})


def coverage(stored: pd.DataFrame, bars: pd.DataFrame, spec: FeatureSpec,
             symbols: Sequence[str]) -> Coverage:
    """Compare stored rows (indexed by (symbol, ts)) with the rows the bars call for."""
    want = feature_rows_of_bars(bars, spec, symbols)
    ts_us = _ts_us(pd.DatetimeIndex(stored.index.get_level_values("ts")))
    have = pd.DataFrame({"symbol": stored.index.get_level_values("symbol").astype(str)
                         .to_numpy(dtype=object), "ts": ts_us,
                         "day": new_york_day(ts_us) if len(ts_us) else ts_us,
                         "row": np.arange(len(stored))})
    both = want.merge(have, on=["symbol", "ts", "day"], how="outer", indicator=True)
    side = both["_merge"].astype(str)
    per = pd.DataFrame({"symbol": both["symbol"], "day": both["day"],
                        "bars": side != "right_only", "rows": side != "left_only",
                        "same": side == "both"}).groupby(["symbol", "day"])
    summary = per.agg({"bars": "any", "rows": "any", "same": "all"})
    missing = summary.index[summary["bars"] & ~summary["rows"]]
    mismatched = summary.index[summary["bars"] & summary["rows"] & ~summary["same"]]
    covered = set(summary.index[summary["bars"]])
    keep = np.fromiter(((s, d) in covered for s, d in zip(have["symbol"], have["day"],
                                                          strict=True)),
                       dtype=bool, count=len(have))
    return Coverage(_keys(missing), _keys(mismatched), keep)


def checked_feature_frame(features: pd.DataFrame, bars: pd.DataFrame, spec: FeatureSpec,
                          symbols: Sequence[str], *, origin: str = "bars",
                          other_versions: Sequence[str] = ()) -> pd.DataFrame:
    """``features`` cut to the bars' partitions, after checking it was built with ``spec``
    and covers every bar of ``symbols``; ``MissingFeaturesError`` (naming partitions) if not,
    ``ValueError`` for another spec version or missing columns."""
    built_with = features.attrs.get("spec_version")
    if built_with != spec.version:
        raise ValueError(f"{origin}: feature rows are of spec {str(built_with)[:12]}, the "
                         f"model's is {spec.version[:12]}")
    absent = [c for c in (*spec.names, "warmup") if c not in features.columns]
    if absent or list(features.index.names) != ["symbol", "ts"]:
        raise ValueError(f"{origin}: feature rows lack columns {absent} or are not indexed "
                         f"by (symbol, ts) (index {list(features.index.names)})")
    found = coverage(features, bars, spec, symbols)
    if found.missing or found.mismatched:
        raise MissingFeaturesError(origin, spec.version, found.missing, found.mismatched,
                                   other_versions)
    if found.keep.all():
        return features
    kept = features[found.keep]
    kept.attrs["spec_version"] = spec.version
    return kept


def _ts_us(ts: pd.DatetimeIndex) -> np.ndarray:
    if ts.tz is None:
        raise ValueError("feature and bar timestamps must be tz-aware UTC")
    out: np.ndarray = ts.tz_convert("UTC").tz_localize(None).as_unit("us").to_numpy().view(
        np.int64)
    return out


def _keys(index: pd.Index) -> tuple[str, ...]:
    pairs = sorted((int(day), str(symbol)) for symbol, day in index)
    return tuple(partition_key_for(_EPOCH + timedelta(days=d), s) for d, s in pairs)
