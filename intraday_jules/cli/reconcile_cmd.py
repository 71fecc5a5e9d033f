"""``intraday-jules reconcile --session D [--json]``: the session's shadow replay.

Replays the session's stored bars through the evaluation path with the model, seed and action
mode the ledger recorded for it, and compares decisions, policy orders and fill prices with
the ledger (``pipelines.session_reconciliation``). Exit status: 0 when the verdict is
``match``, 3 when it is ``diverged`` (the comparison is printed either way), 1 when the session
cannot be replayed (no recorded model, no stored bars, an unreachable database), 2 for a usage
error. Not to be confused with the broker reconciliation (positions vs the broker), which the
trading loop and ``reconcile_broker_job`` do.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from intraday_jules.cli._output import JSON_OPTION, CliError, emit
from intraday_jules.cli.ledger_cmd import (
    SESSION_OPTION,
    load_settings,
    parse_session,
    require_session,
)

DIVERGED_EXIT = 3


def reconcile_command(session: str = SESSION_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Shadow-replay a traded session with its model and compare with the ledger: decisions,
    orders, fills (implementation shortfall). Exit 0 match, 3 diverged, 1 error."""
    from intraday_jules.db import DatabaseUnreachable
    from intraday_jules.pipelines.session_reconciliation import (
        ReconciliationError,
        reconcile_at,
    )

    day = require_session(parse_session(session))
    settings = load_settings()
    try:
        result = reconcile_at(day, database_url=settings.database_url,
                              models_dir=settings.models_dir)
    except DatabaseUnreachable as exc:
        raise CliError(str(exc), hint="check INTRADAY_JULES_DATABASE_URL") from None
    except ReconciliationError as exc:
        raise CliError(str(exc), hint="trade the session with the promoted model or "
                       "--policy model:ID first (intraday-jules trade)") from None
    except LookupError as exc:  # the recorded model is gone from the model store
        raise CliError(f"the session's model cannot be loaded: {exc}",
                       hint="check INTRADAY_JULES_MODELS_DIR") from None
    payload = result.to_json()
    emit(payload, as_json, lambda console: _render(console, payload))
    if result.verdict != "match":
        raise typer.Exit(DIVERGED_EXIT)


def _render(console: Console, payload: dict[str, Any]) -> None:
    colour = "green" if payload["verdict"] == "match" else "red"
    console.print(f"[bold]Session {payload['session']}[/] replayed with model "
                  f"{escape(payload['model_id'])}: [bold {colour}]{payload['verdict']}[/]")
    summary = Table(show_header=True, header_style="bold")
    for column in ("", "live", "mismatches"):
        summary.add_column(column, justify="right" if column else "left")
    summary.add_row("decisions", str(payload["decisions"]), str(payload["decision_mismatches"]))
    summary.add_row("orders", str(payload["orders"]), str(payload["order_mismatches"]))
    summary.add_row("fills", str(payload["fills"]), "")
    console.print(summary)
    console.print(f"implementation shortfall ${payload['shortfall_usd']:.2f} "
                  f"({payload['shortfall_bps']:.2f} bps; positive = cost)")
    if payload["mismatches"]:
        listed = Table(title=f"First {len(payload['mismatches'])} mismatches",
                       header_style="bold")
        for column in ("ts", "symbol", "live", "replay"):
            listed.add_column(column, no_wrap=column == "ts")
        for m in payload["mismatches"]:
            listed.add_row(m["ts"], m["symbol"], str(m["live"]), str(m["replay"]))
        console.print(listed)


def register(app: typer.Typer) -> None:
    app.command("reconcile")(reconcile_command)
