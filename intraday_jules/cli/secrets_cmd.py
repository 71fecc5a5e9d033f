"""``intraday-jules secrets set|get|delete|list``: manage the secrets of this installation.

Values go to the OS keychain or the encrypted vault (see ``intraday_jules.secrets``); an
``INTRADAY_JULES_<NAME>`` environment variable overrides the stored value. ``get`` prints the
value masked unless ``--reveal``, so a screen share or a pasted terminal log shows nothing.
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from intraday_jules.cli._output import JSON_OPTION, CliError, emit, err_console

if TYPE_CHECKING:
    from intraday_jules.secrets import SecretStore

NAME_ARGUMENT = typer.Argument(..., help="alpha_vantage_key | database_password | ib_account | "
                                        "grafana_admin_password | service_token")


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Store, read and delete secrets (keyring or encrypted vault).",
                        no_args_is_help=True)
    group.command("set")(set_command)
    group.command("get")(get_command)
    group.command("delete")(delete_command)
    group.command("list")(list_command)
    app.add_typer(group, name="secrets")


@contextmanager
def _store_errors() -> Iterator[None]:
    """Turn secrets and settings errors into one line plus a hint."""
    from intraday_jules.secrets import SecretsError
    from intraday_jules.settings import SettingsError

    try:
        yield
    except SecretsError as exc:
        raise CliError(str(exc), hint=exc.hint) from None
    except SettingsError as exc:
        raise CliError(str(exc), hint="fix the variable or unset it") from None


def _open_store() -> SecretStore:
    from intraday_jules.secrets import SecretStore
    from intraday_jules.settings import Settings

    prompt = getpass.getpass if sys.stdin.isatty() else None
    return SecretStore(Settings.from_env().home, os.environ, prompt=prompt)


def _where(store: SecretStore) -> str:
    return f"vault {store.vault_path}" if store.backend_name == "vault" else store.backend_name


def _read_value(value: str | None) -> str:
    if value is not None:
        return value
    if sys.stdin.isatty():
        return str(typer.prompt("Value", hide_input=True, confirmation_prompt=True))
    return sys.stdin.read().rstrip("\r\n")


def set_command(name: str = NAME_ARGUMENT,
                value: str | None = typer.Option(
                    None, "--value", help="The value (else read from stdin; prefer stdin: "
                    "--value lands in shell history)."),
                as_json: bool = JSON_OPTION) -> None:
    """Store a secret (from --value or stdin)."""
    from intraday_jules.secrets import env_var_for, validate_secret_name

    with _store_errors():
        validate_secret_name(name)
        plain = _read_value(value)
        if not plain.strip():
            raise CliError(f"no value given for {name}", hint="pass --value or pipe it on stdin")
        store = _open_store()
        store.set(name, plain)
        overridden = bool(os.environ.get(env_var_for(name)))
        payload = {"name": name, "stored_in": store.backend_name, "location": _where(store),
                   "overridden_by_env": overridden}
    emit(payload, as_json, lambda c: c.print(f"stored {name} in {_where(store)}", highlight=False))
    if overridden and not as_json:
        err_console.print(f"note: {env_var_for(name)} is set and overrides the stored value")


def get_command(name: str = NAME_ARGUMENT,
                reveal: bool = typer.Option(False, "--reveal", help="Print the plain value."),
                as_json: bool = JSON_OPTION) -> None:
    """Show a secret, masked unless --reveal."""
    from intraday_jules.secrets import MASK

    with _store_errors():
        secret = _open_store().require(name)
    shown = secret.reveal() if reveal else MASK
    payload = {"name": name, "source": secret.source, "value": shown, "revealed": reveal}
    if reveal and not as_json:
        sys.stdout.write(shown + "\n")  # bare value, so $(intraday-jules secrets get ...) works
        return
    emit(payload, as_json,
         lambda c: c.print(f"{name} = {shown} (from {secret.source})", highlight=False))


def delete_command(name: str = NAME_ARGUMENT, as_json: bool = JSON_OPTION) -> None:
    """Delete a secret from the store (an environment override is left alone)."""
    from intraday_jules.secrets import env_var_for

    with _store_errors():
        store = _open_store()
        if not store.delete(name):
            raise CliError(f"secret {name} is not stored in {_where(store)}",
                           hint="`intraday-jules secrets list` shows what is set")
        still_env = bool(os.environ.get(env_var_for(name)))
    payload = {"name": name, "deleted": True, "location": _where(store),
               "still_set_by_env": still_env}
    emit(payload, as_json, lambda c: c.print(f"deleted {name} from {_where(store)}",
                                             highlight=False))


def list_command(as_json: bool = JSON_OPTION) -> None:
    """List the known secrets and where each is set (never their values)."""
    with _store_errors():
        store = _open_store()
        statuses = store.list()
    rows = [{"name": s.name, "env_var": s.env_var, "set": s.source is not None,
             "source": s.source} for s in statuses]
    payload = {"backend": store.backend_name, "location": _where(store), "secrets": rows}

    def render(c: Console) -> None:
        table = Table("secret", "set", "from", "override variable")
        for s in statuses:
            table.add_row(s.name, "yes" if s.source else "no", s.source or "-", s.env_var)
        c.print(table)
        c.print(f"store: {_where(store)}", highlight=False)

    emit(payload, as_json, render)
