"""``intraday-jules trade``: one trading session through the same loop the Dagster job runs.

``--broker simulated`` (the default) replays a recorded (``--source replay``) or simulated
session at full speed through ``intraday_jules.trading.run_session`` with the simulated broker;
its state is kept in a journal next to the database (``--broker-state``).

``--broker ibkr`` trades the session live through Interactive Brokers, as the trading job's
live feed does (``pipelines.trading.run_configured_session``): bars from IB's live stream on
the wall clock (or the gateway's, ``--clock gateway``), orders through ``IbkrBroker``. Paper
unless ``INTRADAY_JULES_DEPLOYMENT=live``, and live only when the ``ib_account`` secret is the
account the gateway reports (the broker's own guard decides, before any order). Ctrl-C cancels
the orders still working and disconnects.

Either way the session goes into the configured database (``INTRADAY_JULES_DATABASE_URL``),
and running it again resumes after the last decided minute, exactly as a restarted job would.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from intraday_jules.cli._output import JSON_OPTION, CliError, emit
from intraday_jules.cli.ledger_cmd import SESSION_OPTION, load_settings, parse_session

if TYPE_CHECKING:
    from datetime import date

    from intraday_jules.domain.clock import Clock
    from intraday_jules.market_data.source import BarSource
    from intraday_jules.pipelines.trading_parts import BrokerOptions
    from intraday_jules.risk import RiskLimits
    from intraday_jules.settings import Settings
    from intraday_jules.trading import SessionConfig, SessionResult

SOURCES = ("replay", "simulated")
BROKERS = ("simulated", "ibkr")
CLOCKS = ("wall", "gateway")
log = logging.getLogger(__name__)


def _money(value: str | None, flag: str) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise CliError(f"{flag} {value!r} is not an amount in USD", hint=f"e.g. {flag} 1000"
                       ) from None
    if not amount.is_finite() or amount <= 0:
        raise CliError(f"{flag} must be a positive amount in USD, got {value}")
    return amount


def _limits(settings: Settings, max_position: str | None, daily_loss: str | None,
            drawdown: str | None) -> RiskLimits:
    from intraday_jules.risk import RiskLimits

    overrides = {name: amount for name, amount in (
        ("max_position_usd", _money(max_position, "--max-position")),
        ("daily_loss_limit_usd", _money(daily_loss, "--daily-loss-limit")),
        ("drawdown_limit_usd", _money(drawdown, "--drawdown-limit"))) if amount is not None}
    return RiskLimits.from_settings(settings, **overrides)


def _source(name: str, replay_path: Path | None, settings: Settings) -> BarSource:
    from intraday_jules.market_data.replay import ReplaySource
    from intraday_jules.market_data.simulated import SimulatedSource

    if name not in SOURCES:
        raise CliError(f"--source {name!r} is not supported here", hint="use replay or "
                       "simulated (live sources run through the Dagster job)")
    if name == "simulated":
        return SimulatedSource(seed=settings.sim_seed)
    path = replay_path or settings.replay_path
    if path is None:
        raise CliError("--source replay needs a file", hint="pass --replay-path FILE or set "
                       "INTRADAY_JULES_REPLAY_PATH")
    if not Path(path).is_file():
        raise CliError(f"replay file {path} does not exist")
    return ReplaySource(path)


def default_broker_state(settings: Settings) -> Path:
    """The configured broker's journal (the trading job's too): one per database."""
    from intraday_jules.pipelines.trading_parts import BrokerOptions

    return BrokerOptions.from_settings(settings).journal()


def _check_choices(broker: str, policy: str, clock: str | None = None) -> None:
    from intraday_jules.trading import POLICY_NAMES
    from intraday_jules.trading.policies import MODEL_PREFIX, is_policy_name

    if broker not in BROKERS:
        raise CliError(f"--broker {broker!r} is not available", hint="use --broker simulated "
                       "(replay at full speed) or --broker ibkr (IB, paper unless live)")
    if not is_policy_name(policy):
        raise CliError(f"--policy {policy!r} is unknown", hint="one of "
                       + ", ".join(POLICY_NAMES) + f", or {MODEL_PREFIX}ID")
    if policy.startswith(MODEL_PREFIX) and broker != "simulated":
        raise CliError(f"--policy {policy} cannot trade on --broker {broker}: paper and live "
                       "brokers require the promoted model", hint="trade an unpromoted model "
                       "with --broker simulated, or promote it first", code=2)
    if clock is not None and clock not in CLOCKS:
        raise CliError(f"--clock {clock!r} is unknown", hint="wall | gateway")


def _check_flags_fit_broker(broker: str, given: dict[str, bool]) -> None:
    """Refuse flags that the chosen broker would silently ignore (``given``: flag -> set)."""
    if broker == "ibkr":
        ignored = [flag for flag in ("--source", "--replay-path", "--broker-state")
                   if given[flag]]
        if ignored:
            raise CliError(f"{', '.join(ignored)} cannot be used with --broker ibkr",
                           hint="--broker ibkr trades IB's live bars; --source, --replay-path "
                           "and --broker-state are for --broker simulated")
        return
    ignored = [flag for flag in ("--ib-host", "--ib-port", "--ib-client-id", "--clock")
               if given[flag]]
    if ignored:
        raise CliError(f"{', '.join(ignored)} only apply to --broker ibkr",
                       hint="add --broker ibkr to trade through Interactive Brokers")


def ibkr_options(settings: Settings, host: str | None, port: int | None,
                 client_id: int | None) -> BrokerOptions:
    """The configured IB connection (``INTRADAY_JULES_IB_*``) with the command's overrides."""
    from intraday_jules.pipelines.trading_parts import BrokerOptions

    configured = BrokerOptions.from_settings(settings)
    return replace(configured, name="ibkr", ib_host=host or configured.ib_host,
                   ib_port=configured.ib_port if port is None else port,
                   ib_client_id=configured.ib_client_id if client_id is None else client_id)


def _render(console: Console, payload: dict[str, Any]) -> None:
    console.print(f"[bold]Session {payload['session']}[/] ({payload['policy']} policy, "
                  f"{payload['broker']} broker): P&L ${payload['pnl']}, {payload['fills']} fills,"
                  f" state {payload['risk_state']}, {payload['risk_events']} risk events")
    p50, p99 = payload["decision_latency_p50_ms"], payload["decision_latency_p99_ms"]
    if p50 is None:
        console.print("  no new minute to decide (the session was already traded)")
    else:
        console.print(f"  decision latency p50 {p50} ms, p99 {p99} ms")
    console.print(f"  ledger: {escape(payload['ledger'])}; report: "
                  f"{escape(str(payload.get('report', {}).get('markdown', '')))}",
                  highlight=False)


def trade_command(
    session: str = SESSION_OPTION,
    source: str | None = typer.Option(
        None, "--source", help="replay | simulated (--broker simulated; default replay)."),
    replay_path: Path | None = typer.Option(None, "--replay-path", help="CSV/Parquet bars."),
    broker: str = typer.Option(
        "simulated", "--broker", help="simulated | ibkr (IB paper; live only with "
        "INTRADAY_JULES_DEPLOYMENT=live and the matching ib_account secret)."),
    policy: str = typer.Option(
        "promoted", "--policy", help="promoted | model:ID (a stored model, promoted or not; "
        "--broker simulated only) | random | always-buy | always-sell"),
    seed: int = typer.Option(0, "--seed", help="Seed of the random policy, and of a model's "
                             "sampled actions (the evaluation seed it reproduces)."),
    max_position: str | None = typer.Option(
        None, "--max-position", help="Max position notional per asset, USD "
        "(default: INTRADAY_JULES_MAX_POSITION)."),
    daily_loss_limit: str | None = typer.Option(
        None, "--daily-loss-limit", help="Daily loss that halts trading, USD "
        "(default: INTRADAY_JULES_DAILY_LOSS_LIMIT)."),
    drawdown_limit: str | None = typer.Option(
        None, "--drawdown-limit", help="Drawdown from the high-water mark that halts "
        "trading, USD (default: INTRADAY_JULES_DRAWDOWN_LIMIT)."),
    broker_state: Path | None = typer.Option(None, "--broker-state",
                                             help="Simulated broker journal (JSON lines)."),
    ib_host: str | None = typer.Option(
        None, "--ib-host", help="IB gateway host (--broker ibkr; default: "
        "INTRADAY_JULES_IB_HOST)."),
    ib_port: int | None = typer.Option(
        None, "--ib-port", help="IB gateway port (default: INTRADAY_JULES_IB_PORT; paper "
        "7497)."),
    ib_client_id: int | None = typer.Option(
        None, "--ib-client-id", help="Base IB client id (default: INTRADAY_JULES_IB_CLIENT_ID)"
        "; the broker uses +1, the live feed +2, the gateway clock +3."),
    clock: str | None = typer.Option(
        None, "--clock", help="--broker ibkr: wall (default) | gateway (the gateway's time, "
        "e.g. a fake TWS replaying a past session)."),
    report_dir: Path | None = typer.Option(None, "--report-dir",
                                           help="Where the session report is written."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Trade one session (the job's loop): replayed at full speed with the simulated broker,
    or live through IB with --broker ibkr; print what happened."""
    from intraday_jules.db import DatabaseUnreachable

    day = parse_session(session)
    settings = load_settings()
    _check_choices(broker, policy, clock)
    _check_flags_fit_broker(broker, {
        "--source": source is not None, "--replay-path": replay_path is not None,
        "--broker-state": broker_state is not None, "--ib-host": ib_host is not None,
        "--ib-port": ib_port is not None, "--ib-client-id": ib_client_id is not None,
        "--clock": clock is not None})
    limits = _limits(settings, max_position, daily_loss_limit, drawdown_limit)
    try:
        if broker == "ibkr":
            options = ibkr_options(settings, ib_host, ib_port, ib_client_id)
            payload = _run_ibkr(settings, day, options, clock or "wall", policy, seed, limits,
                                report_dir)
        else:
            payload = _run(settings, day, _source(source or "replay", replay_path, settings),
                           policy, seed, limits, broker_state or default_broker_state(settings),
                           report_dir)
    except DatabaseUnreachable as exc:
        raise CliError(str(exc), hint="check INTRADAY_JULES_DATABASE_URL") from None
    except (ValueError, OSError, RuntimeError) as exc:
        raise CliError(f"{type(exc).__name__}: {exc}") from None
    emit(payload, as_json, lambda console: _render(console, payload))


def _session_config(settings: Settings, day: date) -> SessionConfig:
    from intraday_jules.domain.calendar import is_session
    from intraday_jules.trading import SessionConfig

    if not is_session(day):
        raise CliError(f"{day.isoformat()} is not an XNYS trading session")
    return SessionConfig(day, symbols=settings.symbols)


def _run(settings: Settings, day: date, source: BarSource, policy: str, seed: int,
         limits: RiskLimits, journal: Path, report_dir: Path | None) -> dict[str, Any]:
    from intraday_jules.pipelines.trading import run_replay_session
    from intraday_jules.pipelines.trading_parts import PushTarget

    result = run_replay_session(_session_config(settings, day),
                                database_url=settings.database_url, source=source,
                                policy=policy, limits=limits, journal=journal,
                                models_dir=settings.models_dir,
                                push=PushTarget.from_settings(settings), seed=seed)
    payload = {**result.to_json(), "broker_state": str(journal)}
    return _with_report(payload, result, settings, day, report_dir)


def _run_ibkr(settings: Settings, day: date, options: BrokerOptions, clock_name: str,
              policy: str, seed: int, limits: RiskLimits,
              report_dir: Path | None) -> dict[str, Any]:
    """The trading job's live session through IB (``run_configured_session``, feed "live")."""
    from intraday_jules.adapters.factory import SourceOptions, build_source
    from intraday_jules.adapters.ibkr import IbkrConnectError, IbkrError
    from intraday_jules.adapters.ibkr.execution import LiveTradingRefused
    from intraday_jules.pipelines.trading import FixedRisk, LedgerAt, run_configured_session
    from intraday_jules.pipelines.trading_parts import PushTarget

    config = _session_config(settings, day)
    gateway = f"{options.ib_host}:{options.ib_port}"
    try:
        with _session_clock(clock_name, options) as clock:
            result = run_configured_session(
                config, feed_kind="live", policy=policy,
                source=build_source(SourceOptions.from_settings(settings)),
                ledger=LedgerAt(settings.database_url), risk=FixedRisk(limits),
                broker=options, models_dir=settings.models_dir,
                push=PushTarget.from_settings(settings), log=log, clock=clock, seed=seed)
    except IbkrConnectError as exc:
        raise CliError(f"cannot reach the IB gateway at {gateway}: {exc}",
                       hint="start TWS / IB Gateway with the API enabled, or pass --ib-host "
                       "and --ib-port (paper: 7497)") from None
    except IbkrError as exc:
        raise CliError(f"the IB gateway at {gateway}: {exc}") from None
    except LiveTradingRefused as exc:
        raise CliError(f"live trading refused: {exc}", hint="paper trading needs a paper "
                       "port and login; live needs INTRADAY_JULES_DEPLOYMENT=live and the "
                       "ib_account secret set to the gateway's account") from None
    return _with_report(result.to_json(), result, settings, day, report_dir)


@contextmanager
def _session_clock(name: str, options: BrokerOptions) -> Iterator[Clock]:
    """The live session's clock: the wall clock, or the gateway's (its own connection)."""
    from intraday_jules.adapters.ibkr.clock import GatewayClock
    from intraday_jules.adapters.ibkr.config import ClientRole
    from intraday_jules.domain.clock import system_clock

    if name == "wall":
        yield system_clock
        return
    clock = GatewayClock(options.ibkr_config(ClientRole.CLOCK))
    try:
        clock.start()
        yield clock
    finally:
        clock.close()


def _with_report(payload: dict[str, Any], result: SessionResult, settings: Settings,
                 day: date, report_dir: Path | None) -> dict[str, Any]:
    if result.report is not None:
        folder = report_dir or settings.home / "reports" / f"session-{day.isoformat()}"
        payload["report"] = {k: str(v) for k, v in result.report.write(folder).items()}
    return payload


def register(app: typer.Typer) -> None:
    app.command("trade")(trade_command)
