"""Ticker symbols: plain upper-case strings, validated once at the boundary."""

from __future__ import annotations

import re
from collections.abc import Iterable

# The seed's two-asset portfolio, in the order used by observations and actions. A pair: the
# dual model (and the inference service) are defined on exactly two symbols.
DEFAULT_SYMBOLS: tuple[str, str] = ("NVDA", "MSFT")

_SYMBOL_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")


def validate_symbol(symbol: str) -> str:
    """Return the symbol if it looks like an exchange ticker, else raise ValueError."""
    if not isinstance(symbol, str) or not _SYMBOL_RE.match(symbol):
        raise ValueError(f"invalid symbol {symbol!r}: expected an upper-case ticker such as NVDA")
    return symbol


def parse_symbols(text: str | Iterable[str]) -> tuple[str, ...]:
    """Parse 'NVDA,MSFT' (or an iterable) into validated, de-duplicated, ordered symbols."""
    items = text.split(",") if isinstance(text, str) else list(text)
    seen: list[str] = []
    for raw in items:
        symbol = validate_symbol(raw.strip().upper())
        if symbol not in seen:
            seen.append(symbol)
    if not seen:
        raise ValueError("no symbols given")
    return tuple(seen)
