"""Secrets: env override, the encrypted vault (real keyrings.cryptfile + Argon2id), masking,
log redaction and the ``secrets`` CLI group.

The vault's Argon2id cost (15 passes over 64 MiB, ~0.4 s per operation on a quiet core) would
make these tests take a minute on a shared 2-core machine, so most run with a cheap cost set on
our ``VaultKeyring`` class; tests that request ``real_kdf`` run the production parameters."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import stat
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from intraday_jules.secrets import (
    KNOWN_SECRETS,
    MASK,
    SecretRedactingFilter,
    SecretsBackendUnavailable,
    SecretsError,
    SecretStore,
    SecretValue,
    UnknownSecretName,
    VaultKeyring,
    VaultLocked,
    VaultPasswordWrong,
    env_var_for,
    get_secret,
    install_log_redaction,
    native_keyring,
    redact,
    register_secret_value,
    set_secret,
)

VAULT_PW = "correct horse battery staple"
AV_KEY = "AVKEY-CANARY-7Q9Z"


@pytest.fixture
def real_kdf() -> tuple[int, int]:
    """Production Argon2id parameters (keyrings.cryptfile's defaults)."""
    return VaultKeyring.time_cost, VaultKeyring.memory_cost


@pytest.fixture(autouse=True)
def cheap_kdf(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "real_kdf" not in request.fixturenames:
        monkeypatch.setattr(VaultKeyring, "time_cost", 1)
        monkeypatch.setattr(VaultKeyring, "memory_cost", 2**10)


def vault_env(**extra: str) -> dict[str, str]:
    return {"INTRADAY_JULES_VAULT_PASSWORD": VAULT_PW, "INTRADAY_JULES_SECRETS_BACKEND": "vault",
            **extra}


# --- SecretValue ---------------------------------------------------------------------------

def test_secret_value_repr_str_and_format_are_masked() -> None:
    secret = SecretValue("hunter2-long", "database_password", "env")
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", f"{secret:>30}",
                  repr([secret]), repr({"k": secret})):
        assert "hunter2-long" not in shown
    assert MASK in str(secret)
    assert "database_password" in repr(secret)


def test_secret_value_reveal_returns_the_value_and_registers_it_for_redaction() -> None:
    secret = SecretValue("reveal-me-0001", "ib_account")
    assert redact("x reveal-me-0001 y") == "x reveal-me-0001 y"
    assert secret.reveal() == "reveal-me-0001"
    assert redact("x reveal-me-0001 y") == f"x {MASK} y"


def test_secret_value_refuses_pickling_and_empty_values() -> None:
    secret = SecretValue("pickle-me-not", "ib_account")
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret)
    assert copy.deepcopy(secret) is secret
    with pytest.raises(ValueError, match="non-empty"):
        SecretValue("", "ib_account")


def test_secret_values_compare_by_value() -> None:
    assert SecretValue("same-value") == SecretValue("same-value", "other")
    assert SecretValue("same-value") != SecretValue("other-value")


# --- redaction -----------------------------------------------------------------------------

def _capture(logger: logging.Logger) -> tuple[logging.Handler, list[str]]:
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    return handler, lines


def test_redacting_filter_masks_revealed_values_in_messages_args_and_tracebacks() -> None:
    logger = logging.getLogger("intraday_jules_tests.redaction")
    logger.setLevel(logging.DEBUG)
    handler, lines = _capture(logger)
    install_log_redaction(handler)
    install_log_redaction(handler)
    assert sum(isinstance(f, SecretRedactingFilter) for f in handler.filters) == 1
    value = SecretValue("s3cr3t-in-logs", "grafana_admin_password").reveal()
    try:
        logger.info("password is %s", value)
        logger.debug(f"inline {value}")
        try:
            raise RuntimeError(f"failed with {value}")
        except RuntimeError:
            logger.exception("boom")
        logger.info("url http://h/query?symbol=NVDA&apikey=never-registered-123&x=1")
    finally:
        logger.removeHandler(handler)
    text = "\n".join(lines)
    assert "s3cr3t-in-logs" not in text
    assert "never-registered-123" not in text
    assert text.count(MASK) == 4
    assert "RuntimeError" in text  # the traceback is still there, only masked


def test_values_shorter_than_four_characters_are_not_registered() -> None:
    register_secret_value("ab")
    assert redact("ab cd") == "ab cd"


# --- names and env override ----------------------------------------------------------------

def test_known_secret_names_map_to_env_vars() -> None:
    assert [env_var_for(n) for n in KNOWN_SECRETS] == [
        "INTRADAY_JULES_ALPHA_VANTAGE_KEY", "INTRADAY_JULES_DATABASE_PASSWORD",
        "INTRADAY_JULES_IB_ACCOUNT", "INTRADAY_JULES_GRAFANA_ADMIN_PASSWORD",
        "INTRADAY_JULES_SERVICE_TOKEN"]


def test_unknown_secret_name_is_refused_with_the_known_names_as_hint(tmp_path: Path) -> None:
    store = SecretStore(tmp_path, vault_env())
    with pytest.raises(UnknownSecretName) as info:
        store.get("alpha_vantage_kye")
    assert "alpha_vantage_key" in (info.value.hint or "")
    with pytest.raises(UnknownSecretName):
        store.set("nope", "value-1234")


def test_env_override_is_used_without_opening_any_store(tmp_path: Path) -> None:
    env = {"INTRADAY_JULES_ALPHA_VANTAGE_KEY": AV_KEY, "INTRADAY_JULES_SECRETS_BACKEND": "vault"}
    secret = get_secret("alpha_vantage_key", home=tmp_path, environ=env)
    assert secret is not None
    assert secret.source == "env"
    assert secret.reveal() == AV_KEY
    assert not (tmp_path / "secrets.vault").exists()


def test_env_override_wins_over_the_vault(tmp_path: Path) -> None:
    set_secret("ib_account", "DU1234567", home=tmp_path, environ=vault_env())
    env = vault_env(INTRADAY_JULES_IB_ACCOUNT="DU7654321")
    secret = SecretStore(tmp_path, env).require("ib_account")
    assert (secret.reveal(), secret.source) == ("DU7654321", "env")


def test_missing_vault_reads_as_unset_without_a_password(tmp_path: Path) -> None:
    store = SecretStore(tmp_path, {"INTRADAY_JULES_SECRETS_BACKEND": "vault"})
    assert store.get("database_password") is None
    assert [s.source for s in store.list()] == [None] * len(KNOWN_SECRETS)
    with pytest.raises(SecretsError, match="not set") as info:
        store.require("database_password")
    assert "secrets set database_password" in (info.value.hint or "")


# --- the vault -----------------------------------------------------------------------------

def test_vault_round_trip_is_encrypted_aes256_and_mode_0600(
        tmp_path: Path, real_kdf: tuple[int, int]) -> None:
    assert real_kdf == (15, 2**16)  # Argon2id: 15 passes over 64 MiB
    home = tmp_path / "home"
    SecretStore(home, vault_env()).set("alpha_vantage_key", AV_KEY)
    vault = home / "secrets.vault"
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600
    content = vault.read_text()
    assert AV_KEY not in content
    assert "[Argon2id] AES256.GCM" in content
    again = SecretStore(home, vault_env()).get("alpha_vantage_key")  # a fresh unlock
    assert again is not None
    assert (again.reveal(), again.source) == (AV_KEY, "vault")


def test_vault_with_wrong_password_is_refused_without_echoing_it(tmp_path: Path) -> None:
    set_secret("database_password", "pg-pass-9876", home=tmp_path, environ=vault_env())
    wrong = vault_env(INTRADAY_JULES_VAULT_PASSWORD="not the password")
    with pytest.raises(VaultPasswordWrong) as info:
        SecretStore(tmp_path, wrong).get("database_password")
    for text in (str(info.value), repr(info.value), info.value.hint or ""):
        assert "not the password" not in text
        assert VAULT_PW not in text
        assert "pg-pass-9876" not in text


def test_existing_vault_without_password_or_prompt_is_locked(tmp_path: Path) -> None:
    set_secret("ib_account", "DU1234567", home=tmp_path, environ=vault_env())
    with pytest.raises(VaultLocked) as info:
        SecretStore(tmp_path, {"INTRADAY_JULES_SECRETS_BACKEND": "vault"}).get("ib_account")
    assert "INTRADAY_JULES_VAULT_PASSWORD" in (info.value.hint or "")


def test_vault_password_comes_from_the_prompt_when_env_has_none(tmp_path: Path) -> None:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return VAULT_PW

    env = {"INTRADAY_JULES_SECRETS_BACKEND": "vault"}
    SecretStore(tmp_path, env, prompt=prompt).set("ib_account", "DU1234567")
    assert len(asked) == 2 and asked[0].startswith("Choose")  # new vault: typed twice
    secret = SecretStore(tmp_path, vault_env()).require("ib_account")
    assert secret.reveal() == "DU1234567"
    answers = iter(["one password", "another password"])
    with pytest.raises(VaultLocked, match="differ"):
        SecretStore(tmp_path / "new", env, prompt=lambda _: next(answers)).set(
            "ib_account", "DU1234567")


def test_delete_removes_only_that_secret(tmp_path: Path) -> None:
    store = SecretStore(tmp_path, vault_env())
    store.set("ib_account", "DU1234567")
    store.set("grafana_admin_password", "graf-pass-1")
    assert store.delete("ib_account") is True
    assert store.delete("ib_account") is False
    assert store.get("ib_account") is None
    assert [s.source for s in store.list()] == [None, None, None, "vault", None]


def test_loose_vault_permissions_are_tightened_on_open(tmp_path: Path) -> None:
    set_secret("ib_account", "DU1234567", home=tmp_path, environ=vault_env())
    vault = tmp_path / "secrets.vault"
    vault.chmod(0o644)
    assert SecretStore(tmp_path, vault_env()).get("ib_account") is not None
    assert stat.S_IMODE(vault.stat().st_mode) == 0o600


def test_a_stock_cryptfile_vault_is_refused_not_misread(tmp_path: Path) -> None:
    from keyrings.cryptfile.cryptfile import CryptFileKeyring

    stock = CryptFileKeyring()
    stock.file_path = str(tmp_path / "secrets.vault")
    stock.keyring_key = VAULT_PW
    with pytest.raises(SecretsError, match="not an intraday-jules vault"):
        SecretStore(tmp_path, vault_env()).get("ib_account")


def test_unknown_backend_choice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretsError, match="INTRADAY_JULES_SECRETS_BACKEND"):
        SecretStore(tmp_path, {"INTRADAY_JULES_SECRETS_BACKEND": "gpg"})


@pytest.mark.skipif(native_keyring() is not None, reason="this machine has an OS keychain")
def test_headless_machine_auto_uses_the_vault_and_keyring_choice_explains(tmp_path: Path) -> None:
    assert SecretStore(tmp_path, {}).backend_name == "vault"
    store = SecretStore(tmp_path, {"INTRADAY_JULES_SECRETS_BACKEND": "keyring"})
    with pytest.raises(SecretsBackendUnavailable) as info:
        store.set("ib_account", "DU1234567")
    assert "INTRADAY_JULES_SECRETS_BACKEND=vault" in (info.value.hint or "")


def test_an_injected_keyring_backend_is_used_through_the_keyring_api(tmp_path: Path) -> None:
    from keyrings.cryptfile.file import PlaintextKeyring

    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "plain.cfg")
    store = SecretStore(tmp_path, {}, backend=backend)
    store.set("ib_account", "DU1234567")
    assert backend.get_password("intraday-jules", "ib_account") == "DU1234567"
    assert store.require("ib_account").source == "PlaintextKeyring"
    assert "DU1234567" not in repr(store)


# --- the CLI -------------------------------------------------------------------------------

@pytest.fixture
def cli(tmp_path: Path) -> tuple[typer.Typer, CliRunner]:
    from intraday_jules.cli.secrets_cmd import register

    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command keeps `secrets` a subcommand
    register(app)
    env: dict[str, str | None] = {"INTRADAY_JULES_HOME": str(tmp_path / "home"),
                                  **vault_env(), **{env_var_for(n): None for n in KNOWN_SECRETS}}
    return app, CliRunner(env=env)


def test_cli_set_then_get_prints_masked_unless_reveal(cli: tuple[typer.Typer, CliRunner]) -> None:
    app, runner = cli
    result = runner.invoke(app, ["secrets", "set", "alpha_vantage_key", "--value", AV_KEY])
    assert result.exit_code == 0, result.output
    masked = runner.invoke(app, ["secrets", "get", "alpha_vantage_key"])
    assert masked.exit_code == 0
    assert AV_KEY not in masked.output
    assert MASK in masked.output and "vault" in masked.output
    shown = runner.invoke(app, ["secrets", "get", "alpha_vantage_key", "--reveal"])
    assert shown.stdout == AV_KEY + "\n"


def test_cli_set_reads_stdin_and_every_command_speaks_json(
        cli: tuple[typer.Typer, CliRunner]) -> None:
    app, runner = cli
    result = runner.invoke(app, ["secrets", "set", "ib_account", "--json"], input="DU1234567\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"name": "ib_account", "stored_in": "vault",
                                         "location": json.loads(result.stdout)["location"],
                                         "overridden_by_env": False}
    got = json.loads(runner.invoke(app, ["secrets", "get", "ib_account", "--json"]).stdout)
    assert got == {"name": "ib_account", "source": "vault", "value": MASK, "revealed": False}
    listed = json.loads(runner.invoke(app, ["secrets", "list", "--json"]).stdout)
    assert {r["name"]: r["set"] for r in listed["secrets"]} == {
        "alpha_vantage_key": False, "database_password": False, "ib_account": True,
        "grafana_admin_password": False, "service_token": False}
    assert "DU1234567" not in json.dumps(listed)
    deleted = json.loads(runner.invoke(app, ["secrets", "delete", "ib_account", "--json"]).stdout)
    assert deleted["deleted"] is True


def test_cli_errors_are_cli_errors_with_a_hint(cli: tuple[typer.Typer, CliRunner]) -> None:
    from intraday_jules.cli._output import CliError

    app, runner = cli
    missing = runner.invoke(app, ["secrets", "get", "database_password"])
    assert isinstance(missing.exception, CliError)
    assert missing.exception.hint and "secrets set database_password" in missing.exception.hint
    unknown = runner.invoke(app, ["secrets", "set", "api_key", "--value", "x1234"])
    assert isinstance(unknown.exception, CliError)
    assert "alpha_vantage_key" in (unknown.exception.hint or "")
    empty = runner.invoke(app, ["secrets", "set", "ib_account"], input="\n")
    assert isinstance(empty.exception, CliError)
    runner.invoke(app, ["secrets", "set", "ib_account", "--value", "DU1234567"])
    wrong = runner.invoke(app, ["secrets", "get", "ib_account"],
                          env={"INTRADAY_JULES_VAULT_PASSWORD": "wrong password"})
    assert isinstance(wrong.exception, CliError)
    assert "wrong password" in wrong.exception.message
    assert "DU1234567" not in wrong.exception.message


def test_redaction_keeps_record_arguments_for_formatters_that_unpack_them() -> None:
    """Regression: uvicorn's access formatter unpacks record.args; the filter used to drop them
    (every request then logged a 'Logging error'). Arguments stay, each one redacted."""
    import logging

    from intraday_jules.secrets import SecretRedactingFilter, register_secret_value

    register_secret_value("sk-very-secret-123")
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/predict?token=sk-very-secret-123",
                                "1.1", 200), None)
    assert SecretRedactingFilter().filter(record)
    assert isinstance(record.args, tuple) and len(record.args) == 5
    client, method, path, version, status = record.args
    assert (client, method, version, status) == ("127.0.0.1:5000", "GET", "1.1", 200)
    assert "sk-very-secret-123" not in path
    assert "sk-very-secret-123" not in record.getMessage()
