"""ExecutionSpec: how a model trades, saved with it and hashed like its FeatureSpec.

A model's policy is only what was evaluated under the rules it was evaluated with: which
symbols, whether a sell may go short, how many dollars one buy or sell moves, the cap, how
often it decides, when the book is flattened, the warm-up, the cost model and the size of
the book its percentages are measured on. Those rules are data saved beside the model
(``execution_spec.json``) and every consumer (training, evaluation, the gate, the trading
loop, the inference service) builds its ``PositionRules`` and cost model from them, so what
is evaluated is what trades. ``version`` is the sha256 of the canonical JSON, as for
``FeatureSpec``.

``check_honoured`` compares a spec with what a session can do (its risk limits and symbols)
and raises ``ExecutionSpecMismatch`` listing every reason it cannot, naming both sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Any

from intraday_jules.env.actions import PositionRules
from intraday_jules.env.data import DEFAULT_FLATTEN_BARS, DEFAULT_LOOKBACK
from intraday_jules.env.execution_model import ExecutionConfig, ExecutionModel
from intraday_jules.env.portfolio_env import TradingEnvConfig
from intraday_jules.env.schedule import DECISION_INTERVALS, SessionSchedule, check_interval
from intraday_jules.features.spec import canonical_hash, canonical_json
from intraday_jules.risk.limits import RiskLimits

#: Decision intervals (minutes) the env and the one schedule (``env.schedule``) implement.
SUPPORTED_DECISION_INTERVALS: tuple[int, ...] = DECISION_INTERVALS


class ExecutionSpecMismatch(ValueError):
    """A model's execution spec cannot be honoured by the configured broker and risk limits
    (or by this code); ``reasons`` lists every one, each naming both sides."""

    def __init__(self, model: str, reasons: Sequence[str]) -> None:
        self.model = model
        self.reasons = tuple(reasons)
        super().__init__(f"model {model}'s execution spec cannot be honoured: "
                         + "; ".join(self.reasons))


@dataclass(frozen=True)
class ExecutionSpec:
    """The trading rules of one model (see the module docstring).

    symbols: traded symbols in observation/action order.
    allow_short: False = long-only (a sell never takes a position below zero).
    step_notional / max_position_notional: $ one buy adds or one sell removes / cap on
        |shares| x price when an order is sized (``PositionRules``).
    decision_interval_minutes: minutes between decisions (1: every bar; 5 or 15: the bars
        5 or 15 minutes apart from the session's open, plus the forced flatten; see
        ``env.schedule``). Reward and curriculum are training choices, not trading rules,
        and are recorded with the model's ``TrainingConfig`` only.
    flatten_bars_before_close: the book is flat for the session's last N bars.
    lookback: warm-up bars at the start of each session with no decision.
    costs: the cost model (``ExecutionConfig``: spread, impact, commission, multiplier).
    evaluation_book_usd: the book (initial cash) percentages are measured on.
    """

    symbols: tuple[str, ...]
    allow_short: bool = False
    step_notional: float = 1000.0
    max_position_notional: float = 1000.0
    decision_interval_minutes: int = 1
    flatten_bars_before_close: int = DEFAULT_FLATTEN_BARS
    lookback: int = DEFAULT_LOOKBACK
    costs: ExecutionConfig = field(default_factory=ExecutionConfig)
    evaluation_book_usd: float = 10_000.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", tuple(str(s) for s in self.symbols))
        if not self.symbols or len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"ExecutionSpec.symbols must be distinct and not empty, "
                             f"got {self.symbols}")
        if not isinstance(self.allow_short, bool):
            raise ValueError(f"ExecutionSpec.allow_short must be a bool, got "
                             f"{self.allow_short!r}")
        for name in ("step_notional", "max_position_notional", "evaluation_book_usd"):
            value = float(getattr(self, name))
            if not value > 0 or value == float("inf"):
                raise ValueError(f"ExecutionSpec.{name} must be a finite number > 0, "
                                 f"got {getattr(self, name)!r}")
            object.__setattr__(self, name, value)
        for name, least in (("decision_interval_minutes", 1), ("flatten_bars_before_close", 1),
                            ("lookback", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"ExecutionSpec.{name} must be an integer >= {least}, "
                                 f"got {value!r}")

    # ---- building ----------------------------------------------------------------------

    @classmethod
    def from_env(cls, env: TradingEnvConfig, symbols: Sequence[str],
                 costs: ExecutionConfig | None = None) -> ExecutionSpec:
        """The spec of a model trained on ``env`` (a ``TradingEnvConfig``) for ``symbols``
        with the cost model ``costs`` (default: the one ``ExecutionModel()`` uses)."""
        return cls(symbols=tuple(symbols), allow_short=env.allow_short,
                   step_notional=env.step_notional,
                   max_position_notional=env.max_position_notional,
                   decision_interval_minutes=env.decision_interval_minutes,
                   flatten_bars_before_close=env.flatten_bars_before_close,
                   lookback=env.lookback, costs=costs or ExecutionConfig(),
                   evaluation_book_usd=env.initial_cash)

    @classmethod
    def from_training(cls, config: Any, symbols: Sequence[str],
                      costs: ExecutionConfig | None = None) -> ExecutionSpec:
        """From a ``TrainingConfig`` (its ``env``) or a ``TradingEnvConfig``."""
        env = config if isinstance(config, TradingEnvConfig) else config.env
        return cls.from_env(env, symbols, costs)

    # ---- what consumers build from it --------------------------------------------------

    def position_rules(self) -> PositionRules:
        return PositionRules(self.max_position_notional, self.step_notional, self.allow_short)

    def execution_config(self) -> ExecutionConfig:
        return self.costs

    def execution_model(self) -> ExecutionModel:
        return ExecutionModel(self.costs)

    def env_config(self, base: TradingEnvConfig | None = None) -> TradingEnvConfig:
        """``base`` (penalties, clip, episode settings) with this spec's trading rules."""
        check_supported_interval(self.decision_interval_minutes)
        return replace(base or TradingEnvConfig(), allow_short=self.allow_short,
                       step_notional=self.step_notional,
                       max_position_notional=self.max_position_notional,
                       decision_interval_minutes=self.decision_interval_minutes,
                       flatten_bars_before_close=self.flatten_bars_before_close,
                       lookback=self.lookback, initial_cash=self.evaluation_book_usd)

    def session_schedule(self, session: date) -> SessionSchedule:
        """The one decision-bar schedule of ``session`` under this spec (lookback, flatten,
        decision interval): what the env decides on, for ``LivePolicy`` and the loop."""
        return SessionSchedule(session, self.lookback, self.flatten_bars_before_close,
                               check_interval(self.decision_interval_minutes))

    def matches_env(self, env: TradingEnvConfig) -> list[str]:
        """Fields where ``env`` disagrees with this spec (empty: they agree)."""
        derived = ExecutionSpec.from_env(env, self.symbols, self.costs)
        mine, theirs = self.to_dict(), derived.to_dict()
        return [f"{k}: spec {mine[k]!r}, env {theirs[k]!r}" for k in mine if mine[k] != theirs[k]]

    # ---- the session's side ------------------------------------------------------------

    def unhonoured(self, limits: RiskLimits, symbols: Sequence[str] | None = None
                   ) -> list[str]:
        """Every reason ``limits`` (and a session trading ``symbols``) cannot honour this
        spec, each naming both sides; empty when it can."""
        reasons = []
        if self.allow_short and not limits.allow_short:
            reasons.append("the model trades long/short (allow_short=True) but the risk "
                           "limits forbid shorts (allow_short=False)")
        cap = Decimal(repr(self.max_position_notional))
        if cap > limits.max_position_usd:
            reasons.append(f"the model's position cap ${cap} is above the risk engine's max "
                           f"position per asset ${limits.max_position_usd}")
        step = Decimal(repr(self.step_notional))
        if step > limits.max_order_usd:
            reasons.append(f"the model's position step ${step} is above the risk engine's "
                           f"max order ${limits.max_order_usd}")
        if symbols is not None and set(symbols) != set(self.symbols):
            reasons.append(f"the model trades {', '.join(self.symbols)} but the session "
                           f"trades {', '.join(symbols)}")
        if self.decision_interval_minutes not in SUPPORTED_DECISION_INTERVALS:
            reasons.append(f"the model decides every {self.decision_interval_minutes} minutes "
                           f"but the trading loop decides every "
                           f"{', '.join(str(k) for k in SUPPORTED_DECISION_INTERVALS)} "
                           "minutes only")
        return reasons

    def check_honoured(self, limits: RiskLimits, symbols: Sequence[str] | None = None, *,
                       model: str = "unsaved") -> None:
        """Raise ``ExecutionSpecMismatch`` (every reason) unless ``limits`` honour it."""
        reasons = self.unhonoured(limits, symbols)
        if reasons:
            raise ExecutionSpecMismatch(model, reasons)

    # ---- identity ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"symbols": list(self.symbols), "allow_short": self.allow_short,
                "step_notional": self.step_notional,
                "max_position_notional": self.max_position_notional,
                "decision_interval_minutes": self.decision_interval_minutes,
                "flatten_bars_before_close": self.flatten_bars_before_close,
                "lookback": self.lookback, "costs": self.costs.to_dict(),
                "evaluation_book_usd": self.evaluation_book_usd}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExecutionSpec:
        return cls(symbols=tuple(data["symbols"]), allow_short=data["allow_short"],
                   step_notional=float(data["step_notional"]),
                   max_position_notional=float(data["max_position_notional"]),
                   decision_interval_minutes=data["decision_interval_minutes"],
                   flatten_bars_before_close=data["flatten_bars_before_close"],
                   lookback=data["lookback"],
                   costs=ExecutionConfig.from_dict(dict(data["costs"])),
                   evaluation_book_usd=float(data["evaluation_book_usd"]))

    def canonical_json(self) -> str:
        return canonical_json(self.to_dict())

    @cached_property
    def version(self) -> str:
        """sha256 hex of ``canonical_json()``: the spec's identity beside the model (hashed
        as the FeatureSpec is)."""
        return canonical_hash(self.to_dict())


def check_supported_interval(minutes: int) -> None:
    """Refuse a decision interval the env and the schedule do not implement."""
    check_interval(minutes)
