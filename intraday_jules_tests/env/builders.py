"""Frames built from synthetic arrays, for tests that go through ``MarketArrays.from_frames``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from intraday_jules.env.data import MarketArrays


def frames_from_arrays(arrays: MarketArrays) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(bars frame, features frame indexed by (symbol, ts)) holding exactly ``arrays``' data.

    High and low bracket open and close by 0.1%, so tests can move them without moving anything
    the env reads."""
    ts = pd.DatetimeIndex(arrays.ts).tz_localize("UTC").as_unit("us")
    bars, feats = [], []
    for i, symbol in enumerate(arrays.symbols):
        o, c = arrays.open[:, i], arrays.close[:, i]
        bars.append(pd.DataFrame({
            "symbol": symbol, "ts": ts, "open": o, "high": np.maximum(o, c) * 1.001,
            "low": np.minimum(o, c) * 0.999, "close": c, "volume": np.full(len(ts), 1000)}))
        frame = pd.DataFrame(arrays.features[:, i, :].astype(np.float64),
                             columns=list(arrays.feature_names))
        frame["warmup"] = arrays.warmup
        frame.index = pd.MultiIndex.from_arrays([[symbol] * len(ts), ts], names=["symbol", "ts"])
        feats.append(frame)
    return pd.concat(bars, ignore_index=True), pd.concat(feats)
