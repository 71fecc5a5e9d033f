"""The tearsheet of a period (``intraday-jules report``): QuantStats's HTML report, not ours.

QuantStats takes a series of periodic returns; ours are the sessions' returns, each session's
P&L over its starting equity (``SessionPerformance.daily_return``). When positions are flat
between sessions (the seed flattens before every close) their compounded product is exactly
the period's cumulative P&L over the first equity, so the tearsheet's "Cumulative Return"
agrees with the performance report. It runs headless (matplotlib Agg) and offline (no
benchmark is downloaded).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import warnings
from pathlib import Path

import pandas as pd

from intraday_jules.ledger.performance import Performance

RETURNS_NAME = "IntradayJules"


def daily_returns(performance: Performance) -> pd.Series:
    """The sessions' returns as floats, indexed by session date (naive, as QuantStats wants)."""
    days = [s for s in performance.sessions if s.daily_return is not None]
    return pd.Series([float(s.daily_return) for s in days if s.daily_return is not None],
                     index=pd.DatetimeIndex([pd.Timestamp(s.session) for s in days]),
                     name=RETURNS_NAME, dtype="float64")


def write_tearsheet(performance: Performance, out: Path, title: str) -> Path:
    """Write QuantStats's HTML tearsheet of ``performance``'s sessions to ``out``.

    Raises ValueError when no session of the period has an equity (nothing to show).
    """
    returns = daily_returns(performance)
    if returns.empty:
        raise ValueError("no traded session with recorded equity in the period")
    import matplotlib

    matplotlib.use("Agg")
    # QuantStats asks for fonts the machine may lack (Arial) and warns about its own tick
    # labels: noise, not problems of the report.
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import quantstats as qs

    # anything QuantStats prints goes to stderr: stdout is the command's JSON
    with warnings.catch_warnings(), contextlib.redirect_stdout(sys.stderr):
        warnings.simplefilter("ignore")
        qs.reports.html(returns, output=str(out), title=title,  # type: ignore[no-untyped-call]
                        download_filename=out.name)
    return out
