"""The ``intraday-jules`` command line.

Each command group lives in its own module exposing ``register(app)``; heavy imports (torch,
dagster, great_expectations) happen inside the command functions so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback

import typer
from rich.markup import escape

from intraday_jules.cli._output import CliError, err_console, error_json, json_requested, safe_text

app = typer.Typer(
    name="intraday-jules",
    help="IntradayJules: data and RL pipeline for intraday NVDA + MSFT trading.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Modules that provide commands, in the order they appear in --help.
COMMAND_MODULES: tuple[str, ...] = (
    "config_cmd", "ingest_cmd", "quality_cmd", "train_cmd", "evaluate_cmd", "trade_cmd",
    "demo_cmd", "status_cmd", "report_cmd", "ledger_cmd", "reconcile_cmd", "risk_cmd",
    "secrets_cmd",
    "sweep_cmd", "positive_control_cmd",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"intraday_jules.cli.{_name}").register(app)


def main() -> None:
    """Entry point: run the app; expected failures print one line + hint, exit non-zero.

    Every error line and hint goes through ``safe_text``: secrets in URLs masked, registered
    secret values redacted, terminal control characters (ESC, CR, bidi overrides) escaped, so
    a hostile input file cannot repaint the terminal. Under INTRADAY_JULES_LOG_LEVEL=DEBUG an
    unexpected error also prints its traceback (redacted the same way) to stderr. With
    ``--json`` every error also prints ``{"error": ..., "hint": ...}`` on stdout.
    """
    as_json = json_requested(sys.argv[1:])
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code here
        if isinstance(code, int) and code:
            sys.exit(code)
    except CliError as exc:
        _print_error(exc.message, exc.hint, as_json)
        sys.exit(exc.code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        _print_json_error("aborted", None, as_json)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except Exception as exc:  # the last line of defence: one line, not a traceback wall
        import click

        # typer >= 0.2x parses with its own copy of click: its usage errors are
        # TyperExceptions, not click's
        if isinstance(exc, click.exceptions.ClickException | typer.TyperException):
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                click.echo(ctx.get_usage(), err=True)
            # usage errors echo what was typed: escaped like every other error line
            click.echo(f"Error: {safe_text(exc.format_message())}", err=True)
            help_hint = f"see {ctx.command_path} --help" if ctx is not None else None
            _print_json_error(exc.format_message(), help_hint, as_json)
            sys.exit(exc.exit_code)
        if _debug():
            sys.stderr.write(safe_text("".join(traceback.format_exception(exc)), keep="\n"))
            sys.stderr.flush()
            hint = "the traceback above is from INTRADAY_JULES_LOG_LEVEL=DEBUG"
        else:
            hint = "rerun with INTRADAY_JULES_LOG_LEVEL=DEBUG for details"
        _print_error(f"{type(exc).__name__}: {exc}", hint, as_json)
        sys.exit(1)


def _print_error(message: str, hint: str | None, as_json: bool = False) -> None:
    err_console.print(f"[bold red]error:[/] {escape(safe_text(message))}", highlight=False)
    if hint:
        err_console.print(f"[dim]hint:[/] {escape(safe_text(hint))}", highlight=False)
    _print_json_error(message, hint, as_json)


def _print_json_error(message: str, hint: str | None, as_json: bool) -> None:
    """Under ``--json``: the error as the one JSON object on stdout (stderr has it too)."""
    if as_json:
        sys.stdout.write(error_json(message, hint) + "\n")
        sys.stdout.flush()


def _debug() -> bool:
    return os.environ.get("INTRADAY_JULES_LOG_LEVEL", "").strip().upper() == "DEBUG"
