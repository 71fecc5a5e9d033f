"""Typing what a backend read back into a bars frame (both backends read UTC ISO text)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from intraday_jules.domain.bars import PRICE_COLUMNS, TS_DTYPE


def typed_bars(frame: pd.DataFrame, with_meta: bool) -> pd.DataFrame:
    """Columns of a read result as a bars frame: object symbol/source, UTC ts, float prices,
    int volume (and UTC ``ingested_at`` when ``with_meta``)."""
    frame["symbol"] = frame["symbol"].astype(object)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601").astype(TS_DTYPE)
    for col in PRICE_COLUMNS:
        frame[col] = frame[col].astype(np.float64)
    frame["volume"] = frame["volume"].astype(np.int64)
    frame["source"] = frame["source"].astype(object)
    if with_meta:
        frame["ingested_at"] = pd.to_datetime(frame["ingested_at"], utc=True,
                                              format="ISO8601").astype(TS_DTYPE)
    return frame
