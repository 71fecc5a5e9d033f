"""Pure domain types: no I/O, imports nothing else of ours."""

from intraday_jules.domain.bars import BAR_COLUMNS, Bar, BarValidationError, validate_bars
from intraday_jules.domain.money import Money
from intraday_jules.domain.symbols import DEFAULT_SYMBOLS, parse_symbols, validate_symbol

__all__ = [
    "BAR_COLUMNS",
    "DEFAULT_SYMBOLS",
    "Bar",
    "BarValidationError",
    "Money",
    "parse_symbols",
    "validate_bars",
    "validate_symbol",
]
