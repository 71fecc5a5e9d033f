"""Typed settings, read once when definitions (or a CLI command) load, never at import.

Every setting has one environment variable; ``SETTING_SPECS`` is the single table of them
(the README's configuration table is checked against it by a test). Deployments:

- ``local`` (default): simulated market data, simulated broker, SQLite file, nothing to run.
- ``ci``: like local with small training budgets; CI points the database at PostgreSQL.
- ``paper``: IBKR paper (port 7497) with Alpha Vantage failover; TimescaleDB expected.
- ``live``: as paper with a live account; needs explicit opt-in (see the trading docs).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, get_args

from intraday_jules.domain.symbols import DEFAULT_SYMBOLS, parse_symbols
from intraday_jules.secrets import default_home

Deployment = Literal["local", "ci", "paper", "live"]
#: "simulated-planted" / "simulated-destroyed": the positive control's markets
#: (market_data.planted)
KNOWN_SOURCES = ("simulated", "replay", "ibkr", "alpha_vantage", "simulated-planted",
                 "simulated-destroyed")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use (names the variable)."""


#: docker/.env.example's secrets all start with this; a real deployment must replace them.
PLACEHOLDER_PREFIX = "change-me"
_SECRET_ENV_NAME = re.compile(
    r"^(INTRADAY_JULES|DAGSTER_PG)_\w*(PASSWORD|SECRET|TOKEN|_KEY|ACCOUNT)$")


def placeholder_secrets(environ: Mapping[str, str]) -> list[str]:
    """Names of the secret variables in ``environ`` still holding a ``change-me...``
    placeholder: INTRADAY_JULES_*/DAGSTER_PG_* secrets, and a database URL whose password or
    secret query parameter is one."""
    from intraday_jules.url_masking import url_secret_values

    found = [name for name, value in environ.items()
             if _SECRET_ENV_NAME.match(name) and value.strip().startswith(PLACEHOLDER_PREFIX)]
    url = environ.get("INTRADAY_JULES_DATABASE_URL") or ""
    if any(v.startswith(PLACEHOLDER_PREFIX) for v in url_secret_values(url)):
        found.append("INTRADAY_JULES_DATABASE_URL")
    return sorted(found)


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true/false, got {text!r}")


def _deployment(text: str) -> Deployment:
    value = text.strip().lower()
    if value not in get_args(Deployment):
        raise ValueError(f"expected one of {', '.join(get_args(Deployment))}, got {text!r}")
    return value  # type: ignore[return-value]


def parse_sources(text: str) -> tuple[str, ...]:
    names = tuple(s.strip().lower() for s in text.split(",") if s.strip())
    unknown = [n for n in names if n not in KNOWN_SOURCES]
    if not names or unknown:
        known = ", ".join(KNOWN_SOURCES)
        raise ValueError(f"unknown source(s) {unknown or text!r}; known: {known}")
    return names


def _log_level(text: str) -> str:
    value = text.strip().upper()
    if value not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}, got {text!r}")
    return value


def _broker(text: str) -> str:
    value = text.strip().lower()
    if value not in ("simulated", "ibkr"):
        raise ValueError(f"expected simulated or ibkr, got {text!r}")
    return value


def _device(text: str) -> str:
    # the same choices as agent/device.py, checked here without importing torch
    value = text.strip().lower()
    if value not in ("auto", "cpu", "cuda"):
        raise ValueError(f"expected auto, cpu or cuda, got {text!r}")
    return value


def _path(text: str) -> Path:
    return Path(text).expanduser()


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"expected an integer >= 0, got {text!r}")
    return value


def _money(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite() or value <= 0:
        raise ValueError(f"expected a positive dollar amount, got {text!r}")
    return value


def _percent(text: str) -> Decimal:
    value = Decimal(text.strip().removesuffix("%"))
    if not value.is_finite() or not 0 < value <= 100:
        raise ValueError(f"expected a percentage above 0 and at most 100, got {text!r}")
    return value


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its env var, how to parse it, its default and what it means."""

    env: str
    name: str
    parse: Callable[[str], Any]
    default: Callable[[dict[str, Any]], Any]
    help: str
    secret: bool = False


def _home_default(_: dict[str, Any]) -> Path:
    return default_home()


def _budget(local: int, ci: int) -> Callable[[dict[str, Any]], int]:
    return lambda v: ci if v["deployment"] == "ci" else local


SETTING_SPECS: tuple[SettingSpec, ...] = (
    SettingSpec("INTRADAY_JULES_DEPLOYMENT", "deployment", _deployment, lambda _: "local",
                "local | ci | paper | live"),
    SettingSpec("INTRADAY_JULES_HOME", "home", _path, _home_default,
                "folder for the SQLite file, DAGSTER_HOME, models, TensorBoard logs"),
    SettingSpec("INTRADAY_JULES_DATABASE_URL", "database_url", str,
                lambda v: f"sqlite:///{v['home'] / 'intraday_jules.db'}",
                "SQLAlchemy URL of the market/feature/ledger database", secret=True),
    SettingSpec("INTRADAY_JULES_MARKET_SOURCE", "market_sources", parse_sources,
                lambda v: ("ibkr", "alpha_vantage") if v["deployment"] in ("paper", "live")
                else ("simulated",),
                "ordered failover list of sources: simulated, replay, ibkr, alpha_vantage"),
    SettingSpec("INTRADAY_JULES_CROSS_VENDOR_CHECK", "cross_vendor_check", _bool,
                lambda v: len(v["market_sources"]) > 1,
                "also fetch each partition from the second source and check they agree (WARN)"),
    SettingSpec("INTRADAY_JULES_REPLAY_PATH", "replay_path", _path, lambda _: None,
                "CSV or Parquet file of bars (symbol,ts,open,high,low,close,volume) for 'replay'"),
    SettingSpec("INTRADAY_JULES_LOG_LEVEL", "log_level", _log_level, lambda _: "INFO",
                "DEBUG | INFO | WARNING | ERROR"),
    SettingSpec("INTRADAY_JULES_SYMBOLS", "symbols", parse_symbols, lambda _: DEFAULT_SYMBOLS,
                "comma-separated symbols, in observation order"),
    SettingSpec("INTRADAY_JULES_EXTENDED_HOURS", "extended_hours", _bool, lambda _: False,
                "ingest and check 04:00-20:00 ET instead of regular hours 09:30-16:00"),
    SettingSpec("INTRADAY_JULES_FIRST_SESSION", "first_session", date.fromisoformat,
                lambda _: date(2025, 1, 2), "first session of the Dagster ingestion partitions"),
    SettingSpec("INTRADAY_JULES_SIM_SEED", "sim_seed", int, lambda _: 7,
                "seed of the simulated market (same seed, same bars on any machine)"),
    SettingSpec("INTRADAY_JULES_IB_HOST", "ib_host", str, lambda _: "127.0.0.1",
                "IB Gateway / TWS host"),
    SettingSpec("INTRADAY_JULES_IB_PORT", "ib_port", _positive_int,
                lambda v: 7496 if v["deployment"] == "live" else 7497,
                "IB API port (7497 paper TWS, 7496 live TWS, 4002/4001 Gateway)"),
    SettingSpec("INTRADAY_JULES_IB_CLIENT_ID", "ib_client_id", int, lambda _: 17,
                "IB API client id (unique per connected program)"),
    SettingSpec("INTRADAY_JULES_AV_BASE_URL", "av_base_url", str,
                lambda _: "https://www.alphavantage.co/query", "Alpha Vantage endpoint"),
    SettingSpec("INTRADAY_JULES_AV_CALLS_PER_MINUTE", "av_calls_per_minute", _positive_int,
                lambda _: 5, "client-side Alpha Vantage rate limit per minute"),
    SettingSpec("INTRADAY_JULES_AV_CALLS_PER_DAY", "av_calls_per_day", _positive_int,
                lambda _: 25, "client-side Alpha Vantage rate limit per day"),
    SettingSpec("INTRADAY_JULES_BROKER", "broker", _broker,
                lambda v: "ibkr" if v["deployment"] in ("paper", "live") else "simulated",
                "simulated | ibkr (paper port 7497; live needs deployment=live + account)"),
    SettingSpec("INTRADAY_JULES_PUSHGATEWAY_URL", "pushgateway_url", str, lambda _: None,
                "Prometheus Pushgateway URL (e.g. http://127.0.0.1:9091); unset: no push"),
    SettingSpec("INTRADAY_JULES_MAX_POSITION", "max_position_usd", _money,
                lambda _: Decimal("1000"), "risk: max position notional per asset, USD"),
    SettingSpec("INTRADAY_JULES_DAILY_LOSS_LIMIT", "daily_loss_limit_usd", _money,
                lambda _: Decimal("50"), "risk: daily loss that latches HALTED, USD"),
    SettingSpec("INTRADAY_JULES_DRAWDOWN_LIMIT", "drawdown_limit_usd", _money,
                lambda _: Decimal("100"),
                "risk: drawdown from the high-water mark that latches HALTED, USD"),
    SettingSpec("INTRADAY_JULES_FOUNDATION_STEPS", "foundation_steps", _positive_int,
                _budget(50_000, 2_048), "RecurrentPPO steps for the NVDA foundation model"),
    SettingSpec("INTRADAY_JULES_DUAL_STEPS", "dual_steps", _positive_int,
                _budget(200_000, 4_096), "RecurrentPPO steps for the dual-ticker model"),
    SettingSpec("INTRADAY_JULES_CPCV_FOUNDATION_STEPS", "cpcv_foundation_steps", _positive_int,
                _budget(8_192, 256), "CPCV: foundation steps per split (the gate's "
                "cross-validation retrains the recipe on each of 15 splits)"),
    SettingSpec("INTRADAY_JULES_CPCV_DUAL_STEPS", "cpcv_dual_steps", _positive_int,
                _budget(16_384, 512), "CPCV: dual-ticker steps per split"),
    SettingSpec("INTRADAY_JULES_DEVICE", "device", _device, lambda _: "cpu",
                "training device: cpu (default, faster for this policy size), cuda (error "
                "if absent) or auto (CUDA when present)"),
    # The inference service (docs/service.md); its bearer token is the secret service_token.
    SettingSpec("INTRADAY_JULES_SERVICE_MAX_BODY_BYTES", "service_max_body_bytes", _positive_int,
                lambda _: 1_048_576, "inference service: largest request body, bytes (else 413)"),
    SettingSpec("INTRADAY_JULES_SERVICE_MAX_CONCURRENCY", "service_max_concurrency",
                _positive_int, lambda _: 4,
                "inference service: model requests (/predict, session bars) running at once "
                "per worker"),
    SettingSpec("INTRADAY_JULES_SERVICE_MAX_QUEUE", "service_max_queue", _non_negative_int,
                lambda _: 4, "inference service: model requests waiting for a slot; more "
                "are answered 503 with Retry-After"),
    SettingSpec("INTRADAY_JULES_SERVICE_SESSION_TTL_S", "service_session_ttl_s",
                _positive_int, lambda _: 900,
                "inference service: idle seconds before a /sessions session is dropped"),
    SettingSpec("INTRADAY_JULES_SERVICE_MAX_SESSIONS", "service_max_sessions", _positive_int,
                lambda _: 64, "inference service: /sessions open at once per worker; more "
                "are answered 429"),
    # The seed's targets (docs/operations.md#the-seeds-targets): status, Grafana, the report.
    SettingSpec("INTRADAY_JULES_TARGETS_START", "targets_start", date.fromisoformat,
                lambda _: None, "first session the targets count (cumulative P&L, drawdown, "
                "uptime), YYYY-MM-DD; unset: the first traded session"),
    SettingSpec("INTRADAY_JULES_PNL_TARGET", "pnl_target_usd", _money,
                lambda _: Decimal("1000"), "target: cumulative paper P&L since the start, USD"),
    SettingSpec("INTRADAY_JULES_DRAWDOWN_TARGET_PCT", "drawdown_target_pct", _percent,
                lambda _: Decimal("2"), "target: max drawdown of equity from its peak, % (at "
                "most)"),
    SettingSpec("INTRADAY_JULES_UPTIME_TARGET_PCT", "uptime_target_pct", _percent,
                lambda _: Decimal("99"), "target: session minutes with a fresh bar and a live "
                "loop, % (at least)"),
)


@dataclass(frozen=True)
class Settings:
    """The resolved configuration. Build with ``Settings.from_env()``; never mutate."""

    deployment: Deployment
    home: Path
    database_url: str = field(repr=False)
    market_sources: tuple[str, ...]
    cross_vendor_check: bool
    replay_path: Path | None
    log_level: str
    symbols: tuple[str, ...]
    extended_hours: bool
    first_session: date
    sim_seed: int
    ib_host: str
    ib_port: int
    ib_client_id: int
    av_base_url: str
    av_calls_per_minute: int
    av_calls_per_day: int
    broker: str
    pushgateway_url: str | None
    max_position_usd: Decimal
    daily_loss_limit_usd: Decimal
    drawdown_limit_usd: Decimal
    foundation_steps: int
    dual_steps: int
    service_max_body_bytes: int = 1_048_576
    service_max_concurrency: int = 4
    service_max_queue: int = 4
    service_session_ttl_s: int = 900
    service_max_sessions: int = 64
    targets_start: date | None = None
    pnl_target_usd: Decimal = Decimal("1000")
    drawdown_target_pct: Decimal = Decimal("2")
    uptime_target_pct: Decimal = Decimal("99")
    device: str = "cpu"
    cpcv_foundation_steps: int = 8_192
    cpcv_dual_steps: int = 16_384

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Resolve every setting from ``environ`` (default ``os.environ``), then ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in SETTING_SPECS:
            if spec.name in overrides:
                values[spec.name] = overrides[spec.name]
                continue
            raw = env.get(spec.env)
            if raw is None or raw == "":
                values[spec.name] = spec.default(values)
                continue
            try:
                values[spec.name] = spec.parse(raw)
            except ValueError as exc:
                shown = "***" if spec.secret else repr(raw)
                raise SettingsError(f"{spec.env}={shown}: {exc}") from None
        placeholders = placeholder_secrets(env)
        if placeholders:
            raise SettingsError(
                f"{', '.join(placeholders)}: still the '{PLACEHOLDER_PREFIX}...' placeholder of "
                "docker/.env.example; refusing to start: set a real secret")
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if "replay" in self.market_sources and self.replay_path is None:
            raise SettingsError("INTRADAY_JULES_MARKET_SOURCE includes 'replay' but "
                                "INTRADAY_JULES_REPLAY_PATH is not set")

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def tensorboard_dir(self) -> Path:
        return self.home / "tensorboard"

    def masked(self) -> dict[str, Any]:
        """Every setting with its env var, secrets masked (``mask_url``: URL passwords and
        secret query parameters, in the database URL and in any other URL-valued setting)."""
        from intraday_jules.url_masking import mask_url, mask_urls_in_text

        out: dict[str, Any] = {}
        for spec in SETTING_SPECS:
            value = getattr(self, spec.name)
            if spec.name == "database_url":
                value = mask_url(value)
            elif isinstance(value, str):
                value = mask_urls_in_text(value)
            elif isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = ",".join(value)
            elif isinstance(value, Decimal | date):
                value = str(value)
            out[spec.name] = {"env": spec.env, "value": value, "help": spec.help}
        return out
