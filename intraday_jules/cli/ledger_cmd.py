"""``intraday-jules ledger --session D [--all] [--json]``: one session of the trading ledger.

By default a summary that fits a terminal: equity, decisions by phase, per-symbol fills, P&L
and positions, the fills, and the risk events grouped by kind and reason. ``--all`` adds every
decision and order (a session has one decision a minute). ``--json`` prints every list plus
the ``summary`` object either way.
"""

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
ALL_OPTION = typer.Option(False, "--all", help="Also print every decision and order "
                                               "(one decision a minute), and each risk event.")

Section = tuple[str, str, tuple[str, ...]]
# (title, key of the list, columns shown) for the human tables; --json has every field.
_DECISIONS: Section = ("Decisions", "decisions", ("ts", "action", "equity"))
_ORDERS: Section = ("Orders", "orders", ("client_order_id", "symbol", "side", "quantity",
                                         "reference_price", "status", "filled_quantity"))
_FILLS: Section = ("Fills", "fills", ("ts", "symbol", "side", "quantity", "price",
                                      "commission", "client_order_id"))
_EVENTS: Section = ("Risk events", "risk_events", ("ts", "kind", "state", "symbol", "reason"))
_ALL_SECTIONS = (_DECISIONS, _ORDERS, _FILLS, _EVENTS)
# the summary's tables fit 80 columns: the order id and the mark are in --all / --json
_SUMMARY_FILLS: Section = ("Fills", "fills", ("ts", "symbol", "side", "quantity", "price",
                                              "commission"))
_SYMBOLS: Section = ("Per symbol (P&L net of commissions; position at the session's end)",
                     "symbols", ("symbol", "fills", "bought", "sold", "commissions",
                                 "realised_pnl", "position", "unrealised_pnl"))
_NO_WRAP = frozenset({"ts"})
_HEADERS = {"reference_price": "ref price", "filled_quantity": "filled", "quantity": "qty",
            "realised_pnl": "realised", "commissions": "comm", "commission": "comm",
            "unrealised_pnl": "unrealised", "position": "pos", "client_order_id": "order id"}


def parse_session(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"--session {text!r} is not a date", hint="use YYYY-MM-DD, e.g. "
                       "--session 2025-02-03") from None


def require_session(day: date) -> date:
    """``day`` if the exchange traded that day; else a CliError naming the sessions around it
    (a weekend or holiday has no ledger: an empty one would look like a day without trades)."""
    from intraday_jules.domain.calendar import is_session, next_session, previous_session

    try:
        if is_session(day):
            return day
        around = f"the previous session is {previous_session(day)}, the next {next_session(day)}"
    except (ValueError, LookupError) as exc:  # before or after the exchange calendar's range
        raise CliError(f"{day.isoformat()} is outside the XNYS calendar ({exc})",
                       hint="pick a recent session date") from None
    raise CliError(f"{day.isoformat()} ({day:%A}) is not an XNYS session (weekend or holiday)",
                   hint=f"{around}: e.g. --session {previous_session(day)}")


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


def _table(console: Console, section: Section, rows: list[dict[str, Any]]) -> None:
    title, _, columns = section
    if not rows:
        return
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(_HEADERS.get(column, column), no_wrap=column in _NO_WRAP,
                         overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console.print(table)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return escape(", ".join(map(str, value)) if isinstance(value, list) else str(value))


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in counts.items()) or "none"


def _render_summary(console: Console, summary: dict[str, Any],
                    payload: dict[str, list[dict[str, Any]]]) -> None:
    equity, decisions, orders = summary["equity"], summary["decisions"], summary["orders"]
    console.print(f"[bold]Ledger for session {summary['session']}[/] (summary; --all for "
                  "every decision and order)")
    if equity["start"] is not None:
        console.print(f"equity {equity['start']} -> {equity['end']}, P&L {equity['pnl']}")
    console.print(f"{decisions['total']} decisions by phase: {_counts(decisions['by_phase'])}")
    console.print(f"{orders['total']} orders by status: {_counts(orders['by_status'])}; "
                  f"{len(payload['fills'])} fills; {len(payload['risk_events'])} risk events")
    _table(console, _SYMBOLS, summary["symbols"])
    _table(console, _SUMMARY_FILLS, payload["fills"])
    _event_groups(console, summary["session"], summary["risk_events"])


def _event_groups(console: Console, session: str, groups: list[dict[str, Any]]) -> None:
    """One paragraph per kind and reason (a reason is a sentence: a table column would fold
    it a few letters a line at 80 columns)."""
    if not groups:
        return
    console.print("[italic]Risk events[/] (same kind and reason grouped, times UTC)")
    for group in groups:
        first, last = (_time_of_day(group[key], session) for key in ("first", "last"))
        times = "once" if group["count"] == 1 else f"{group['count']} times"
        when = f"at {first}" if first == last else f"{first} to {last}"
        symbols = f" ({', '.join(group['symbols'])})" if group["symbols"] else ""
        console.print(f"  {escape(group['kind'])}, {times}{escape(symbols)}, {when}: "
                      f"{escape(group['reason'])}", highlight=False)


def _time_of_day(ts: str, session: str) -> str:
    """``14:41:00Z`` for an instant on the session's UTC date (a session never spans two)."""
    return ts.removeprefix(f"{session}T")


def _render_all(console: Console, session: date,
                payload: dict[str, list[dict[str, Any]]]) -> None:
    counts = ", ".join(f"{len(payload[key])} {key.replace('_', ' ')}"
                       for _, key, _ in _ALL_SECTIONS)
    console.print(f"[bold]Ledger for session {session.isoformat()}[/]: {counts}")
    for section in _ALL_SECTIONS:
        _table(console, section, payload[section[1]])


def ledger_command(session: str = SESSION_OPTION, show_all: bool = ALL_OPTION,
                   as_json: bool = JSON_OPTION) -> None:
    """Print a session's summary (--all: every decision, order, fill and risk event)."""
    from intraday_jules.ledger.report import session_summary

    day = require_session(parse_session(session))
    ledger = open_ledger()
    try:
        payload = ledger.session_ledger(day)
        summary = session_summary(ledger, day, payload)
    finally:
        ledger.engine.dispose()
    def render(console: Console) -> None:
        if show_all:
            _render_all(console, day, payload)
        else:
            _render_summary(console, summary, payload)

    emit({**payload, "summary": summary}, as_json, render)


def register(app: typer.Typer) -> None:
    app.command("ledger")(ledger_command)
