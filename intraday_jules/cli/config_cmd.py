"""``intraday-jules config``: the resolved settings, secrets masked."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from intraday_jules.cli._output import JSON_OPTION, CliError, emit
from intraday_jules.settings import Settings, SettingsError


def load_settings() -> Settings:
    """Settings for a CLI command, with bad env values turned into one-line errors."""
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise CliError(str(exc), hint="fix or unset that environment variable") from None


def register(app: typer.Typer) -> None:
    @app.command("config")
    def config(as_json: bool = JSON_OPTION) -> None:
        """Print the resolved settings (every env var, secrets masked)."""
        masked = load_settings().masked()

        def render(console: Console) -> None:
            table = Table(title="IntradayJules settings")
            for column in ("setting", "env var", "value"):
                table.add_column(column)
            for name, item in masked.items():
                table.add_row(name, item["env"], str(item["value"]))
            console.print(table)

        emit({name: item["value"] for name, item in masked.items()}, as_json, render)
