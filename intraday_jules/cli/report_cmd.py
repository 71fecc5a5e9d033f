"""``intraday-jules report --start D1 --end D2 --out FILE.html``: the period's tearsheet.

QuantStats writes the HTML from the traded sessions' returns (``trading.tearsheet``); the
command adds the seed's targets over the same sessions to its ``--json`` output.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from intraday_jules.cli._output import JSON_OPTION, CliError, emit
from intraday_jules.cli.config_cmd import load_settings

START_OPTION = typer.Option(..., "--start", help="First session of the period, YYYY-MM-DD.")
END_OPTION = typer.Option(..., "--end", help="Last session of the period, YYYY-MM-DD.")
OUT_OPTION = typer.Option(..., "--out", help="HTML file to write (replaced if it exists).")


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report(start: str = START_OPTION, end: str = END_OPTION, out: Path = OUT_OPTION,
               as_json: bool = JSON_OPTION) -> None:
        """Tearsheet of the traded sessions from --start to --end (QuantStats HTML), with the
        seed's targets over the period."""
        first, last = _date("--start", start), _date("--end", end)
        if first > last:
            raise CliError(f"--start {first} is after --end {last}",
                           hint="give the period's first session first")
        target = _writable(out)
        payload = write_report(first, last, target)
        emit(payload, as_json, lambda console: _render(console, payload))


def _date(flag: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"{flag} {text!r} is not a date",
                       hint=f"use YYYY-MM-DD, e.g. {flag} 2025-02-03") from None


def _writable(out: Path) -> Path:
    """``out`` if a file can be written there; else a clear error before any work is done."""
    path = out.expanduser()
    folder = path.parent
    if path.is_dir():
        raise CliError(f"--out {path} is a directory", hint="name an .html file")
    if not folder.is_dir():
        raise CliError(f"--out {path}: folder {folder} does not exist",
                       hint="create the folder or choose another path")
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise CliError(f"--out {path} is not writable", hint="choose a path you may write to")
    return path


def write_report(first: date, last: date, out: Path) -> dict[str, Any]:
    """Write the tearsheet of sessions ``first``..``last`` to ``out``; the --json payload."""
    from intraday_jules.cli.ledger_cmd import open_ledger
    from intraday_jules.ledger.performance import load_performance
    from intraday_jules.pipelines.performance import targets_from_settings
    from intraday_jules.trading.tearsheet import write_tearsheet

    settings = load_settings()
    ledger = open_ledger(settings)
    try:
        period = load_performance(ledger, until=last).between(first, last)
    finally:
        ledger.engine.dispose()
    if not period.sessions:
        raise CliError(f"no traded session between {first} and {last} in the ledger",
                       hint="intraday-jules ledger --session D shows a session; trade one with "
                            "intraday-jules trade")
    # written beside the target, then renamed: a failed run never leaves half a report
    partial = out.with_name(f".{out.name}.partial")
    try:
        write_tearsheet(period, partial, f"IntradayJules paper trading {first} .. {last}")
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise CliError(f"could not write --out {out}: {exc.strerror or exc}",
                       hint="choose a path you may write to") from None
    targets = targets_from_settings(settings)
    return {"out": str(out), "start": first.isoformat(), "end": last.isoformat(),
            "sessions": [s.session.isoformat() for s in period.sessions],
            "targets": period.targets_json(targets), "targets_met": period.met(targets),
            "daily": [s.to_json() for s in period.sessions]}


def _render(console: Console, payload: dict[str, Any]) -> None:
    t = payload["targets"]
    console.print(f"[bold]Tearsheet[/] of {len(payload['sessions'])} session(s) "
                  f"{payload['start']} .. {payload['end']}: {payload['out']}")
    console.print(f"cumulative P&L {t['cumulative_pnl_usd']} USD, max drawdown "
                  f"{t['max_drawdown_pct']}%, uptime {t['uptime_pct']}%")
