"""Vendor sources (IBKR, Alpha Vantage) built from ``SourceOptions``; imported lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING

from intraday_jules.market_data.source import BarSource

if TYPE_CHECKING:
    from intraday_jules.market_data.factory import SourceOptions


def build_vendor_source(name: str, options: SourceOptions) -> BarSource:
    raise NotImplementedError(f"source {name!r} is not wired yet")
