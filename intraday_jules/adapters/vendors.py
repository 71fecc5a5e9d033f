"""Vendor sources (IBKR, Alpha Vantage) built from ``SourceOptions``; imported lazily so the
default simulated/replay path never loads network clients.

The Alpha Vantage key is read from the secrets helper (env override first, then the keyring or
the encrypted vault under ``$INTRADAY_JULES_HOME``) at the first request, never stored in
options, config or resource metadata. Months fetched from Alpha Vantage are cached on disk
under ``$INTRADAY_JULES_HOME/cache/alpha_vantage`` so one Dagster run per partition still
costs one request per (symbol, month) against the free tier's 25 a day.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from intraday_jules.market_data.source import BarSource

if TYPE_CHECKING:
    from intraday_jules.adapters.factory import SourceOptions


def build_vendor_source(name: str, options: SourceOptions) -> BarSource:
    if name == "ibkr":
        return build_ibkr_source(options)
    if name == "alpha_vantage":
        return build_alpha_vantage_source(options)
    raise ValueError(f"unknown vendor source {name!r}")


def build_ibkr_source(options: SourceOptions) -> BarSource:
    from intraday_jules.adapters.ibkr import IbkrConfig, IbkrSource
    from intraday_jules.adapters.ibkr.config import ClientRole

    config = IbkrConfig.for_role(options.ib_client_id, ClientRole.DATA, host=options.ib_host,
                                 port=options.ib_port, extended_hours=options.extended_hours)
    return IbkrSource(config)


def build_alpha_vantage_source(options: SourceOptions) -> BarSource:
    from intraday_jules.adapters.alpha_vantage import AlphaVantageConfig, AlphaVantageSource
    from intraday_jules.secrets import SecretStore

    home = options.home or Path(".intraday_jules")
    config = AlphaVantageConfig(
        base_url=options.av_base_url, calls_per_minute=options.av_calls_per_minute,
        calls_per_day=options.av_calls_per_day, extended_hours=options.extended_hours,
        cache_dir=home / "cache" / "alpha_vantage")
    return AlphaVantageSource.from_secret_store(config, SecretStore(home, os.environ))
