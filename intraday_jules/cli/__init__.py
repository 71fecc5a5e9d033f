"""The ``intraday-jules`` command line.

Each command group lives in its own module exposing ``register(app)``; heavy imports (torch,
dagster, great_expectations) happen inside the command functions so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer
from rich.markup import escape

from intraday_jules.cli._output import CliError, err_console

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
    "demo_cmd", "status_cmd", "ledger_cmd", "risk_cmd", "secrets_cmd",
)

for _name in COMMAND_MODULES:
    importlib.import_module(f"intraday_jules.cli.{_name}").register(app)


def main() -> None:
    """Entry point: run the app; expected failures print one line + hint, exit non-zero."""
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code here
        if isinstance(code, int) and code:
            sys.exit(code)
    except CliError as exc:
        err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False)
        if exc.hint:
            err_console.print(f"[dim]hint:[/] {escape(exc.hint)}", highlight=False)
        sys.exit(exc.code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except Exception as exc:  # the last line of defence: one line, not a traceback wall
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        logging.getLogger("intraday_jules").debug("unhandled error", exc_info=True)
        err_console.print(f"[bold red]error:[/] {type(exc).__name__}: {escape(str(exc))}",
                          highlight=False)
        err_console.print("[dim]hint:[/] rerun with INTRADAY_JULES_LOG_LEVEL=DEBUG for details",
                          highlight=False)
        sys.exit(1)
