"""``LivePolicy``: the promoted model deciding on a live session's bars, restart-safe.

Each call gets the session's bars so far. Features are rebuilt from them with the one
``build_features`` (causal: rows already seen come out bit for bit the same) and normalised
with the model's own statistics. The LSTM starts each session from zero, as in training and
evaluation, and steps once per decision bar in order; a restarted process therefore replays
the session's decision bars and reaches exactly the state (and actions) of a process that
ran all session. Decision bars are those of the one schedule (``env.schedule``, which the env
and the trading loop use too): after the ``lookback`` warm-up bars, up to the forced-flatten
bar (``flatten_bars_before_close + 1`` minutes before the XNYS close, from the calendar, half
days included); later bars get no decision.

Three entry points share one pipeline: ``decide(session_bars)`` streams the new bars'
features (``SessionFeatureStream``), ``decide_new(new_bars)`` hands the stream only the new
bars (per symbol, epoch-microsecond arrays: no frame, no time-zone conversion per bar; the
inference service's sessions use it), and ``decide_features(ts, raw, ...)`` takes one
minute's raw feature rows as the trading loop computes them (``features.SessionStreams``);
all normalise with ``ModelInputs`` and step the LSTM through the same ``_step``.

Positions in the observation are the book the policy intended (its own actions under the
env's ``PositionRules``, flat at the session start) unless ``book`` gives the actual shares
held before a decision bar (e.g. from the ledger after a risk denial); pass the same
``book`` after a restart to rebuild the same state.

Actions: ``mode="sample"`` (default) draws from the policy's probabilities with a uniform
keyed on (seed, bar timestamp), which is what evaluation seed ``seed`` measured and is the
same after any restart; ``mode="argmax"`` takes the most probable action.

Cost per bar: features are computed incrementally (``live_features.SessionFeatureStream``):
only the new bars' rows, normalised and aligned exactly as the full rebuild
(``build_features`` -> ``Normalizer.apply`` -> ``MarketArrays``) would produce them, bit for
bit, then one LSTM step. A call whose bars do not extend the ones already seen (a restart,
another session, a corrected bar) replays them once. ``incremental=False`` rebuilds
everything on every call (the reference the incremental path is tested against).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from intraday_jules.agent.bundle import ModelBundle
from intraday_jules.agent.live_features import (
    LiveRows,
    ModelInputs,
    NotStreamable,
    SessionFeatureStream,
)
from intraday_jules.agent.live_input import SymbolBars
from intraday_jules.agent.model_store import PROMOTED, ModelStore
from intraday_jules.agent.policy import ActionMode, PolicyStepper, choose_actions
from intraday_jules.domain.calendar import session_date_of
from intraday_jules.env import MarketArrays
from intraday_jules.env.actions import ACTION_NAMES, decode_action
from intraday_jules.env.schedule import SessionSchedule
from intraday_jules.features import DEFAULT_SPEC, FeatureSpec, build_features, streams

Book = Mapping[pd.Timestamp, Sequence[int]]


@dataclass(frozen=True)
class LiveDecision:
    """The policy's decision on one bar (acted on at the next bar's open)."""

    ts: pd.Timestamp
    session: date
    action: int
    per_asset: dict[str, str]
    probabilities: tuple[float, ...]
    per_asset_probabilities: dict[str, tuple[float, float, float]]
    shares_before: tuple[int, ...]
    forced_flatten: bool


class LivePolicy:
    """Decisions of one model over live sessions (see the module docstring)."""

    def __init__(self, bundle: ModelBundle, *, live_spec: FeatureSpec = DEFAULT_SPEC,
                 seed: int = 0, mode: ActionMode = "sample", incremental: bool = True) -> None:
        bundle.check_compatible(live_spec)
        self.bundle, self.seed, self.mode = bundle, seed, mode
        self.symbols = bundle.symbols
        self.config = bundle.config.env
        self.rules = self.config.position_rules()
        self._stepper = PolicyStepper(bundle.model.policy, batch=1)
        self.stream = (SessionFeatureStream(bundle.spec, self.symbols, bundle.normalizers)
                       if incremental and streams(bundle.spec) else None)
        self.inputs = ModelInputs(bundle.spec, self.symbols, bundle.normalizers)
        self._session: date | None = None
        self._schedule: SessionSchedule | None = None
        self._flatten: pd.Timestamp | None = None
        self.history: list[LiveDecision] = []
        self._done: set[pd.Timestamp] = set()
        self._shares = (0,) * len(self.symbols)

    @classmethod
    def from_store(cls, store: ModelStore, ref: str = PROMOTED, *,
                   live_spec: FeatureSpec = DEFAULT_SPEC, seed: int = 0,
                   mode: ActionMode = "sample") -> LivePolicy:
        """The model ``ref`` (default: the promoted one), refused if its FeatureSpec or
        observation shape differs from ``live_spec``'s."""
        return cls(store.load(ref, live_spec=live_spec), live_spec=live_spec, seed=seed,
                   mode=mode)

    @property
    def lstm_state(self) -> np.ndarray:
        """(h, c) of the actor LSTM after the last processed decision bar."""
        return self._stepper.hidden

    def decide(self, session_bars: pd.DataFrame, *, book: Book | None = None
               ) -> LiveDecision | None:
        """Process every new decision bar in ``session_bars`` (one session's bars so far) and
        return the decision on the latest bar, or None if that bar is not a decision bar
        (still in the warm-up, or after the forced flatten)."""
        return self._decide_rows(self._rows(session_bars), book)

    def decide_new(self, new_bars: Sequence[SymbolBars], *, book: Book | None = None
                   ) -> LiveDecision | None:
        """``decide`` on the bars handed over so far followed by ``new_bars``, without a
        frame: ``new_bars`` per symbol in ``symbols`` order, each sorted and newer than that
        symbol's bars handed over before (by ``decide`` or ``decide_new``). The same answer
        as ``decide`` on all those bars, bit for bit, at one bar's cost. Raises
        ``NotStreamable`` (nothing consumed) where ``decide`` would rebuild in full: the
        model's spec has no streaming form, or the bars span two sessions; call ``decide``
        with the session's frame instead."""
        if self.stream is None:
            raise NotStreamable(f"the features of spec {self.bundle.spec.version} have no "
                                "streaming form")
        return self._decide_rows(self.stream.extend(new_bars), book)

    def _decide_rows(self, rows: LiveRows | None, book: Book | None) -> LiveDecision | None:
        """Step every new decision row of ``rows``; the decision on the latest row, if any."""
        if rows is None or rows.last_ts is None:
            return None
        if rows.session != self._session:
            self._start_session(rows.session)
        latest: LiveDecision | None = None
        held = book or {}
        for k in np.flatnonzero(self._decision_rows(rows)):
            ts = pd.Timestamp(rows.ts[k]).tz_localize("UTC")
            if ts not in self._done:
                shares = tuple(int(s) for s in held.get(ts, self._shares))
                latest = self._step(ts, rows.features[k], rows.close[k], shares)
        last_ts = pd.Timestamp(rows.last_ts).tz_localize("UTC")
        return latest if latest is not None and latest.ts == last_ts else None

    def decide_features(self, ts: datetime, raw: np.ndarray, closes: Sequence[float], *,
                        warm: bool, row: int, shares: Sequence[int] | None = None
                        ) -> LiveDecision | None:
        """The decision on one minute from its raw feature rows, as the trading loop computes
        them: ``raw`` float64 [n_symbols, n_features] in ``symbols`` and spec order (not
        normalised), ``closes`` the bars' closes, ``warm`` every symbol past feature warm-up,
        ``row`` the minute's aligned row in the session, ``shares`` held before it (default:
        the policy's intended book). None when the minute is no decision bar (or was decided
        already). Minutes must come in time order, every decision bar of the session."""
        when = pd.Timestamp(ts).tz_convert("UTC")
        session = session_date_of(when.to_pydatetime())
        if session != self._session:
            self._start_session(session)
        assert self._schedule is not None
        ts_us = when.value // 1000
        if when in self._done or not self._schedule.is_decision(row, warm, ts_us):
            return None
        features = self.inputs.apply(np.asarray(raw, dtype=np.float64)[None],
                                     np.array([not warm]), [ts_us])[0]
        held = self._shares if shares is None else tuple(int(s) for s in shares)
        return self._step(when, features, np.asarray(closes, dtype=np.float64), held)

    def _start_session(self, session: date) -> None:
        self._session = session
        self._schedule = SessionSchedule(session, self.config.lookback,
                                         self.config.flatten_bars_before_close,
                                         self.config.decision_interval_minutes)
        self._flatten = pd.Timestamp(self._schedule.flatten_at).tz_convert("UTC")
        self._stepper.reset()
        self.history = []
        self._done = set()
        self._shares = (0,) * len(self.symbols)

    def _rows(self, bars: pd.DataFrame) -> LiveRows | None:
        """The session's new aligned rows (all of them without a stream, or when the stream
        refuses the bars: it then replays the next call's bars from the start)."""
        if self.stream is not None:
            try:
                return self.stream.update(bars)
            except NotStreamable:
                self.stream.reset()
        arrays = self._arrays(bars)
        return None if arrays is None else LiveRows.of_arrays(arrays)

    def _arrays(self, bars: pd.DataFrame) -> MarketArrays | None:
        """The full rebuild: features, normalisation and arrays from all of ``bars``."""
        bars = bars[bars["symbol"].isin(self.symbols)]
        if bars.empty or set(bars["symbol"]) != set(self.symbols):
            return None
        spec = self.bundle.spec
        features = build_features(bars, spec, origin="live session bars")
        normalised = pd.concat([self.bundle.normalizers[s].apply(features.loc[[s]])
                                for s in self.symbols])
        arrays = MarketArrays.from_frames(bars, normalised, self.symbols, spec.names,
                                          lookback=None)
        if arrays.n_bars == 0:
            return None
        if len(arrays.session_dates) != 1:
            raise ValueError(f"LivePolicy.decide takes one session's bars, got sessions "
                             f"{arrays.session_dates}")
        return arrays

    def _decision_rows(self, rows: LiveRows) -> np.ndarray:
        """The schedule's decision rows among ``rows``. Warm-up rows are a prefix of the
        session (each symbol's bar count only grows), so a row past both warm-ups is a
        decision row whatever rows follow."""
        assert self._schedule is not None
        ts_us = rows.ts.astype("datetime64[us]").view(np.int64)
        return self._schedule.decision_rows(rows.index, rows.warmup, ts_us)

    def _step(self, ts: pd.Timestamp, features: np.ndarray, close: np.ndarray,
              shares: tuple[int, ...]) -> LiveDecision:
        """One LSTM step on decision bar ``ts``: ``features`` float32 [n, F] normalised."""
        obs = self._observation(features, close, shares)
        probs = self._stepper.step(obs[None, :], np.array([not self.history]))[0]
        action = int(choose_actions(probs[None, :], self.mode, [self.seed], ts.value // 1000)[0])
        forced = ts == self._flatten
        per_asset = decode_action(action, len(self.symbols))
        self._shares = (0,) * len(shares) if forced else tuple(
            s + self.rules.order_quantity(a, s, float(c))
            for s, a, c in zip(shares, per_asset, close, strict=True))
        assert self._session is not None
        decision = LiveDecision(
            ts=ts, session=self._session, action=action,
            per_asset={s: ACTION_NAMES[a] for s, a in zip(self.symbols, per_asset, strict=True)},
            probabilities=tuple(float(p) for p in probs),
            per_asset_probabilities=_marginals(probs, self.symbols), shares_before=shares,
            forced_flatten=bool(forced))
        self.history.append(decision)
        self._done.add(ts)
        return decision

    def _observation(self, features: np.ndarray, close: np.ndarray, shares: tuple[int, ...]
                     ) -> np.ndarray:
        """Exactly the env's observation: clipped features, then position / cap."""
        clip, cap = self.config.observation_clip, self.config.max_position_notional
        flat = np.clip(features.reshape(-1), -clip, clip).astype(np.float32)
        positions = [min(max(s * float(c) / cap, -clip), clip)
                     for s, c in zip(shares, close, strict=True)]
        return np.concatenate([flat, np.asarray(positions, dtype=np.float32)])


def _marginals(probs: np.ndarray, symbols: tuple[str, ...]
               ) -> dict[str, tuple[float, float, float]]:
    """Per asset, P(sell), P(hold), P(buy), summed over the other assets' actions."""
    joint = probs.reshape((3,) * len(symbols))
    out = {}
    for i, symbol in enumerate(symbols):
        axes = tuple(j for j in range(len(symbols)) if j != i)
        marginal = joint.sum(axis=axes) if axes else joint
        out[symbol] = (float(marginal[0]), float(marginal[1]), float(marginal[2]))
    return out
