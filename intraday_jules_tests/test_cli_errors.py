"""What the installed CLI prints (subprocess, as a user runs it): no database secret in any
output, wherever it sits in the URL; error lines that cannot drive the terminal; and a
traceback, redacted, when INTRADAY_JULES_LOG_LEVEL=DEBUG asks for details."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

CLI = [sys.executable, "-m", "intraday_jules.cli"]
USER_SECRET = "S3cr3t-userinfo-7f3a"
QUERY_SECRET = "S3cr3t-query-91c2"
# raw control characters a terminal would act on: C0 except newline, DEL, C1, bidi controls
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                     r"\u202a-\u202e\u2066-\u2069]")


def run(args: list[str], env_extra: dict[str, str], timeout: int = 300
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "INTRADAY_JULES_LOG_LEVEL")}
    env["COLUMNS"] = "250"  # Rich tables and lines: wide enough not to fold the URL
    return subprocess.run([*CLI, *args], env={**env, **env_extra}, capture_output=True,
                          text=True, timeout=timeout, check=False)


def with_secrets(url: str) -> str:
    """``url`` with a password in its userinfo and another as a ``?password=`` parameter."""
    parsed = make_url(url).set(password=USER_SECRET)
    return parsed.update_query_dict({"password": QUERY_SECRET}).render_as_string(
        hide_password=False)


def assert_no_secret(proc: subprocess.CompletedProcess[str]) -> None:
    out = proc.stdout + proc.stderr
    for secret in (USER_SECRET, QUERY_SECRET, "S3cr3t"):
        assert secret not in out, out


def assert_no_control(text: str) -> None:
    assert not CONTROL.search(text), repr(text)


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    return {"INTRADAY_JULES_HOME": str(tmp_path / "home")}


@pytest.fixture
def secret_pg_env(pg_url: str, home: dict[str, str]) -> dict[str, str]:
    """A real (throw-away) PostgreSQL database reached through a URL that carries secrets
    in both places; the test server trusts local connections, so the passwords are unused."""
    return {**home, "INTRADAY_JULES_DATABASE_URL": with_secrets(pg_url)}


UNREACHABLE = with_secrets("postgresql://ij@127.0.0.1:1/ij")


# --- finding 6: no secret of the database URL in any output ----------------------------------
def test_config_when_the_url_carries_secrets_in_userinfo_and_query_prints_neither(home):
    env = {**home, "INTRADAY_JULES_DATABASE_URL": UNREACHABLE}
    as_json = run(["config", "--json"], env)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["database_url"] == (
        "postgresql://ij:***@127.0.0.1:1/ij?password=***")
    assert_no_secret(as_json)
    text = run(["config"], env)
    assert text.returncode == 0 and "password=***" in text.stdout
    assert_no_secret(text)


@pytest.mark.pg
def test_ingest_and_status_when_the_url_carries_secrets_print_neither(secret_pg_env):
    args = ["ingest", "--symbols", "NVDA", "--start", "2025-01-03", "--end", "2025-01-03"]
    as_json = run([*args, "--json"], secret_pg_env)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["symbols"]["NVDA"]["inserted"] == 390
    assert data["database"].endswith("?password=***") and ":***@" in data["database"]
    assert_no_secret(as_json)
    text = run(args, secret_pg_env)
    assert text.returncode == 0 and "password=***" in text.stdout
    assert_no_secret(text)
    status_json = run(["status", "--json"], secret_pg_env)
    assert status_json.returncode == 0, status_json.stderr
    assert json.loads(status_json.stdout)["database"] == data["database"]
    assert_no_secret(status_json)
    status_text = run(["status"], secret_pg_env)
    assert status_text.returncode == 0 and "data freshness" in status_text.stdout
    assert_no_secret(status_text)


def test_ingest_and_status_when_the_database_is_unreachable_mask_both_secrets(home):
    env = {**home, "INTRADAY_JULES_DATABASE_URL": UNREACHABLE}
    ingest = run(["ingest", "--start", "2025-01-03", "--end", "2025-01-03", "--json"], env)
    assert ingest.returncode == 1
    assert "postgresql://ij:***@127.0.0.1:1/ij?password=***: connection" in ingest.stderr
    assert_no_secret(ingest)
    for args in (["status", "--json"], ["status"]):
        status = run(args, env)
        assert status.returncode == 0, status.stderr
        assert "ij:***@127.0.0.1:1/ij?password=***" in status.stdout
        assert_no_secret(status)


# --- finding 8: error lines cannot drive the terminal ----------------------------------------
def test_ingest_error_when_the_replay_file_symbol_carries_escapes_prints_them_escaped(
        home, tmp_path):
    path = tmp_path / "hostile.csv"
    path.write_bytes(b"symbol,ts,open,high,low,close,volume\n"
                     b"\x1b[31mNVDA\x1b]0;pwned\x07\r,2025-01-03T14:30:00Z,1,1,1,1,1\n")
    proc = run(["ingest", "--start", "2025-01-03", "--end", "2025-01-03", "--symbols", "NVDA",
                "--source", "replay", "--replay-path", str(path)],
               {**home, "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{tmp_path / 'ij.db'}"})
    assert proc.returncode == 1
    assert_no_control(proc.stderr)
    assert "error:" in proc.stderr and "\\x1b[31mNVDA" in proc.stderr


def test_ingest_error_when_the_replay_header_carries_escapes_prints_them_escaped(home, tmp_path):
    path = tmp_path / "hostile_header.csv"
    path.write_bytes(b"symbol,ts,open,high,low,close,volume\x1b[2J\x1b[31m\r\n"
                     b"NVDA,2025-01-03T14:30:00Z,1,1,1,1,1\n")
    proc = run(["ingest", "--start", "2025-01-03", "--end", "2025-01-03", "--symbols", "NVDA",
                "--source", "replay", "--replay-path", str(path)],
               {**home, "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{tmp_path / 'ij.db'}"})
    assert proc.returncode == 1 and "error:" in proc.stderr
    assert_no_control(proc.stderr)


def test_cli_error_when_an_argument_carries_escapes_and_bidi_prints_them_escaped(home):
    bad = "NV\x1b[31mDA\u202eXX\r"
    proc = run(["ingest", "--symbols", bad, "--start", "2025-01-03", "--end", "2025-01-03"],
               home)
    assert proc.returncode == 1 and "--symbols" in proc.stderr
    assert_no_control(proc.stderr)
    assert "\\x1b[31" in proc.stderr and "\\u202e" in proc.stderr
    usage = run(["ingest", f"--no-such-{bad}"], home)  # click's usage error echoes it too
    assert usage.returncode != 0 and "No such option" in usage.stderr
    assert_no_control(usage.stderr)


# --- finding 8: DEBUG prints the traceback of an unexpected error -----------------------------
def test_unexpected_error_when_log_level_is_debug_prints_the_redacted_traceback(home, tmp_path):
    missing = tmp_path / "no\x1b[31msuch.csv"
    args = ["ingest", "--start", "2025-01-03", "--end", "2025-01-03", "--symbols", "NVDA",
            "--source", "replay", "--replay-path", str(missing)]
    env = {**home, "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{tmp_path / 'ij.db'}"}
    plain = run(args, env)
    assert plain.returncode == 1 and "FileNotFoundError" in plain.stderr
    assert "Traceback" not in plain.stderr
    assert "rerun with INTRADAY_JULES_LOG_LEVEL=DEBUG for details" in plain.stderr
    debug = run(args, {**env, "INTRADAY_JULES_LOG_LEVEL": "DEBUG"})
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert re.search(r"^FileNotFoundError: .*no\\x1b\[31msuch\.csv", debug.stderr, re.M)
    assert "error: FileNotFoundError" in debug.stderr and "traceback above" in debug.stderr
    assert_no_control(debug.stderr)


def test_unexpected_error_traceback_when_the_url_carries_secrets_shows_neither(home):
    env = {**home, "INTRADAY_JULES_LOG_LEVEL": "DEBUG",
           "INTRADAY_JULES_DATABASE_URL": with_secrets("mysql://ij@db/ij")}
    proc = run(["ingest", "--start", "2025-01-03", "--end", "2025-01-03"], env)
    assert proc.returncode == 1
    assert "Traceback (most recent call last)" in proc.stderr
    assert "unsupported database mysql://ij:***@db/ij?password=***" in proc.stderr
    assert_no_secret(proc)


# --- new-user findings: under --json an error is a JSON object on stdout too ------------------
def _json_commands() -> list[tuple[str, ...]]:
    """Every command path that takes --json (``("ledger",)``, ``("risk", "status")``...)."""
    import typer

    from intraday_jules.cli import app

    def walk(command: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
        children = getattr(command, "commands", None)
        if children:
            return [p for name, child in sorted(children.items()) for p in walk(child, (*path,
                                                                                      name))]
        takes_json = any("--json" in getattr(p, "opts", ()) for p in command.params)
        return [path] if takes_json else []

    return walk(typer.main.get_command(app), ())


JSON_COMMANDS = _json_commands()


def main_in_process(args: list[str], monkeypatch: pytest.MonkeyPatch,
                    capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    from intraday_jules.cli import main

    monkeypatch.setattr(sys, "argv", ["intraday-jules", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_the_commands_that_take_json_are_found() -> None:
    assert {("ledger",), ("config",), ("status",), ("risk", "status")} <= set(JSON_COMMANDS)


@pytest.mark.parametrize("path", JSON_COMMANDS, ids=" ".join)
def test_a_usage_error_under_json_prints_error_and_hint_on_stdout(
        path: tuple[str, ...], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = main_in_process([*path, "--json", "--no-such-option"], monkeypatch, capsys)
    assert code == 2
    assert json.loads(out) == {"error": "No such option: --no-such-option",
                               "hint": f"see intraday-jules {' '.join(path)} --help"}
    assert out.count("\n") == 1  # one object, one line
    assert "Error: No such option: --no-such-option" in err


def test_a_cli_error_under_json_prints_error_and_hint_on_stdout_and_stderr(home):
    proc = run(["ledger", "--session", "2025-02-01", "--json"], home)
    assert proc.returncode == 1
    assert json.loads(proc.stdout) == {
        "error": "2025-02-01 (Saturday) is not an XNYS session (weekend or holiday)",
        "hint": "the previous session is 2025-01-31, the next 2025-02-03: e.g. --session "
                "2025-01-31"}
    assert proc.stderr.splitlines() == [
        "error: 2025-02-01 (Saturday) is not an XNYS session (weekend or holiday)",
        "hint: the previous session is 2025-01-31, the next 2025-02-03: e.g. --session "
        "2025-01-31"]
    without = run(["ledger", "--session", "2025-02-01"], home)
    assert without.returncode == 1 and without.stdout == ""  # human mode: stderr only


def test_an_unexpected_error_under_json_is_a_json_object_with_its_secrets_masked(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from intraday_jules.cli import app
    from intraday_jules.cli._output import JSON_OPTION

    def boom(as_json: bool = JSON_OPTION) -> None:
        raise RuntimeError(f"lost {with_secrets('postgresql://ij@db:5432/ij')}")

    # a command of our own that fails unexpectedly (restored after the test)
    monkeypatch.setattr(app, "registered_commands", list(app.registered_commands))
    app.command("boom")(boom)
    monkeypatch.delenv("INTRADAY_JULES_LOG_LEVEL", raising=False)
    code, out, err = main_in_process(["boom", "--json"], monkeypatch, capsys)
    assert code == 1
    assert json.loads(out) == {
        "error": "RuntimeError: lost postgresql://ij:***@db:5432/ij?password=***",
        "hint": "rerun with INTRADAY_JULES_LOG_LEVEL=DEBUG for details"}
    assert "error: RuntimeError: lost" in err
    assert "S3cr3t" not in out + err
