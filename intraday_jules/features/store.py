"""The ``features`` table: write (idempotent upsert) and read features by spec version.

Layout (migration 0003): key (symbol, ts, spec_version), one float column per feature of the
default spec, ``warmup``; ``feature_specs`` maps each version to its full spec. Wide columns
because float columns are the fastest to move on both backends (binary COPY of float8 on
PostgreSQL, REAL on SQLite) and stay queryable; a spec with other feature names needs a new
migration and is refused here until then.

Writes are per partition and all-or-nothing: the whole frame is checked first (columns, spec,
finite values) and then written in one transaction, so a refused or failed partition leaves
no rows. Re-writing a partition overwrites in place (ON CONFLICT DO UPDATE); identical rows
are not rewritten (IS DISTINCT FROM guard), so re-materialising costs no table bloat.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from intraday_jules.db.types import format_sqlite_ts, portable_json
from intraday_jules.features import _store_io as io
from intraday_jules.features.coverage import (
    MissingFeaturesError,
    checked_feature_frame,
    feature_rows_of_bars,
)
from intraday_jules.features.spec import DEFAULT_SPEC, FeatureSpec

#: The float columns of the ``features`` table (migration 0003), in order.
FEATURE_COLUMNS: tuple[str, ...] = (
    "ret_1", "ret_5", "ret_15", "ret_50", "rv_15", "rv_50", "rsi_14", "ema_trend",
    "vwap_dist", "volume_z", "hl_range", "session_time",
)


class FeatureWriteError(ValueError):
    """A feature partition was refused; names the partition and the problem. Nothing written."""

    def __init__(self, partition: str, problem: str) -> None:
        self.partition, self.problem = partition, problem
        super().__init__(f"features partition {partition}: {problem}; nothing was written")


def write_features(engine: Engine, features: pd.DataFrame, spec: FeatureSpec | None = None, *,
                   partition: str) -> int:
    """Upsert one partition's features (as returned by ``build_features``); returns rows.

    Refuses (``FeatureWriteError``, nothing written): an empty frame, columns other than the
    spec's plus ``warmup``, a spec whose names are not the table's columns, a frame built with
    another spec, an all-NaN column or any non-finite value (named with symbol and ts).
    """
    spec = DEFAULT_SPEC if spec is None else spec
    table = _checked_table(features, spec, partition)
    try:
        with engine.begin() as conn:
            _remember_spec(conn, spec)
            if conn.dialect.name == "postgresql":
                io.pg_upsert(conn, table, FEATURE_COLUMNS)
            else:
                io.sqlite_upsert(conn, table, FEATURE_COLUMNS)
    except Exception as exc:  # the transaction rolled back: say which partition failed
        exc.add_note(f"while writing features partition {partition}; nothing was written")
        raise
    return len(table.symbol)


def read_features(engine: Engine, spec_version: str, *, symbols: Sequence[str] | None = None,
                  start: Any = None, end: Any = None) -> pd.DataFrame:
    """Stored features of one spec version, [start, end) if given, indexed by (symbol, ts)
    and sorted, columns as ``build_features`` returns them (float64 values bit-exact)."""
    columns = ["symbol", "ts", *FEATURE_COLUMNS, "warmup"]
    with engine.connect() as conn:
        is_pg = conn.dialect.name == "postgresql"
        where, params = _where(spec_version, symbols, start, end,
                               (lambda k: f"%({k})s") if is_pg else (lambda k: f":{k}"))
        read = io.pg_read if is_pg else io.sqlite_read
        raw = read(conn, columns, where, params)
    frame = raw.set_index(["symbol", "ts"])
    frame.attrs["spec_version"] = spec_version
    return frame


def read_feature_frame(engine: Engine, spec: FeatureSpec, bars: pd.DataFrame, *,
                       symbols: Sequence[str], origin: str = "bars") -> pd.DataFrame:
    """The stored rows of ``spec`` for exactly the bars of ``symbols``: what
    ``build_features`` would return for them, bit for bit (the ``features/feature_table``
    asset's rows, read instead of recomputed).

    Raises ``MissingFeaturesError`` naming every (session, symbol) partition with no rows of
    ``spec`` (or rows of other minutes), and the spec versions stored there instead, if any;
    ``ValueError`` for a spec whose feature names the table cannot hold."""
    if tuple(spec.names) != FEATURE_COLUMNS:
        raise ValueError(f"{origin}: spec {spec.version[:12]} has features {list(spec.names)};"
                         f" the features table stores {list(FEATURE_COLUMNS)}")
    wanted = feature_rows_of_bars(bars, spec, symbols)
    if wanted.empty:
        raise MissingFeaturesError(origin, spec.version, ())
    first, last = (pd.Timestamp(int(t), unit="us", tz="UTC") for t in
                   (wanted["ts"].min(), wanted["ts"].max() + 1))
    rows = read_features(engine, spec.version, symbols=list(symbols), start=first, end=last)
    try:
        return checked_feature_frame(rows, bars, spec, symbols, origin=origin)
    except MissingFeaturesError as exc:
        others = stored_versions(engine, symbols=list(symbols), start=first, end=last)
        raise MissingFeaturesError(origin, spec.version, exc.missing, exc.mismatched,
                                   [v for v in others if v != spec.version]) from None


def stored_versions(engine: Engine, *, symbols: Sequence[str], start: Any,
                    end: Any) -> list[str]:
    """The spec versions with rows for ``symbols`` in [start, end), sorted."""
    with engine.connect() as conn:
        is_pg = conn.dialect.name == "postgresql"
        where, params = _where(None, symbols, start, end,
                               (lambda k: f"%({k})s") if is_pg else (lambda k: f":{k}"))
        if not is_pg:
            params = {k: format_sqlite_ts(v) if hasattr(v, "tzinfo") else v
                      for k, v in params.items()}
        raw = conn.exec_driver_sql(
            f"SELECT DISTINCT spec_version FROM features WHERE {where}", params)
        return sorted(str(v) for (v,) in raw)


def _where(spec_version: str | None, symbols: Sequence[str] | None, start: Any, end: Any,
           mark: Callable[[str], str]) -> tuple[str, dict[str, Any]]:
    """The WHERE clause and its parameters, with the driver's placeholder style (every
    spec version when ``spec_version`` is None)."""
    clauses: list[str] = []
    params: dict[str, Any] = {}
    if spec_version is not None:
        clauses.append(f"spec_version = {mark('v')}")
        params["v"] = spec_version
    if symbols is not None:
        names = [f"s{i}" for i in range(len(symbols))]
        clauses.append(f"symbol IN ({', '.join(mark(n) for n in names) or 'NULL'})")
        params.update(dict(zip(names, symbols, strict=True)))
    for op_, key, value in ((">=", "start", start), ("<", "end", end)):
        if value is not None:
            clauses.append(f"ts {op_} {mark(key)}")
            params[key] = pd.Timestamp(value).tz_convert("UTC").to_pydatetime()
    return " AND ".join(clauses) or "TRUE", params


_SPECS = sa.table("feature_specs", sa.column("spec_version", sa.String(64)),
                  sa.column("spec", portable_json()))


def stored_spec(engine: Engine, spec_version: str) -> FeatureSpec | None:
    """The spec behind a stored version, or None if no features of it were ever written."""
    query = sa.select(_SPECS.c.spec).where(_SPECS.c.spec_version == spec_version)
    with engine.connect() as conn:
        data = conn.execute(query).scalar()
    return None if data is None else FeatureSpec.from_dict(data)


def _remember_spec(conn: Connection, spec: FeatureSpec) -> None:
    """Insert the spec's definition once; concurrent writers of one version do not clash."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(_SPECS).values(spec_version=spec.version, spec=spec.to_dict())
    conn.execute(statement.on_conflict_do_nothing(index_elements=["spec_version"]))


def _checked_table(features: pd.DataFrame, spec: FeatureSpec, partition: str) -> io.Columns:
    """Validate everything before any I/O and return the columns ready to send."""
    if tuple(spec.names) != FEATURE_COLUMNS:
        raise FeatureWriteError(partition, f"spec {spec.version[:12]} has features"
                                f" {list(spec.names)}; the features table stores"
                                f" {list(FEATURE_COLUMNS)} (add a migration first)")
    built_with = features.attrs.get("spec_version")
    if built_with is not None and built_with != spec.version:
        raise FeatureWriteError(partition, f"frame was built with spec {built_with[:12]},"
                                f" not {spec.version[:12]}")
    expected = [*spec.names, "warmup"]
    if list(features.columns) != expected:
        raise FeatureWriteError(partition, f"columns {list(features.columns)} are not the"
                                f" spec's {expected}")
    if list(features.index.names) != ["symbol", "ts"]:
        raise FeatureWriteError(partition, f"index {list(features.index.names)} is not"
                                " (symbol, ts)")
    if features.empty:
        raise FeatureWriteError(partition, "no feature rows (bars missing entirely?)")
    if not features.index.is_unique:
        raise FeatureWriteError(partition, "duplicate (symbol, ts) rows")
    symbols = features.index.get_level_values("symbol").astype(str).to_numpy(dtype=object)
    ts = features.index.get_level_values("ts")
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise FeatureWriteError(partition, f"ts must be tz-aware UTC, got {ts.dtype}")
    values = {n: features[n].to_numpy(dtype=np.float64) for n in spec.names}
    _check_finite(values, symbols, ts, partition)
    ts_us = ts.tz_convert("UTC").tz_localize(None).as_unit("us").to_numpy().view(np.int64)
    return io.Columns(symbols, ts_us, spec.version, values,
                      features["warmup"].to_numpy(dtype=bool))


def _check_finite(values: dict[str, np.ndarray], symbols: np.ndarray, ts: pd.DatetimeIndex,
                  partition: str) -> None:
    for name, column in values.items():
        bad = ~np.isfinite(column)
        if bad.all():
            raise FeatureWriteError(partition, f"feature column {name} is entirely NaN/inf")
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise FeatureWriteError(partition, f"feature {name} is {column[i]} at symbol"
                                    f" {symbols[i]}, ts {ts[i].isoformat()}"
                                    f" ({int(bad.sum())} such rows)")
