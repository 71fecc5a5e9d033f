"""Bar intake: refuse bad bars, assemble complete minutes (one bar per symbol).

Bad input never reaches a decision: a bar for an unknown symbol or another session, a
duplicate, one arriving out of order, or one whose close is older than ``max_bar_delay`` when
it arrives (stale) is refused with a reason; the loop records it and goes to REDUCING. Bars
outside regular hours are simply not traded. A traded bar must also be plausible
(``plausibility.py``: exact money, physical bounds, the day and minute bands): an absurd tick
is refused the same way, naming the field and its value, and is never stored, marked,
featurized or decided on.

A minute is decided once every symbol's bar for it has arrived. If a later minute starts
first, the incomplete one is abandoned (its bars are still stored): the env does the same (it
keeps only the minutes every symbol has), so live and backtest decide on the same minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from intraday_jules.domain.bars import BAR, Bar
from intraday_jules.domain.calendar import session_date_of
from intraday_jules.trading.config import SessionConfig
from intraday_jules.trading.plausibility import Implausible, PriceReferences


@dataclass(frozen=True, slots=True)
class Minute:
    """Every symbol's bar for minute ``ts`` (bar start), in the session's symbol order."""

    ts: datetime
    bars: tuple[Bar, ...]

    @property
    def close_time(self) -> datetime:
        return self.ts + BAR

    def closes(self) -> dict[str, float]:
        return {bar.symbol: bar.close for bar in self.bars}


@dataclass(frozen=True, slots=True)
class Refused:
    """A bar the loop must not use, and why (in words fit for the risk event)."""

    bar: Bar
    reason: str
    implausible: Implausible | None = None

    def detail(self) -> dict[str, str]:
        """The risk event's detail: the bar's ts, and the bad field and value if known."""
        out = {"bar_ts": self.bar.ts.isoformat().replace("+00:00", "Z")}
        if self.implausible is not None:
            out |= {"field": self.implausible.field, "value": self.implausible.value}
        return out


@dataclass(slots=True)
class Intake:
    """What one offered bar produced."""

    minute: Minute | None = None
    refused: Refused | None = None
    abandoned: tuple[Bar, ...] = ()
    accepted: bool = False
    notice: str | None = None


@dataclass(slots=True)
class BarIntake:
    """Per-session intake state; ``resume`` is the last minute already decided (restart)."""

    config: SessionConfig
    resume: datetime | None = None
    references: PriceReferences = field(default_factory=PriceReferences)
    _last: dict[str, datetime] = field(default_factory=dict)
    _pending: dict[str, Bar] = field(default_factory=dict)
    _pending_ts: datetime | None = None

    def offer(self, bar: Bar, now: datetime) -> Intake:
        """Judge ``bar`` (arrived at ``now``); a completed minute comes back in ``minute``."""
        problem = self._problem(bar, now)
        if problem is not None:
            return Intake(refused=Refused(bar, problem))
        window = self.config.window
        if not window.open <= bar.ts < window.close:
            return Intake()  # pre/post-market: not traded
        implausible, notice = self.references.judge(bar)
        if implausible is not None:
            where = f"bar {bar.symbol} {bar.ts.isoformat()}"
            return Intake(refused=Refused(bar, f"{where}: {implausible.reason}", implausible))
        self.references.accept(bar)
        result = Intake(accepted=True, notice=notice)
        if self._pending_ts is not None and bar.ts > self._pending_ts:
            result.abandoned = tuple(self._pending.values())
            self._pending.clear()
        self._pending_ts = bar.ts
        self._pending[bar.symbol] = bar
        self._last[bar.symbol] = bar.ts
        if len(self._pending) == len(self.config.symbols):
            ordered = tuple(self._pending[s] for s in self.config.symbols)
            result.minute = Minute(bar.ts, ordered)
            self._pending.clear()
            self.resume = bar.ts
        return result

    def _problem(self, bar: Bar, now: datetime) -> str | None:
        where = f"bar {bar.symbol} {bar.ts.isoformat()}"
        if bar.symbol not in self.config.symbols:
            return f"{where}: symbol {bar.symbol} is not traded in this session"
        if session_date_of(bar.ts) != self.config.session:
            return f"{where}: belongs to session {session_date_of(bar.ts)}, not " \
                   f"{self.config.session}"
        seen = self._seen(bar.symbol)
        if seen is not None and bar.ts == seen:
            return f"{where}: duplicate (this minute was already received)"
        if (seen is not None and bar.ts < seen) or (
                self._pending_ts is not None and bar.ts < self._pending_ts):
            return f"{where}: out of order (newer bars were already received)"
        age = now - (bar.ts + BAR)
        if age > self.config.max_bar_delay:
            return (f"{where}: stale timestamp (closed {age.total_seconds():.0f} s before it "
                    f"arrived; limit {self.config.max_bar_delay.total_seconds():.0f} s)")
        return None

    def _seen(self, symbol: str) -> datetime | None:
        last, done = self._last.get(symbol), self.resume
        if last is None or done is None:
            return last or done
        return max(last, done)
