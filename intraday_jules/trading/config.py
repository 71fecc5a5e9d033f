"""What one trading session is: its date, symbols, money, timing rules and cost model.

The timing rules are the env's (``env.schedule``: one rule for the env, the model and the
loop), so a live session decides on exactly the bars a backtest decides on: no decision during
the first ``lookback`` complete minutes (feature warm-up), and a forced flatten decided on the
bar that closes at ``flatten_minutes_before_close`` before the session close (15:54 ET bar ->
fills at the 15:55 open; 12:54/12:55 on half days, from the XNYS calendar). After that bar
nothing new is opened.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cached_property

from intraday_jules.domain.bars import BAR
from intraday_jules.domain.calendar import SessionWindow, session_window
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS, validate_symbol
from intraday_jules.env.actions import PositionRules
from intraday_jules.env.data import DEFAULT_FLATTEN_BARS, DEFAULT_LOOKBACK
from intraday_jules.env.execution_model import ExecutionConfig
from intraday_jules.env.schedule import SessionSchedule
from intraday_jules.features.spec import DEFAULT_SPEC, FeatureSpec
from intraday_jules.trading.plausibility import PlausibilityBand

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Phase(StrEnum):
    """What a complete minute is for."""

    WARMUP = "warmup"  # features still warming up: no decision
    DECIDE = "decide"  # the policy decides
    HOLD = "hold"  # between two decisions (decision interval > 1): the book is held
    FLATTEN = "flatten"  # the session's forced flatten (policy consulted, action ignored)
    CLOSED = "closed"  # after the flatten: only flattening of leftovers


@dataclass(frozen=True)
class SessionConfig:
    """One session's settings.

    session: the XNYS session (America/New_York date).
    symbols: traded symbols, in observation/action order (first = most significant digit).
    starting_cash: cash deposited before the first fill ever recorded in the ledger.
    lookback: complete minutes of warm-up before the first decision (the env's lookback).
    flatten_minutes_before_close: positions are closed by this many minutes before the close.
    decision_interval_minutes: the model decides every k-th minute from the session's open
        (1, 5 or 15: its ExecutionSpec's); the minutes between are HOLD.
    max_bar_delay: a bar whose close is older than this when it arrives is stale (bad input);
        no bar for this long (heartbeat) is stale data.
    max_order_delay: on restart, an order recorded but never sent is still sent if its decision
        bar closed less than this ago; otherwise it has expired and is recorded as cancelled.
    position_rules: what sell/hold/buy mean in shares (None: from the risk limits' cap).
    execution: the cost model of the simulated broker and of the report's modelled prices.
    feature_spec: the features the policy sees (must match the model's).
    band: the intake's plausibility band against bad ticks (``plausibility.py``).
    """

    session: date
    symbols: tuple[str, ...] = DEFAULT_SYMBOLS
    starting_cash: Decimal = Decimal("10000")
    lookback: int = DEFAULT_LOOKBACK
    flatten_minutes_before_close: int = DEFAULT_FLATTEN_BARS
    decision_interval_minutes: int = 1
    max_bar_delay: timedelta = timedelta(seconds=90)
    max_order_delay: timedelta = timedelta(seconds=60)
    position_rules: PositionRules | None = None
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)
    feature_spec: FeatureSpec = DEFAULT_SPEC
    band: PlausibilityBand = field(default_factory=PlausibilityBand)

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", tuple(validate_symbol(s) for s in self.symbols))
        if not self.symbols or len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"symbols must be distinct and not empty, got {self.symbols}")
        if self.lookback < 0 or self.flatten_minutes_before_close < 1:
            raise ValueError("need lookback >= 0 and flatten_minutes_before_close >= 1")
        self.window  # noqa: B018 - refuses a date that is not a session, at construction

    @cached_property
    def window(self) -> SessionWindow:
        return session_window(self.session)

    @cached_property
    def flatten_at(self) -> datetime:
        """The instant by which positions are closed: the flatten decision's bar closes then."""
        return self.schedule.flatten_at + BAR

    @cached_property
    def schedule(self) -> SessionSchedule:
        """The session's decision-bar schedule (``env.schedule``: the env's and the model's)."""
        return SessionSchedule(self.session, self.lookback, self.flatten_minutes_before_close,
                               self.decision_interval_minutes)

    def rules(self, max_position_usd: Decimal) -> PositionRules:
        """The sizing rules: explicit ones, else step = cap = the risk limit (the seed's)."""
        if self.position_rules is not None:
            return self.position_rules
        cap = float(max_position_usd)
        return PositionRules(max_position_notional=cap, step_notional=cap, allow_short=False)


def minute_phase(config: SessionConfig, ts: datetime, minutes_before: int,
                 previous_ts: datetime | None, features_warm: Callable[[], bool]) -> Phase:
    """The phase of the complete minute ``ts``: ``env.schedule``'s role of aligned row
    ``minutes_before`` (complete minutes of the session already processed; ``previous_ts``:
    the last of them). ``features_warm``: whether every symbol's features are past warm-up
    (asked only when it matters). Pure, so a restart recomputes the same phases."""
    schedule = config.schedule
    ts_us = micros(ts)
    if ts_us < schedule.flatten_us and minutes_before < config.lookback:
        return Phase.WARMUP
    warm = ts_us >= schedule.flatten_us or features_warm()
    previous = None if previous_ts is None else micros(previous_ts)
    return Phase(schedule.role(minutes_before, warm, ts_us, previous).value)


def needs_features(config: SessionConfig, ts: datetime, minutes_before: int) -> bool:
    """Whether minute ``ts`` can be a decision (so its features must be looked up)."""
    return minutes_before >= config.lookback or micros(ts) >= config.schedule.flatten_us


def consults(phase: Phase, features_warm: bool) -> bool:
    """The policy sees a minute when it decides, and at the flatten once warm (the env's
    forced flatten is a step the model observes too, so its state sees the same bars)."""
    return features_warm and phase in (Phase.DECIDE, Phase.FLATTEN)


def micros(ts: datetime) -> int:
    """Epoch microseconds of a tz-aware ``ts`` (exact: no float on the way)."""
    delta = ts - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
