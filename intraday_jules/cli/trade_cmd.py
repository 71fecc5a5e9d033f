"""``intraday-jules trade``: one trading session through the same loop the Dagster job runs.

Replays a recorded (``--source replay``) or simulated session at full speed through
``intraday_jules.trading.run_session`` with the simulated broker, into the configured database
(``INTRADAY_JULES_DATABASE_URL``). Running it again for the same session resumes after the
last decided minute, exactly as a restarted job would; the broker's state is kept in a journal
next to the database (``--broker-state``).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from intraday_jules.cli._output import JSON_OPTION, CliError, emit
from intraday_jules.cli.ledger_cmd import SESSION_OPTION, load_settings, parse_session

if TYPE_CHECKING:
    from intraday_jules.market_data.source import BarSource
    from intraday_jules.risk import RiskLimits
    from intraday_jules.settings import Settings

SOURCES = ("replay", "simulated")
BROKERS = ("simulated",)


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


def _check_choices(broker: str, policy: str) -> None:
    from intraday_jules.trading import POLICY_NAMES

    if broker not in BROKERS:
        raise CliError(f"--broker {broker!r} is not available", hint="use --broker simulated "
                       "(the IB broker runs through the Dagster job once it is configured)")
    if policy not in POLICY_NAMES:
        raise CliError(f"--policy {policy!r} is unknown", hint="one of "
                       + ", ".join(POLICY_NAMES))


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
    source: str = typer.Option("replay", "--source", help="replay | simulated"),
    replay_path: Path | None = typer.Option(None, "--replay-path", help="CSV/Parquet bars."),
    broker: str = typer.Option("simulated", "--broker", help="simulated"),
    policy: str = typer.Option("promoted", "--policy",
                               help="promoted | random | always-buy | always-sell"),
    seed: int = typer.Option(0, "--seed", help="Seed of the random policy."),
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
    report_dir: Path | None = typer.Option(None, "--report-dir",
                                           help="Where the session report is written."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Trade one session at replay speed (the job's loop) and print what happened."""
    from intraday_jules.db import DatabaseUnreachable

    day = parse_session(session)
    settings = load_settings()
    _check_choices(broker, policy)
    limits = _limits(settings, max_position, daily_loss_limit, drawdown_limit)
    try:
        payload = _run(settings, day, _source(source, replay_path, settings), policy, seed,
                       limits, broker_state or default_broker_state(settings),
                       report_dir)
    except DatabaseUnreachable as exc:
        raise CliError(str(exc), hint="check INTRADAY_JULES_DATABASE_URL") from None
    except (ValueError, OSError, RuntimeError) as exc:
        raise CliError(f"{type(exc).__name__}: {exc}") from None
    emit(payload, as_json, lambda console: _render(console, payload))


def _run(settings: Settings, day: Any, source: BarSource, policy: str, seed: int,
         limits: RiskLimits, journal: Path, report_dir: Path | None) -> dict[str, Any]:
    from intraday_jules.domain.calendar import is_session
    from intraday_jules.pipelines.trading import run_replay_session
    from intraday_jules.pipelines.trading_parts import PushTarget
    from intraday_jules.trading import SessionConfig

    if not is_session(day):
        raise CliError(f"{day.isoformat()} is not an XNYS trading session")
    result = run_replay_session(SessionConfig(day, symbols=settings.symbols),
                                database_url=settings.database_url, source=source,
                                policy=policy, limits=limits, journal=journal,
                                models_dir=settings.models_dir,
                                push=PushTarget.from_settings(settings), seed=seed)
    payload = {**result.to_json(), "broker_state": str(journal)}
    if result.report is not None:
        folder = report_dir or settings.home / "reports" / f"session-{day.isoformat()}"
        payload["report"] = {k: str(v) for k, v in result.report.write(folder).items()}
    return payload


def register(app: typer.Typer) -> None:
    app.command("trade")(trade_command)
