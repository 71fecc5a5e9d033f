"""``intraday-jules status``: one screen with data freshness, quality, model, risk, P&L, broker."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from intraday_jules.cli._output import JSON_OPTION, emit
from intraday_jules.cli.config_cmd import load_settings

STATE_COLOUR = {"ACTIVE": "green", "REDUCING": "yellow", "HALTED": "bold red"}


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(as_json: bool = JSON_OPTION) -> None:
        """Freshness per symbol/source (stale bars flagged in trading hours), last quality
        result, champion model, risk state, today's P&L and positions, the last traded
        session, the seed's targets, broker connection."""
        from intraday_jules.pipelines.status import collect_status

        payload = collect_status(load_settings())
        emit(payload, as_json, lambda console: _render(console, payload))


def _section(payload: dict[str, Any], name: str) -> Any:
    value = payload.get(name)
    if isinstance(value, dict) and "error" in value:
        return f"[red]unavailable:[/] {value['error']}"
    return value


def _freshness_table(rows: Any) -> Any:
    if not isinstance(rows, list):
        return rows
    table = Table(show_header=True, box=None)
    for column in ("symbol", "source", "rows", "newest bar", "age (min)"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["symbol"], r["source"], str(r["rows"]), str(r["newest_bar"]),
                      str(r["age_minutes"]))
    return table if rows else "no bars stored yet: intraday-jules ingest or make demo"


def _quality_text(q: dict[str, Any]) -> str:
    lines = [f"session {q['session']}"]
    for key, r in q["partitions"].items():
        if not isinstance(r, dict):
            lines.append(f"  {key}: [yellow]{r}[/]")
        elif r["blocking_failed"]:
            lines.append(f"  {key}: [red]BLOCKED[/] by {', '.join(r['blocking_failed'])}")
        else:
            warn = f" (warnings: {', '.join(r['failed'])})" if r["failed"] else ""
            lines.append(f"  {key}: [green]{r['checks']} checks pass[/]{warn}")
    return "\n".join(lines)


def _model_text(m: dict[str, Any]) -> str:
    if not m.get("champion"):
        return (f"[yellow]no promoted model[/] (latest trained: {m.get('latest') or 'none'}); "
                "trading loads only a model that passed the gate")
    ev = ", ".join(f"{k} {_figure(k, v)}" for k, v in m.get("evaluation", {}).items())
    return (f"{m['champion']} ({m['kind']}, trained on {m['trained_on']}, spec "
            f"{m['spec_version']}…)\nvalidation: {ev or 'n/a'}")


def _figure(name: str, value: float | None) -> str:
    """A headline figure for the screen: returns in %, ratios to 2 decimals, None as n/a."""
    if value is None:
        return "n/a"
    if name == "total_return":  # a fraction in the JSON
        return f"{100 * value:+.2f}%"
    return f"{value:.2f}%" if name.endswith("_pct") else f"{value:.2f}"


def _today_text(t: dict[str, Any]) -> str:
    positions = ", ".join(f"{s} {q:+d}" for s, q in t["positions"].items()) or "flat"
    return f"session {t['session']}: P&L {t['pnl_usd'] or 'n/a'} USD, {t['fills']} fills; " \
           f"positions: {positions}"


def _last_session_text(s: dict[str, Any] | None) -> str:
    if s is None:
        return "no session traded yet"
    colour = STATE_COLOUR.get(s["risk_state"], "white")
    return (f"session {s['session']}: P&L {s['pnl_usd'] or 'n/a'} USD, {s['fills']} fills; "
            f"ended [{colour}]{s['risk_state']}[/]: {s['risk_reason']}")


def _mark(met: bool) -> str:
    return "[green]met[/]" if met else "[red]not met[/]"


def _targets_text(t: dict[str, Any], window: Any) -> str:
    met = window.get("met", {}) if isinstance(window, dict) else {}
    since = (f"sessions {window['start']} .. {window['end']} ({window['sessions']})"
             if isinstance(window, dict) and window.get("start") else "no traded session yet")
    uptime = "n/a" if t["uptime_pct"] is None else f"{t['uptime_pct']}%"
    return "\n".join([
        since,
        f"cumulative P&L {t['cumulative_pnl_usd']} USD (target {t['pnl_target_usd']}): "
        f"{_mark(met.get('pnl', False))}",
        f"max drawdown {t['max_drawdown_pct']}% (target <= {t['drawdown_target_pct']}%): "
        f"{_mark(met.get('drawdown', False))}",
        f"uptime {uptime} (target >= {t['uptime_target_pct']}%): "
        f"{_mark(met.get('uptime', False))}"])


def _stale_text(bars: Any) -> str | None:
    """A warning line when bars are stale in trading hours, else None."""
    if not isinstance(bars, dict) or not bars.get("stale"):
        return None
    age = ("no bar stored" if bars["age_s"] is None
           else f"newest bar closed {bars['age_s']:.0f} s ago")
    return (f"[bold red]STALE BARS[/] during trading hours: {age} (limit "
            f"{bars['stale_after_s']:.0f} s)")


def _broker_text(b: dict[str, Any]) -> str:
    up = "[green]connected[/]" if b["connected"] else "[red]unreachable[/]"
    where = f" at {b['host']}:{b['port']}" if "host" in b else ""
    return f"{b['broker']}{where}: {up} ({b['note']})"


FORMATTERS = {"quality": _quality_text, "model": _model_text, "today": _today_text,
              "broker": _broker_text}


def _render(console: Console, payload: dict[str, Any]) -> None:
    if "error" in payload:
        console.print(f"[red]database unavailable:[/] {payload['error']}")
        return
    market = payload["market"]
    risk = _section(payload, "risk")
    state = risk["state"] if isinstance(risk, dict) else "?"
    colour = STATE_COLOUR.get(state, "white")
    header = (f"{payload['deployment']} | market {market['state']} "
              f"({market.get('session') or market.get('next_session')}) | risk "
              f"[{colour}]{state}[/] | {payload['database']}")
    parts: list[Any] = [header]
    stale = _stale_text(payload.get("bars"))
    if stale:
        parts.append(stale)
    parts.append(Panel(_freshness_table(_section(payload, "freshness")), title="data freshness"))
    for name, title in (("quality", "last quality result"), ("model", "champion model"),
                        ("today", "today")):
        value = _section(payload, name)
        parts.append(Panel(FORMATTERS[name](value) if isinstance(value, dict) else str(value),
                           title=title))
    last = _section(payload, "last_session")
    parts.append(Panel(last if isinstance(last, str) else _last_session_text(last),
                       title="last traded session"))
    targets = _section(payload, "targets")
    parts.append(Panel(_targets_text(targets, payload.get("targets_window"))
                       if isinstance(targets, dict) else str(targets), title="targets"))
    broker = _section(payload, "broker")
    parts.append(Panel(_broker_text(broker) if isinstance(broker, dict) else str(broker),
                       title="broker"))
    if isinstance(risk, dict):
        hint = "  (intraday-jules risk reset --reason ... to resume)" if state != "ACTIVE" else ""
        parts.append(Panel(f"[{colour}]{state}[/] since {risk['since']}: {risk['reason']}{hint}",
                           title="risk"))
    console.print(Group(*parts))
