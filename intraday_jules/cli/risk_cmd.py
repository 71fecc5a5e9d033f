"""``intraday-jules risk status|reset``: the latched trading state, and its recorded reset."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from intraday_jules.cli._output import JSON_OPTION, CliError, emit
from intraday_jules.cli.ledger_cmd import load_settings, open_ledger
from intraday_jules.domain.clock import system_clock

if TYPE_CHECKING:
    from intraday_jules.ledger import Ledger
    from intraday_jules.risk import RiskLimits, StateRecord

HISTORY_SHOWN = 10
REASON_OPTION = typer.Option(..., "--reason", help="Why trading may resume (recorded).")

risk_app = typer.Typer(help="Risk state: see it, or reset a HALTED/REDUCING state (recorded).",
                       no_args_is_help=True)


def _limits_and_ledger() -> tuple[RiskLimits, Ledger]:
    from intraday_jules.risk import RiskLimits

    settings = load_settings()
    return RiskLimits.from_settings(settings), open_ledger(settings)


def _record_json(record: StateRecord) -> dict[str, str]:
    return {"state": record.state.value, "kind": record.kind.value, "reason": record.reason,
            "since": record.ts.isoformat().replace("+00:00", "Z")}


def session_limits(ledger: Ledger) -> dict[str, Any] | None:
    """The limits the last traded session ran with (its newest decision records them), or
    None if no decision recorded any (nothing traded yet, or a ledger older than that)."""
    import sqlalchemy as sa

    from intraday_jules.ledger.schema import decisions

    query = (sa.select(decisions.c.session, decisions.c.ts, decisions.c.detail)
             .order_by(decisions.c.session.desc(), decisions.c.ts.desc(), decisions.c.id.desc())
             .limit(1))
    with ledger.engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None or not isinstance(row["detail"], dict) or "limits" not in row["detail"]:
        return None
    ts = row["ts"].astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {"session": row["session"].isoformat(), "decided_at": ts,
            "limits": row["detail"]["limits"]}


@risk_app.command("status")
def status_command(as_json: bool = JSON_OPTION) -> None:
    """Show the trading state in force, why, since when, the limits and recent changes.

    ``limits`` are the configured ones (settings); ``session_limits`` those the last traded
    session actually ran with (e.g. ``trade --max-position``), as its ledger recorded them.
    """
    from intraday_jules.risk import effective_state

    limits, ledger = _limits_and_ledger()
    current = effective_state(ledger.load_trading_state(), system_clock())
    history = ledger.trading_state_history()[-HISTORY_SHOWN:]
    used = session_limits(ledger)
    payload = {**_record_json(current), "limits": limits.describe(),
               "history": [_record_json(r) for r in history], "session_limits": used}

    def render(console: Console) -> None:
        colour = {"ACTIVE": "green", "REDUCING": "yellow", "HALTED": "bold red"}[current.state]
        console.print(f"Trading state: [{colour}]{current.state}[/] since "
                      f"{_record_json(current)['since']}")
        console.print(f"  reason: {escape(current.reason)}", highlight=False)
        console.print("  configured limits: "
                      + ", ".join(f"{k}={v}" for k, v in limits.describe().items()))
        if used is None:
            console.print("  limits of the last traded session: none recorded")
        else:
            console.print(f"  limits of the last traded session ({used['session']}, last "
                          "decision " + used["decided_at"] + "): "
                          + ", ".join(f"{k}={v}" for k, v in used["limits"].items()))

    emit(payload, as_json, render)


@risk_app.command("reset")
def reset_command(reason: str = REASON_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Return to ACTIVE; the reason, time and previous state are recorded in the ledger."""
    from intraday_jules.risk import RiskEngine

    if not reason.strip():
        raise CliError("--reason must not be empty", hint='e.g. --reason "reviewed the loss"')
    limits, ledger = _limits_and_ledger()
    engine = RiskEngine(limits, ledger, clock=system_clock)
    previous = engine.state_record
    engine.reset(reason)
    payload = {"previous": _record_json(previous), **_record_json(engine.state_record)}

    def render(console: Console) -> None:
        console.print(f"Trading state reset: {previous.state} -> [green]ACTIVE[/] "
                      f"({escape(engine.state_record.reason)})", highlight=False)

    emit(payload, as_json, render)


def register(app: typer.Typer) -> None:
    app.add_typer(risk_app, name="risk")
