"""A throw-away PostgreSQL cluster that demands a password (scram-sha-256), for tests.

The shared test server (``pg_url``) trusts every local connection, so it cannot tell whether a
password was sent at all, let alone the right one. This starts a private cluster with
``initdb --auth=scram-sha-256`` on a free port in a temporary folder, and removes it afterwards
(``pg_ctl stop -m immediate``, then the folder). PostgreSQL refuses to run as root: as root the
server binaries run as the ``postgres`` OS user (``runuser -u postgres --``), in a folder that
user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN_ENV = "INTRADAY_JULES_PG_BIN"
RUN_AS = "postgres"
START_TIMEOUT_S = 30


class PgClusterUnavailable(RuntimeError):
    """initdb/pg_ctl are not installed (or cannot run here); the message says what is missing."""


@dataclass(frozen=True)
class PgCluster:
    """A running cluster: connect as ``user`` (a superuser) with ``password`` to ``database``."""

    host: str
    port: int
    user: str
    database: str
    password: str = field(repr=False)

    @property
    def url_without_password(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def url_with_password(self, password: str | None = None) -> str:
        from urllib.parse import quote

        secret = quote(self.password if password is None else password, safe="")
        return f"postgresql://{self.user}:{secret}@{self.host}:{self.port}/{self.database}"


def find_pg_bin() -> Path:
    """The folder holding initdb and pg_ctl: $INTRADAY_JULES_PG_BIN, PATH, or the newest
    /usr/lib/postgresql/*/bin."""
    candidates = [os.environ.get(PG_BIN_ENV, "")]
    on_path = shutil.which("initdb")
    candidates.append(str(Path(on_path).parent) if on_path else "")
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                         else 0, reverse=True)
    for folder in filter(None, candidates):
        if (Path(folder) / "initdb").is_file() and (Path(folder) / "pg_ctl").is_file():
            return Path(folder)
    raise PgClusterUnavailable(
        f"initdb/pg_ctl not found (set {PG_BIN_ENV} to the PostgreSQL bin folder)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def scram_pg_cluster(password: str, *, user: str = "ij_owner",
                     pg_bin: Path | None = None) -> Iterator[PgCluster]:
    """Start a cluster whose superuser ``user`` has ``password`` (scram-sha-256 for local and
    TCP connections), yield it, then stop it and delete its folder."""
    if "\n" in password or not password:
        raise ValueError("the cluster password must be one non-empty line")
    bin_dir = pg_bin or find_pg_bin()
    as_root = os.geteuid() == 0
    prefix: list[str] = []
    owner = None
    if as_root:
        try:
            owner = pwd.getpwnam(RUN_AS)
        except KeyError:
            raise PgClusterUnavailable(
                f"running as root needs the OS user {RUN_AS!r} to run PostgreSQL") from None
        prefix = ["runuser", "-u", RUN_AS, "--"]
    root = Path(tempfile.mkdtemp(prefix="ij_pgcluster_"))
    data, pwfile, logfile = root / "data", root / "pwfile", root / "server.log"
    started = False
    try:
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if owner is not None:
            for path in (root, pwfile):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        _run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", user,
              "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync",
              "--no-instructions"], "initdb")
        pwfile.unlink()
        port = free_port()
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        _run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-o",
              options, "-w", "-t", str(START_TIMEOUT_S), "start"], "pg_ctl start", logfile)
        started = True
        yield PgCluster("127.0.0.1", port, user, "postgres", password)
    finally:
        if started:
            subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m",  # noqa: S603
                            "immediate", "-w", "stop"], capture_output=True, timeout=60,
                           check=False)
        shutil.rmtree(root, ignore_errors=True)


def _run(args: list[str], what: str, logfile: Path | None = None) -> None:
    # our own argument lists (binaries found by find_pg_bin), no shell
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120,  # noqa: S603
                          check=False)
    if proc.returncode != 0:
        log_tail = ""
        if logfile is not None and logfile.exists():
            log_tail = " | server log: " + logfile.read_text(errors="replace")[-1000:]
        detail = (proc.stderr or proc.stdout).strip()[-1000:]
        raise PgClusterUnavailable(f"{what} failed (exit {proc.returncode}): {detail}{log_tail}")
