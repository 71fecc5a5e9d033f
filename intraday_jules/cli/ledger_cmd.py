"""``intraday-jules ledger --session D [--json]``: one session of the trading ledger."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from intraday_jules.cli._output import JSON_OPTION, CliError, emit

if TYPE_CHECKING:
    from intraday_jules.ledger import Ledger
    from intraday_jules.settings import Settings

SESSION_OPTION = typer.Option(..., "--session", help="XNYS session date, YYYY-MM-DD.")

# (title, key of the list, columns shown) for the human tables; --json has every field.
_SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Decisions", "decisions", ("ts", "action", "equity")),
    ("Orders", "orders", ("client_order_id", "side", "quantity", "reference_price", "status",
                          "filled_quantity")),
    ("Fills", "fills", ("ts", "client_order_id", "side", "quantity", "price", "commission")),
    ("Risk events", "risk_events", ("ts", "kind", "state", "symbol", "reason")),
)
_NO_WRAP = frozenset({"ts", "client_order_id"})
_HEADERS = {"reference_price": "ref price", "filled_quantity": "filled", "quantity": "qty"}


def parse_session(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"--session {text!r} is not a date", hint="use YYYY-MM-DD, e.g. "
                       "--session 2025-02-03") from None


def load_settings() -> Settings:
    """The settings, read when a command runs (never at import)."""
    from intraday_jules.settings import Settings, SettingsError

    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise CliError(str(exc), hint="fix the environment variable named above") from None


def open_ledger(settings: Settings | None = None) -> Ledger:
    """The ledger at the configured database, its schema brought to head."""
    from intraday_jules.db import DatabaseUnreachable
    from intraday_jules.ledger import Ledger

    url = (settings or load_settings()).database_url
    try:
        return Ledger.connect(url)
    except DatabaseUnreachable as exc:
        raise CliError(str(exc), hint="check INTRADAY_JULES_DATABASE_URL") from None


def _render(console: Console, session: date, payload: dict[str, list[dict[str, Any]]]) -> None:
    counts = ", ".join(f"{len(payload[key])} {key.replace('_', ' ')}"
                       for _, key, _ in _SECTIONS)
    console.print(f"[bold]Ledger for session {session.isoformat()}[/]: {counts}")
    for title, key, columns in _SECTIONS:
        if not payload[key]:
            continue
        table = Table(title=title, title_justify="left")
        for column in columns:
            table.add_column(_HEADERS.get(column, column), no_wrap=column in _NO_WRAP,
                             overflow="fold")
        for item in payload[key]:
            table.add_row(*("" if item.get(c) is None else escape(str(item[c]))
                            for c in columns))
        console.print(table)


def ledger_command(session: str = SESSION_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Print a session's decisions, orders, fills and risk events (money exact)."""
    day = parse_session(session)
    payload = open_ledger().session_ledger(day)
    emit(payload, as_json, lambda console: _render(console, day, payload))


def register(app: typer.Typer) -> None:
    app.command("ledger")(ledger_command)
