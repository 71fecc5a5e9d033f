"""Every Prometheus metric of IntradayJules, in one module, pushed to a Pushgateway.

Why this shape:
- One table (``TRADING_METRICS``, ``PIPELINE_METRICS``, ``TRAINING_METRICS``) names every
  metric, so the naming rule (``intraday_jules_<area>_<name>_<unit>``, ``METRIC_NAME_RE``) and
  the Grafana dashboard can be checked against it by tests, and a metric cannot be born in
  some other module.
- Each ``TradingMetrics`` / ``PipelineMetrics`` / ``TrainingMetrics`` owns its own
  ``CollectorRegistry``: never the process-global default, so tests, a restarted session and
  a Dagster run in the same process do not collide ("Duplicated timeseries") or leak values
  into each other.
- The trading run and Dagster runs are short-lived or not scrapeable, so values are *pushed*
  (``push``). A push replaces the whole group (job + grouping key): use a stable grouping key
  (e.g. ``{"deployment": "paper"}``) so a new session overwrites yesterday's state instead of
  leaving a HALTED group behind. Counters count from zero in each process; after a restart the
  loop may seed them from the ledger (``count_trade(..., n=...)``).
- A push failure is logged (URL without credentials) and counted, never raised: metrics must
  not stop trading.
- Inputs are plain ``float``/``int``/``Decimal``/``str``/``datetime``: no import of trading code.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit, urlunsplit

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import basic_auth_handler, default_handler, push_to_gateway

from intraday_jules.domain.clock import Clock, system_clock

log = logging.getLogger(__name__)

Number = float | int | Decimal
MetricKind = Literal["gauge", "counter", "histogram"]

AREAS = ("portfolio", "position", "pnl", "trading", "risk", "decision", "bar", "broker",
         "policy", "ingest", "quality", "training", "metrics")
UNITS = ("usd", "shares", "seconds", "timestamp_seconds", "total", "bool", "level", "per_second",
         "ratio")
#: ``intraday_jules_<area>_<name>_<unit>``; counters use Prometheus's ``total`` as their unit.
METRIC_NAME_RE = re.compile(
    rf"^intraday_jules_(?:{'|'.join(AREAS)})_[a-z][a-z0-9_]*?_(?:{'|'.join(UNITS)})$")
RISK_STATES = ("ACTIVE", "REDUCING", "HALTED")  # index = severity, as risk.TradingState
#: Decision latency target is p99 < 50 ms: fine buckets below it, coarse ones to see outliers.
DECISION_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05,
                            0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
TRADING_JOB = "intraday_jules_trading"
PIPELINE_JOB = "intraday_jules_pipeline"
TARGETS_JOB = "intraday_jules_targets"
DEFAULT_PUSH_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its full exposition name, kind, help text and label names."""

    name: str
    kind: MetricKind
    help: str
    labels: tuple[str, ...] = ()


def _g(name: str, help_: str, *labels: str) -> MetricSpec:
    return MetricSpec(name, "gauge", help_, labels)


def _c(name: str, help_: str, *labels: str) -> MetricSpec:
    return MetricSpec(name, "counter", help_, labels)


PUSH_FAILURES = _c("intraday_jules_metrics_push_failures_total",
                   "Pushes to the Pushgateway that failed (reported by the next push)")
TRADING_METRICS: tuple[MetricSpec, ...] = (
    _g("intraday_jules_portfolio_value_usd", "Account value: cash plus positions at last price"),
    _g("intraday_jules_portfolio_cash_usd", "Cash balance"),
    _g("intraday_jules_position_size_shares", "Signed position in shares", "symbol"),
    _g("intraday_jules_position_notional_usd", "Signed position value at last price", "symbol"),
    _c("intraday_jules_trading_trades_total", "Fills (trades) this process", "symbol", "side"),
    _g("intraday_jules_pnl_realized_usd", "Realized P&L of the session"),
    _g("intraday_jules_pnl_unrealized_usd", "Unrealized P&L of open positions"),
    _g("intraday_jules_pnl_daily_usd", "Today's P&L (realized + unrealized - costs)"),
    _g("intraday_jules_risk_daily_loss_limit_usd", "Daily loss that latches HALTED"),
    _g("intraday_jules_risk_drawdown_usd", "Drawdown from the high-water mark (positive)"),
    _g("intraday_jules_risk_drawdown_limit_usd", "Drawdown that latches HALTED"),
    _g("intraday_jules_risk_state_level", "Trading state: 0 ACTIVE, 1 REDUCING, 2 HALTED"),
    _g("intraday_jules_risk_state_bool", "1 for the current trading state, else 0", "state"),
    _g("intraday_jules_risk_halted_bool", "Kill switch: 1 while trading is HALTED"),
    MetricSpec("intraday_jules_decision_latency_seconds", "histogram",
               "Bar close to order submitted (or decision recorded), seconds"),
    _g("intraday_jules_bar_newest_timestamp_seconds",
       "Close time of the newest bar seen (unix seconds); age = time() - value",
       "symbol", "source"),
    _g("intraday_jules_bar_age_seconds", "Age of the newest bar when it was observed",
       "symbol", "source"),
    _c("intraday_jules_bar_received_total", "Bars received by the trading loop",
       "symbol", "source"),
    _g("intraday_jules_broker_connected_bool", "1 while the broker connection is up"),
    _g("intraday_jules_trading_run_failed_bool",
       "1 once the trading run crashed (flattened, HALTED, raised); 0 while a run trades"),
    _c("intraday_jules_policy_actions_total", "Actions chosen by the policy", "symbol", "action"),
    PUSH_FAILURES,
)
PIPELINE_METRICS: tuple[MetricSpec, ...] = (
    _c("intraday_jules_ingest_rows_total", "Bar rows written by ingestion", "symbol", "source"),
    _g("intraday_jules_ingest_last_success_timestamp_seconds",
       "When ingestion last wrote a partition (unix seconds)", "symbol", "source"),
    _g("intraday_jules_ingest_newest_bar_timestamp_seconds",
       "Close time of the newest bar the ingest stored (unix seconds)", "symbol", "source"),
    _c("intraday_jules_quality_checks_failed_total",
       "Data-quality checks that failed (0 for each check that ran and passed)",
       "check", "severity"),
    PUSH_FAILURES,
)
TRAINING_METRICS: tuple[MetricSpec, ...] = (
    _c("intraday_jules_training_steps_total", "Environment steps the training run did", "model"),
    _g("intraday_jules_training_steps_per_second",
       "Training throughput: environment steps per wall-clock second", "model"),
    _g("intraday_jules_training_mean_episode_reward_usd",
       "Mean reward of the episodes finished in the last rollout ($ net of costs, x reward "
       "scale)", "model"),
    _g("intraday_jules_training_last_success_timestamp_seconds",
       "When the training run finished (unix seconds)", "model"),
    PUSH_FAILURES,
)
#: The seed's targets (``observability/targets.py``), pushed after each session as their own
#: group, so they never replace the trading loop's. Ratios: 0.02 is 2%.
TARGET_METRICS: tuple[MetricSpec, ...] = (
    _g("intraday_jules_pnl_cumulative_usd", "Cumulative paper P&L since the targets' start"),
    _g("intraday_jules_pnl_target_usd", "Target for the cumulative paper P&L"),
    _g("intraday_jules_risk_max_drawdown_ratio",
       "Largest fall of equity from its peak since the targets' start, over the peak"),
    _g("intraday_jules_risk_drawdown_target_ratio", "Largest max drawdown the target allows"),
    _g("intraday_jules_trading_uptime_ratio",
       "Session minutes with a fresh bar and a live loop, over session minutes"),
    _g("intraday_jules_trading_uptime_target_ratio", "Smallest uptime the target allows"),
    _g("intraday_jules_trading_target_met_bool", "1 while the target is met", "target"),
    PUSH_FAILURES,
)


def metric_specs() -> tuple[MetricSpec, ...]:
    """Every metric of the project, each once."""
    seen: dict[str, MetricSpec] = {}
    for spec in TRADING_METRICS + PIPELINE_METRICS + TRAINING_METRICS + TARGET_METRICS:
        seen.setdefault(spec.name, spec)
    return tuple(seen.values())


def exposed_series_names() -> frozenset[str]:
    """Every series name a query may use (histograms add ``_bucket``, ``_sum``, ``_count``)."""
    names: set[str] = set()
    for spec in metric_specs():
        names.add(spec.name)
        if spec.kind == "histogram":
            names.update(spec.name + s for s in ("_bucket", "_sum", "_count"))
    return frozenset(names)


def _build(spec: MetricSpec, registry: CollectorRegistry) -> Any:
    if spec.kind == "histogram":
        return Histogram(spec.name, spec.help, spec.labels, registry=registry,
                         buckets=DECISION_LATENCY_BUCKETS)
    cls = Gauge if spec.kind == "gauge" else Counter
    return cls(spec.name, spec.help, spec.labels, registry=registry)


def public_url(url: str) -> tuple[str, str | None, str | None]:
    """``(url without user:password, username, password)``: only the first is ever logged."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", "")), parts.username, parts.password


class _Metrics:
    """A private registry of ``SPECS`` plus ``push``; subclasses add the typed setters."""

    SPECS: ClassVar[tuple[MetricSpec, ...]] = ()

    def __init__(self, *, clock: Clock = system_clock,
                 push_timeout_s: float = DEFAULT_PUSH_TIMEOUT_S) -> None:
        self.registry = CollectorRegistry()
        self._clock = clock
        self._push_timeout_s = push_timeout_s
        self._m: dict[str, Any] = {s.name: _build(s, self.registry) for s in self.SPECS}

    def push(self, gateway_url: str, job: str,
             grouping_key: Mapping[str, str] | None = None) -> bool:
        """Replace this group on the Pushgateway; False (logged, counted) if that failed."""
        url, user, password = public_url(gateway_url)
        handler = (default_handler if user is None
                   else partial(basic_auth_handler, username=user, password=password))
        try:
            push_to_gateway(url, job=job, registry=self.registry,
                            grouping_key=dict(grouping_key or {}),
                            timeout=self._push_timeout_s, handler=handler)
        except Exception as exc:  # a metrics outage must never reach the trading loop
            self._m[PUSH_FAILURES.name].inc()
            log.warning("metrics push to %s (job %s) failed: %s: %s", url, job,
                        type(exc).__name__, exc)
            return False
        return True

    def exposition(self) -> str:
        """The registry in Prometheus text format (what a push sends)."""
        return generate_latest(self.registry).decode()

    def value(self, name: str, **labels: str) -> float | None:
        """Current value of one series (``name`` as exposed), None if it has none yet."""
        return self.registry.get_sample_value(name, labels)


def _f(x: Number) -> float:
    return float(x)


class TradingMetrics(_Metrics):
    """What the session loop reports, one call per fact; push after each bar and at the end."""

    SPECS = TRADING_METRICS

    def __init__(self, *, clock: Clock = system_clock,
                 push_timeout_s: float = DEFAULT_PUSH_TIMEOUT_S) -> None:
        super().__init__(clock=clock, push_timeout_s=push_timeout_s)
        self._symbols: set[str] = set()
        self.set_risk_state("ACTIVE")
        self.set_broker_connected(False)
        self.set_run_failed(False)

    def observe_bar(self, symbol: str, source: str, ts: datetime, *,
                    bar_length: timedelta = timedelta(minutes=1)) -> float:
        """A bar (``ts`` = its start, tz-aware) arrived; returns its age in seconds."""
        if ts.tzinfo is None:
            raise ValueError(f"bar ts must be tz-aware UTC, got naive {ts.isoformat()}")
        closed = ts + bar_length
        age = (self._clock() - closed).total_seconds()
        self._m["intraday_jules_bar_newest_timestamp_seconds"].labels(symbol, source).set(
            closed.timestamp())
        self._m["intraday_jules_bar_age_seconds"].labels(symbol, source).set(age)
        self._m["intraday_jules_bar_received_total"].labels(symbol, source).inc()
        return age

    def record_decision_latency(self, seconds: float) -> None:
        """Bar close -> order submitted. A negative or NaN value (clock bug) is logged only."""
        if not math.isfinite(seconds) or seconds < 0:
            log.warning("ignored decision latency %r s (negative or not finite)", seconds)
            return
        self._m["intraday_jules_decision_latency_seconds"].observe(seconds)

    def update_portfolio(self, *, cash: Number, value: Number,
                         positions: Mapping[str, tuple[Number, Number]],
                         realized: Number, unrealized: Number, drawdown: Number,
                         drawdown_limit: Number, daily_pnl: Number | None = None,
                         daily_loss_limit: Number | None = None) -> None:
        """Book after a bar: ``positions`` maps symbol -> (shares, notional), both signed.

        A symbol held before and missing now is reported flat (0), so a closed position does
        not keep its last value on the dashboard.
        """
        m = self._m
        m["intraday_jules_portfolio_cash_usd"].set(_f(cash))
        m["intraday_jules_portfolio_value_usd"].set(_f(value))
        self._symbols.update(positions)
        for symbol in sorted(self._symbols):
            shares, notional = positions.get(symbol, (0, 0))
            m["intraday_jules_position_size_shares"].labels(symbol).set(_f(shares))
            m["intraday_jules_position_notional_usd"].labels(symbol).set(_f(notional))
        m["intraday_jules_pnl_realized_usd"].set(_f(realized))
        m["intraday_jules_pnl_unrealized_usd"].set(_f(unrealized))
        m["intraday_jules_risk_drawdown_usd"].set(_f(drawdown))
        m["intraday_jules_risk_drawdown_limit_usd"].set(_f(drawdown_limit))
        if daily_pnl is not None:
            m["intraday_jules_pnl_daily_usd"].set(_f(daily_pnl))
        if daily_loss_limit is not None:
            m["intraday_jules_risk_daily_loss_limit_usd"].set(_f(daily_loss_limit))

    def set_risk_state(self, state: str) -> None:
        """ACTIVE | REDUCING | HALTED (a ``risk.TradingState`` is a str and fits)."""
        name = str(state).upper()
        if name not in RISK_STATES:
            raise ValueError(f"unknown trading state {state!r}; known: {', '.join(RISK_STATES)}")
        self._m["intraday_jules_risk_state_level"].set(RISK_STATES.index(name))
        for known in RISK_STATES:
            self._m["intraday_jules_risk_state_bool"].labels(known).set(int(known == name))
        self._m["intraday_jules_risk_halted_bool"].set(int(name == "HALTED"))

    def count_trade(self, symbol: str, side: str, n: int = 1) -> None:
        """``n`` fills of ``side`` (BUY | SELL); ``n`` > 1 seeds a restarted run from the ledger."""
        self._m["intraday_jules_trading_trades_total"].labels(symbol, side.upper()).inc(n)

    def count_action(self, symbol: str, action: str) -> None:
        """The policy chose ``action`` (sell | hold | buy) for ``symbol``."""
        self._m["intraday_jules_policy_actions_total"].labels(symbol, action.lower()).inc()

    def set_broker_connected(self, connected: bool) -> None:
        self._m["intraday_jules_broker_connected_bool"].set(int(connected))

    def set_run_failed(self, failed: bool) -> None:
        """The run crashed (the last line of defence ran): alert ``TradingRunFailed``."""
        self._m["intraday_jules_trading_run_failed_bool"].set(int(failed))


def _aware(when: datetime, what: str) -> datetime:
    if when.tzinfo is None:
        raise ValueError(f"{what} must be tz-aware UTC, got naive {when.isoformat()}")
    return when


class PipelineMetrics(_Metrics):
    """What ingestion and data-quality runs report; push at the end of each run."""

    SPECS = PIPELINE_METRICS

    def record_ingest(self, symbol: str, source: str, rows: int,
                      at: datetime | None = None, *, newest_bar: datetime | None = None) -> None:
        """``rows`` bars written for ``symbol`` from ``source`` (``at`` defaults to now);
        ``newest_bar``: close time of the newest bar stored (None: none stored, not set)."""
        when = _aware(at if at is not None else self._clock(), "ingest time")
        self._m["intraday_jules_ingest_rows_total"].labels(symbol, source).inc(rows)
        self._m["intraday_jules_ingest_last_success_timestamp_seconds"].labels(
            symbol, source).set(when.timestamp())
        if newest_bar is not None:
            gauge = self._m["intraday_jules_ingest_newest_bar_timestamp_seconds"].labels(
                symbol, source)
            # several partitions of one symbol in a run: the newest of them wins
            gauge.set(max(_aware(newest_bar, "newest bar time").timestamp(),
                          self.value("intraday_jules_ingest_newest_bar_timestamp_seconds",
                                     symbol=symbol, source=source) or 0.0))

    def count_quality_failure(self, check: str, severity: str, n: int = 1) -> None:
        """A data-quality check failed ``n`` times; ``severity`` is the contract's
        (ERROR | WARN). ``n=0`` records that the check ran and passed: the series exists at
        0, so a dashboard tells "no failure" from "never reported"."""
        self._m["intraday_jules_quality_checks_failed_total"].labels(
            check, severity.upper()).inc(n)


class TrainingMetrics(_Metrics):
    """What one training run (foundation, dual or scratch model) reports when it ends."""

    SPECS = TRAINING_METRICS

    def record_run(self, model: str, *, steps: int, steps_per_s: float | None,
                   mean_episode_reward: float | None, at: datetime | None = None) -> None:
        """A finished run of ``model``; None values (unknown) leave their metric unset."""
        when = _aware(at if at is not None else self._clock(), "training end time")
        self._m["intraday_jules_training_steps_total"].labels(model).inc(steps)
        if steps_per_s is not None:
            self._m["intraday_jules_training_steps_per_second"].labels(model).set(steps_per_s)
        if mean_episode_reward is not None:
            self._m["intraday_jules_training_mean_episode_reward_usd"].labels(model).set(
                mean_episode_reward)
        self._m["intraday_jules_training_last_success_timestamp_seconds"].labels(model).set(
            when.timestamp())
