"""From bars to the arrays a model trains or is judged on, without leaking the future.

``prepare_data`` builds the features (the one ``build_features``), or takes the rows the
``features/feature_table`` asset stored (``features=``, read with
``features.store.read_feature_frame``: the same values, bit for bit, checked to cover every
bar), fits normalisation on the TRAIN window only (per symbol, so NVDA and MSFT each come out
on a common scale, which is what lets the foundation's weights serve MSFT in the transfer), and
returns ``MarketArrays`` for every session of the bars. Windows are whole sessions
(``DateWindow``); splits put an embargo of whole sessions between train, validation and test,
so no feature or reward window spans two splits. Training is refused on partitions that failed
blocking data-quality checks (``is_partition_blocked``), and a window too short for the
lookback is a clear error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from intraday_jules.domain.calendar import NEW_YORK
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.env import MarketArrays, WindowTooShortError
from intraday_jules.env.data import DEFAULT_FLATTEN_BARS, DEFAULT_LOOKBACK
from intraday_jules.features import DEFAULT_SPEC, FeatureSpec, build_features
from intraday_jules.features.coverage import checked_feature_frame
from intraday_jules.features.normalize import Normalizer

#: ``is_partition_blocked(symbol, session)``: True when that ingestion partition failed a
#: blocking data-quality check (the Dagster wiring backs it with data_quality_reports).
BlockedPredicate = Callable[[str, date], bool]


class TrainingDataError(ValueError):
    """The data cannot be used to train or evaluate a model; the message says why and where."""


class BlockedPartitionError(TrainingDataError):
    """The training window contains partitions that failed blocking data-quality checks."""

    def __init__(self, origin: str, blocked: Sequence[tuple[str, date]]) -> None:
        self.blocked = tuple(blocked)
        listed = ", ".join(f"{s} {d.isoformat()}" for s, d in self.blocked[:10])
        more = f" and {len(self.blocked) - 10} more" if len(self.blocked) > 10 else ""
        super().__init__(f"{origin}: training refused: {len(self.blocked)} partition(s) failed "
                         f"blocking data-quality checks: {listed}{more}")


@dataclass(frozen=True, order=True)
class DateWindow:
    """Whole sessions with start <= session date <= end (America/New_York dates)."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"window end {self.end} is before its start {self.start}")

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def overlaps(self, other: DateWindow) -> bool:
        return self.start <= other.end and other.start <= self.end

    def utc_bounds(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """[midnight New York of start, midnight New York after end), as UTC instants."""
        first = pd.Timestamp(self.start).tz_localize(NEW_YORK).tz_convert("UTC")
        after = pd.Timestamp(self.end + timedelta(days=1)).tz_localize(NEW_YORK)
        return first, after.tz_convert("UTC")

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, str]) -> DateWindow:
        return cls(date.fromisoformat(data["start"]), date.fromisoformat(data["end"]))

    @classmethod
    def of(cls, sessions: Sequence[date]) -> DateWindow:
        if not sessions:
            raise ValueError("a window needs at least one session")
        return cls(min(sessions), max(sessions))


@dataclass(frozen=True)
class Splits:
    """Train, validation and (optional) test windows, in time order, ``embargo`` whole
    sessions apart (sessions in an embargo belong to no split)."""

    train: DateWindow
    validation: DateWindow
    test: DateWindow | None
    embargo: int

    def to_dict(self) -> dict[str, object]:
        return {"train": self.train.to_dict(), "validation": self.validation.to_dict(),
                "test": None if self.test is None else self.test.to_dict(),
                "embargo_sessions": self.embargo}


def split_sessions(sessions: Sequence[date], *, validation_fraction: float = 0.2,
                   test_fraction: float = 0.2, embargo_sessions: int = 1) -> Splits:
    """Chronological train/validation/test split of ``sessions`` with embargoes between.

    Validation and test get at least one session each (test none when ``test_fraction`` is
    0); the train window gets the rest. Raises ``TrainingDataError`` if too few sessions."""
    days = sorted(set(sessions))
    n_val = max(1, round(len(days) * validation_fraction))
    n_test = max(1, round(len(days) * test_fraction)) if test_fraction > 0 else 0
    gaps = embargo_sessions * (2 if n_test else 1)
    n_train = len(days) - n_val - n_test - gaps
    if n_train < 1 or embargo_sessions < 0:
        raise TrainingDataError(f"{len(days)} sessions cannot be split into train, "
                                f"{n_val} validation, {n_test} test sessions with "
                                f"{embargo_sessions}-session embargoes")
    val_start = n_train + embargo_sessions
    test_start = val_start + n_val + embargo_sessions
    return Splits(train=DateWindow.of(days[:n_train]),
                  validation=DateWindow.of(days[val_start:val_start + n_val]),
                  test=DateWindow.of(days[test_start:test_start + n_test]) if n_test else None,
                  embargo=embargo_sessions)


@dataclass(frozen=True, eq=False)
class PreparedData:
    """Normalised arrays for every session of the bars, and how they were made.

    arrays: all symbols and sessions (features normalised with ``normalizers``).
    normalizers: per symbol, fit on ``train_window`` only (or carried from a model).
    data_hashes: per symbol, sha256 of the train window's bars (identity of the training data).
    features_from: "bars" (built by ``build_features``) or "stored rows" (the features table).
    """

    arrays: MarketArrays
    spec: FeatureSpec
    normalizers: Mapping[str, Normalizer]
    train_window: DateWindow | None
    data_hashes: Mapping[str, str]
    origin: str
    lookback: int = DEFAULT_LOOKBACK
    features_from: str = "bars"
    train_sessions: tuple[date, ...] | None = None

    @property
    def sessions(self) -> tuple[date, ...]:
        return self.arrays.session_dates

    def train_arrays(self, symbols: Sequence[str] | None = None) -> MarketArrays:
        """What a model trains on: the train window's sessions, or exactly
        ``train_sessions`` when the training set is a list (no other session's bar)."""
        if self.train_window is None:
            raise TrainingDataError(f"{self.origin}: no train window: nothing to train on")
        if self.train_sessions is None:
            return self.window(self.train_window, symbols)
        return self.select_sessions(self.train_sessions, symbols)

    def select_sessions(self, dates: Sequence[date],
                        symbols: Sequence[str] | None = None) -> MarketArrays:
        """The arrays of exactly the sessions in ``dates`` (possibly non-contiguous, e.g. a
        CPCV split's test groups), refused clearly if the lookback leaves no decision bar."""
        arrays = self.arrays if symbols is None else self.arrays.select(symbols)
        where = _describe(dates)
        try:
            cut = arrays.select_sessions(dates)
            cut.decision_schedule(self.lookback, DEFAULT_FLATTEN_BARS)
        except WindowTooShortError as exc:
            raise WindowTooShortError(f"{self.origin}: {where}: {exc}") from None
        except ValueError as exc:
            raise TrainingDataError(f"{self.origin}: {where}: {exc}") from None
        return cut

    def window(self, window: DateWindow, symbols: Sequence[str] | None = None) -> MarketArrays:
        """The arrays of ``window``'s sessions (refused, clearly, if the lookback leaves no
        decision bar in it)."""
        arrays = self.arrays if symbols is None else self.arrays.select(symbols)
        try:
            cut = arrays.between(window.start, window.end)
            cut.decision_schedule(self.lookback, DEFAULT_FLATTEN_BARS)
        except WindowTooShortError as exc:
            raise WindowTooShortError(f"{self.origin}: window {window}: {exc}") from None
        except ValueError as exc:
            raise TrainingDataError(f"{self.origin}: window {window}: {exc}") from None
        return cut


def prepare_data(bars: pd.DataFrame, *, train_window: DateWindow | None,
                 symbols: Sequence[str] = DEFAULT_SYMBOLS, spec: FeatureSpec | None = None,
                 normalizers: Mapping[str, Normalizer] | None = None,
                 is_partition_blocked: BlockedPredicate | None = None,
                 lookback: int = DEFAULT_LOOKBACK, origin: str = "bars",
                 features: pd.DataFrame | None = None,
                 train_sessions: Sequence[date] | None = None) -> PreparedData:
    """Features -> per-symbol normalisation (fit on ``train_window`` only, unless carried in
    ``normalizers``) -> ``MarketArrays``.

    ``features``: stored rows in ``build_features``' layout (``read_feature_frame``) used
    instead of building them from ``bars`` (still needed for prices); refused unless built
    with ``spec`` and covering every bar (``MissingFeaturesError`` names the partitions).
    ``train_sessions`` (instead of ``train_window``): train on exactly these sessions, a
    non-contiguous set such as a CPCV split's. Features are still built on every bar (each
    within its own session, so excluding a session changes no other's), but the normalisers,
    the blocked-partition check and the data hashes see the listed sessions only, and
    ``train_arrays`` holds no other session's bar; the result's ``train_window`` is their
    span (the model's record).
    Raises ``BlockedPartitionError`` if ``is_partition_blocked`` flags any (symbol, session)
    of the training sessions, ``WindowTooShortError`` if no session (or no train session)
    outlasts the lookback, ``TrainingDataError`` for a missing symbol or normaliser, or a
    training session without bars."""
    spec = DEFAULT_SPEC if spec is None else spec
    symbols = tuple(symbols)
    missing = sorted(set(symbols) - set(bars["symbol"].unique()))
    if missing:
        raise TrainingDataError(f"{origin}: no bars for symbol(s) {missing}")
    days = _train_days(train_window, train_sessions, origin)
    train_window = DateWindow.of(sorted(days)) if days is not None else train_window
    train_bars = bars if days is None else bars[_bar_days(bars).isin(days).to_numpy()]
    if train_window is not None and is_partition_blocked is not None:
        refuse_blocked(train_bars, symbols, train_window, is_partition_blocked, origin)
    features_from = "bars" if features is None else "stored rows"
    features = _features(bars, features, spec, symbols, origin)
    train_features = features if days is None else features[_feature_days(features).isin(days)]
    _check_long_enough(train_features, train_window, lookback, origin)
    fitted = _normalizers(train_features, spec, symbols, train_window, normalizers or {},
                          origin)
    normalised = pd.concat([fitted[s].apply(features.loc[[s]]) for s in symbols])
    try:
        arrays = MarketArrays.from_frames(bars, normalised, symbols, spec.names,
                                          lookback=lookback)
    except WindowTooShortError as exc:
        raise WindowTooShortError(f"{origin}: {exc}") from None
    data = PreparedData(arrays, spec, fitted, train_window,
                        bars_hashes(train_bars, symbols, train_window), origin, lookback,
                        features_from, None if days is None else tuple(sorted(days)))
    if train_window is not None:
        data.train_arrays()  # the training sessions themselves must outlast the lookback
    return data


def _train_days(window: DateWindow | None, sessions: Sequence[date] | None,
                origin: str) -> frozenset[date] | None:
    """The listed training sessions (None: the whole train window, if any, trains)."""
    if sessions is None:
        return None
    if window is not None:
        raise TrainingDataError(f"{origin}: give train_window or train_sessions, not both")
    if not sessions:
        raise TrainingDataError(f"{origin}: train_sessions is empty: nothing to train on")
    return frozenset(sessions)


def _bar_days(bars: pd.DataFrame) -> pd.Series:
    """Each bar's session (New York date)."""
    days: pd.Series = bars["ts"].dt.tz_convert(NEW_YORK).dt.date
    return days


def _feature_days(features: pd.DataFrame) -> pd.Index:
    """Each feature row's session (New York date)."""
    return pd.Index(pd.DatetimeIndex(features.index.get_level_values("ts"))
                    .tz_convert(NEW_YORK).date)


def _describe(dates: Sequence[date]) -> str:
    ordered = sorted(dates)
    if not ordered:
        return "no sessions"
    return (f"{len(ordered)} session(s) {ordered[0].isoformat()}..{ordered[-1].isoformat()}")


def _features(bars: pd.DataFrame, stored: pd.DataFrame | None, spec: FeatureSpec,
              symbols: tuple[str, ...], origin: str) -> pd.DataFrame:
    """Built from the bars, or the stored rows once checked to be exactly those."""
    if stored is None:
        return build_features(bars[bars["symbol"].isin(symbols)], spec, origin=origin)
    return checked_feature_frame(stored, bars, spec, symbols, origin=origin)


def _check_long_enough(features: pd.DataFrame, window: DateWindow | None, lookback: int,
                       origin: str) -> None:
    """Refuse, before fitting anything, a window whose sessions all end within the lookback
    (no decision bar), naming the window, the longest session and the lookback."""
    ts = features.index.get_level_values("ts")
    days = pd.Series(ts.tz_convert(NEW_YORK).date, index=features.index)
    if window is not None:
        days = days[[window.contains(d) for d in days]]
    counts = days.groupby([days.index.get_level_values("symbol"), days.to_numpy()]).size()
    longest = int(counts.groupby(level=0).max().min()) if len(counts) else 0
    if longest <= lookback + DEFAULT_FLATTEN_BARS:
        where = f"window {window}" if window is not None else "the bars"
        raise WindowTooShortError(
            f"{origin}: {where} is shorter than the lookback: its longest session has "
            f"{longest} bars, but a decision needs more than lookback {lookback} warm-up "
            f"bars + {DEFAULT_FLATTEN_BARS} flatten bars + 1")


def _normalizers(features: pd.DataFrame, spec: FeatureSpec, symbols: tuple[str, ...],
                 train_window: DateWindow | None, given: Mapping[str, Normalizer],
                 origin: str) -> dict[str, Normalizer]:
    out: dict[str, Normalizer] = {}
    for symbol in symbols:
        if symbol in given:
            given[symbol].check_spec(spec)
            out[symbol] = given[symbol]
            continue
        if train_window is None:
            raise TrainingDataError(f"{origin}: no normaliser for {symbol} and no train "
                                    "window to fit one on")
        start, end = train_window.utc_bounds()
        try:
            out[symbol] = Normalizer.fit(features.loc[[symbol]], spec, train_start=start,
                                         train_end=end)
        except ValueError as exc:
            raise TrainingDataError(f"{origin}: {symbol} train window {train_window}: "
                                    f"{exc}") from None
    return out


def refuse_blocked(bars: pd.DataFrame, symbols: Sequence[str], window: DateWindow,
                   is_blocked: BlockedPredicate, origin: str) -> None:
    """``BlockedPartitionError`` if any (symbol, session) of ``window`` in the bars is
    flagged by ``is_blocked`` (checked before anything is read or built)."""
    days = bars["ts"].dt.tz_convert(NEW_YORK).dt.date
    present = bars.loc[bars["symbol"].isin(symbols), ["symbol"]].assign(day=days)
    pairs = sorted({(str(s), d) for s, d in present.itertuples(index=False, name=None)
                    if window.contains(d)}, key=lambda p: (p[1], p[0]))
    blocked = [(s, d) for s, d in pairs if is_blocked(s, d)]
    if blocked:
        raise BlockedPartitionError(origin, blocked)


def cut_to_window(bars: pd.DataFrame, window: DateWindow) -> pd.DataFrame:
    """Bars whose New York date lies in ``window``."""
    first, after = window.utc_bounds()
    return bars[(bars["ts"] >= first) & (bars["ts"] < after)].reset_index(drop=True)


def bars_hashes(bars: pd.DataFrame, symbols: Sequence[str],
                window: DateWindow | None = None) -> dict[str, str]:
    """Per symbol, sha256 of (ts, open, high, low, close, volume) in ts order: the same bars
    give the same hash on any run, any other bar changes it."""
    frame = bars if window is None else cut_to_window(bars, window)
    out = {}
    for symbol in sorted(symbols):
        rows = frame[frame["symbol"] == symbol].sort_values("ts")
        digest = hashlib.sha256()
        ts = rows["ts"].dt.tz_convert("UTC").dt.tz_localize(None).dt.as_unit("us")
        digest.update(ts.to_numpy().view(np.int64).astype("<i8").tobytes())
        for column in ("open", "high", "low", "close", "volume"):
            digest.update(rows[column].to_numpy(np.float64).astype("<f8").tobytes())
        out[symbol] = digest.hexdigest()
    return out
