"""The one way code gets a secret: an environment override first, then the keyring API.

Why this shape:
- Containers and CI inject secrets as environment variables (``INTRADAY_JULES_<NAME>``); a
  developer's laptop keeps them in the OS keychain. One helper serves both, so no module reads a
  secret its own way and every read goes through the same masking.
- A headless server has no OS keychain (keyring finds no usable backend there). The fallback is
  an encrypted file, ``$INTRADAY_JULES_HOME/secrets.vault`` (mode 0600), written by the
  maintained ``keyrings.cryptfile`` backend: Argon2id key derivation and AES-GCM. Its stock key is
  128 bits; ``VaultKeyring`` asks Argon2id for 256 bits, so the vault is AES-256-GCM. It is
  unlocked by ``INTRADAY_JULES_VAULT_PASSWORD`` or an interactive prompt (cryptfile itself only
  prompts, so the password is set on the backend in code).
- Values travel as ``SecretValue`` (masked ``repr``/``str``) and are unwrapped only by
  ``reveal()``, which registers the value with the log redactor (``SecretRedactingFilter``).

Nothing here reads the environment at import time: callers pass ``home`` and ``environ``.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jaraco.classes import properties
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError
from keyrings.cryptfile.cryptfile import CryptFileKeyring

log = logging.getLogger(__name__)

SERVICE_NAME = "intraday-jules"
KNOWN_SECRETS: tuple[str, ...] = (
    "alpha_vantage_key", "database_password", "ib_account", "grafana_admin_password",
    "service_token")
VAULT_FILENAME = "secrets.vault"
VAULT_PASSWORD_ENV = "INTRADAY_JULES_VAULT_PASSWORD"  # noqa: S105  # a variable name, no secret
BACKEND_ENV = "INTRADAY_JULES_SECRETS_BACKEND"


HOME_ENV = "INTRADAY_JULES_HOME"


def default_home() -> Path:
    """Where the project keeps its files when ``INTRADAY_JULES_HOME`` is unset."""
    return Path.cwd() / ".intraday_jules"


def home_from_env(environ: Mapping[str, str] | None = None) -> Path:
    """``INTRADAY_JULES_HOME`` as ``Settings.from_env`` resolves it, without the other settings
    (where the secrets vault lives, for code that has only a database URL)."""
    raw = (os.environ if environ is None else environ).get(HOME_ENV)
    return Path(raw).expanduser() if raw else default_home()
BACKEND_CHOICES: tuple[str, ...] = ("auto", "keyring", "vault")
MASK = "********"
# Shorter values would turn every log line into asterisks; such secrets are too weak anyway.
MIN_REDACTED_LENGTH = 4
_URL_SECRET = re.compile(r"(?i)\b(apikey|api_key|password|passwd|token)=([^&\s'\"]+)")

Prompt = Callable[[str], str]


class SecretsError(RuntimeError):
    """A secret could not be read or stored; ``hint`` says what to do (the CLI prints it)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UnknownSecretName(SecretsError):
    """The name is not one of ``KNOWN_SECRETS`` (typos must not create stray entries)."""


class SecretNotFound(SecretsError):
    """The secret is set neither in the environment nor in the store."""


class VaultLocked(SecretsError):
    """The vault exists (or must be created) but no password is available to open it."""


class VaultPasswordWrong(SecretsError):
    """The vault password does not decrypt the vault (or the file was altered)."""


class SecretsBackendUnavailable(SecretsError):
    """``INTRADAY_JULES_SECRETS_BACKEND=keyring`` but keyring has no usable backend."""


_registry_lock = threading.Lock()
_revealed: set[str] = set()


def register_secret_value(value: str) -> None:
    """Remember a value that left a ``SecretValue``, so the log redactor can mask it."""
    if len(value) >= MIN_REDACTED_LENGTH:
        with _registry_lock:
            _revealed.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret value and ``apikey=...``-style URL parameter masked,
    and every URL's password / secret query parameters masked (``mask_url``)."""
    from intraday_jules.url_masking import mask_urls_in_text

    with _registry_lock:
        values = sorted(_revealed, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return mask_urls_in_text(_URL_SECRET.sub(_masked_parameter, text))


def _masked_parameter(match: re.Match[str]) -> str:
    if not match.group(2).strip("*:,;.)"):  # already masked (by mask_url): leave it readable
        return match.group(0)
    return f"{match.group(1)}={MASK}"


class SecretRedactingFilter(logging.Filter):
    """Rewrites log records so no revealed secret reaches a handler.

    Install it on handlers (it then sees records from every logger) or on a logger (it then sees
    only that logger's own records). The message is rendered once and redacted; exception and
    stack text are rendered and redacted here too, before any formatter caches them.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            # keep the arguments (formatters such as uvicorn's access log unpack them), each
            # redacted in place: strings directly, other objects by their text when it leaks
            record.msg = redact(str(record.msg))
            record.args = tuple(_redacted_arg(a) for a in record.args)
        else:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record: let logging report it, never unredacted
                message = str(record.msg)
            record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _redacted_arg(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    text = str(value)
    cleaned = redact(text)
    return value if cleaned == text else cleaned


def install_log_redaction(target: logging.Logger | logging.Handler) -> None:
    """Add one ``SecretRedactingFilter`` to a logger or handler (idempotent)."""
    if not any(isinstance(f, SecretRedactingFilter) for f in target.filters):
        target.addFilter(SecretRedactingFilter())


class SecretValue:
    """A secret that prints as ``********``; ``reveal()`` is the one way to its text."""

    __slots__ = ("_value", "name", "source")

    def __init__(self, value: str, name: str = "secret", source: str = "unknown") -> None:
        if not isinstance(value, str) or not value:
            raise ValueError(f"secret {name}: the value must be a non-empty string")
        self._value = value
        self.name = name
        self.source = source

    def reveal(self) -> str:
        """The plain value; also registered for log redaction, since it now travels unmasked."""
        register_secret_value(self._value)
        return self._value

    def __repr__(self) -> str:
        return f"SecretValue(name={self.name!r}, source={self.source!r}, value='{MASK}')"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # equal values must not be told apart by hash

    def __copy__(self) -> SecretValue:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SecretValue:
        return self

    def __reduce__(self) -> Any:
        raise TypeError("a SecretValue cannot be pickled; reveal() it where it must leave")


class VaultKeyring(CryptFileKeyring):  # type: ignore[misc]  # untyped third-party base
    """keyrings.cryptfile's Argon2id + AES-GCM backend, with a 256-bit key (stock: 128).

    The scheme string differs from the stock one, so the stock backend refuses our file (and we
    refuse its) instead of failing to decrypt with a confusing MAC error.
    """

    key_bytes = 32

    @properties.classproperty
    def priority(cls) -> float:  # jaraco classproperty passes the class
        # Never auto-selected by keyring: it is opened explicitly at a path we choose.
        raise RuntimeError("VaultKeyring is opened explicitly by intraday_jules.secrets")

    @properties.NonDataProperty
    def scheme(self) -> str:
        return f"[Argon2id] AES256.{self.aesmode}"

    def _create_cipher(self, password: str, salt: bytes, nonce: bytes | None = None) -> Any:
        from argon2.low_level import Type, hash_secret_raw
        from Crypto.Cipher import AES

        key = hash_secret_raw(secret=password.encode("utf-8"), salt=salt,
                              time_cost=self.time_cost, memory_cost=self.memory_cost,
                              parallelism=self.parallelism, hash_len=self.key_bytes, type=Type.ID)
        return AES.new(key, self._get_mode(self.aesmode), nonce)


def open_vault(path: Path, password: str, *, create: bool) -> VaultKeyring | None:
    """Unlock the vault at ``path`` (creating it, mode 0600, if ``create``); None if absent."""
    if not password.strip():
        raise VaultLocked(f"the vault password for {path} is blank",
                          hint=f"set {VAULT_PASSWORD_ENV} to a non-blank password")
    if not path.exists():
        if not create:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    elif path.stat().st_mode & 0o077:
        log.warning("secrets vault %s was readable by others; resetting its mode to 0600", path)
        path.chmod(0o600)
    vault = VaultKeyring()
    vault.file_path = str(path)
    problem = None
    try:
        vault.keyring_key = password
    except ValueError as exc:  # cryptfile: "MAC check failed" or "Encryption scheme mismatch"
        problem = str(exc)
    if problem is None:
        return vault
    if "scheme" in problem:
        raise SecretsError(f"{path} is not an intraday-jules vault ({problem})",
                           hint="move it away; `intraday-jules secrets set` creates a new one")
    raise VaultPasswordWrong(f"cannot decrypt the secrets vault {path}: wrong password "
                             "(or the file was modified)",
                             hint=f"check {VAULT_PASSWORD_ENV} or the password you typed")


def native_keyring() -> KeyringBackend | None:
    """The OS keychain keyring would use, if any; file-based fallbacks do not count."""
    import keyring
    from keyring.backends import chainer

    current = keyring.get_keyring()
    candidates = current.backends if isinstance(current, chainer.ChainerBackend) else [current]
    for backend in candidates:
        module = type(backend).__module__
        if module.startswith("keyring.backends.") and type(backend).priority > 0:
            return backend
    return None


def validate_secret_name(name: str) -> str:
    if name not in KNOWN_SECRETS:
        raise UnknownSecretName(f"unknown secret name {name!r}",
                                hint=f"known secrets: {', '.join(KNOWN_SECRETS)}")
    return name


def env_var_for(name: str) -> str:
    """The environment variable that overrides a secret, e.g. INTRADAY_JULES_ALPHA_VANTAGE_KEY."""
    return "INTRADAY_JULES_" + validate_secret_name(name).upper()


@dataclass(frozen=True, slots=True)
class SecretStatus:
    """Whether a secret is set and where from ("env", "keyring", "vault"), never its value."""

    name: str
    env_var: str
    source: str | None


class SecretStore:
    """Secrets of one installation: env override first, then the keyring backend.

    ``backend`` is "auto" (an OS keychain if keyring has one, else the vault), "keyring",
    "vault", or a keyring backend instance; default: ``INTRADAY_JULES_SECRETS_BACKEND`` or auto.
    ``prompt`` asks for the vault password when the environment has none (None: never prompt).
    """

    def __init__(self, home: Path, environ: Mapping[str, str], *, prompt: Prompt | None = None,
                 backend: str | KeyringBackend | None = None) -> None:
        self.home = Path(home)
        self._environ = environ
        self._prompt = prompt
        choice = backend if backend is not None else environ.get(BACKEND_ENV) or "auto"
        if isinstance(choice, str) and choice not in BACKEND_CHOICES:
            raise SecretsError(f"{BACKEND_ENV}={choice!r} is not one of "
                               f"{', '.join(BACKEND_CHOICES)}", hint="unset it to use auto")
        self._choice = choice
        self._backend: KeyringBackend | None = None

    def __repr__(self) -> str:
        return f"SecretStore(home={str(self.home)!r}, backend={self.backend_name!r})"

    @property
    def vault_path(self) -> Path:
        return self.home / VAULT_FILENAME

    @property
    def backend_name(self) -> str:
        """ "vault", "keyring", or the class name of an injected backend."""
        if isinstance(self._choice, str):
            if self._choice == "auto":
                return "keyring" if native_keyring() is not None else "vault"
            return self._choice
        return type(self._choice).__name__

    def get(self, name: str) -> SecretValue | None:
        """The secret from ``INTRADAY_JULES_<NAME>`` if set, else from the store, else None."""
        env_value = self._environ.get(env_var_for(name))
        if env_value:
            return SecretValue(env_value, name, "env")
        backend = self._open(create=False)
        value = backend.get_password(SERVICE_NAME, name) if backend is not None else None
        return SecretValue(value, name, self.backend_name) if value else None

    def require(self, name: str) -> SecretValue:
        value = self.get(name)
        if value is None:
            raise SecretNotFound(
                f"secret {name} is not set", hint=f"run `intraday-jules secrets set {name}` "
                f"or set {env_var_for(name)}")
        return value

    def set(self, name: str, value: str | SecretValue) -> None:
        """Store a secret in the backend (the env override, if set, still wins on read)."""
        validate_secret_name(name)
        plain = value.reveal() if isinstance(value, SecretValue) else value
        if not isinstance(plain, str) or not plain.strip():
            raise SecretsError(f"secret {name}: refusing to store an empty value")
        register_secret_value(plain)
        backend = self._open(create=True)
        assert backend is not None  # create=True opens or raises
        problem = None
        try:
            backend.set_password(SERVICE_NAME, name, plain)
        except KeyringError as exc:
            problem = f"{type(exc).__name__}: {redact(str(exc))}"
        if problem:  # raised outside the except: the original (maybe unredacted) is not chained
            raise SecretsError(f"could not store secret {name}: {problem}")

    def delete(self, name: str) -> bool:
        """Remove a secret from the backend; False if it was not stored there."""
        validate_secret_name(name)
        backend = self._open(create=False)
        if backend is None:
            return False
        try:
            backend.delete_password(SERVICE_NAME, name)
        except PasswordDeleteError:
            return False
        return True

    def list(self) -> list[SecretStatus]:
        """Every known secret with where it would be read from (opens the store once)."""
        out = []
        for name in KNOWN_SECRETS:
            value = self.get(name)
            out.append(SecretStatus(name, env_var_for(name), value.source if value else None))
        return out

    def _open(self, *, create: bool) -> KeyringBackend | None:
        if self._backend is not None:
            return self._backend
        if not isinstance(self._choice, str):
            self._backend = self._choice
        elif self.backend_name == "keyring":
            self._backend = self._system_keyring()
        else:
            if not self.vault_path.exists() and not create:
                return None
            self._backend = open_vault(self.vault_path, self._vault_password(create), create=True)
        return self._backend

    def _system_keyring(self) -> KeyringBackend:
        backend = native_keyring()
        if backend is None:
            raise SecretsBackendUnavailable(
                "keyring finds no OS keychain on this machine",
                hint=f"set {BACKEND_ENV}=vault to use the encrypted file vault")
        return backend

    def _vault_password(self, creating: bool) -> str:
        password = self._environ.get(VAULT_PASSWORD_ENV)
        if not password and self._prompt is not None:
            verb = "Choose" if creating and not self.vault_path.exists() else "Enter"
            password = self._prompt(f"{verb} the password of {self.vault_path}: ")
            if verb == "Choose" and self._prompt("Repeat it: ") != password:
                raise VaultLocked("the two passwords differ; the vault was not created")
        if not password:
            raise VaultLocked(f"the secrets vault {self.vault_path} needs its password",
                              hint=f"set {VAULT_PASSWORD_ENV} or run from a terminal")
        register_secret_value(password)
        return password


def get_secret(name: str, *, home: Path, environ: Mapping[str, str],
               prompt: Prompt | None = None) -> SecretValue | None:
    """Shortcut for ``SecretStore(home, environ, prompt=prompt).get(name)``."""
    return SecretStore(home, environ, prompt=prompt).get(name)


def set_secret(name: str, value: str | SecretValue, *, home: Path, environ: Mapping[str, str],
               prompt: Prompt | None = None) -> None:
    """Shortcut for ``SecretStore(home, environ, prompt=prompt).set(name, value)``."""
    SecretStore(home, environ, prompt=prompt).set(name, value)
