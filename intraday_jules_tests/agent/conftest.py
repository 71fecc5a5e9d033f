"""Agent fixtures: realistic NVDA/MSFT minute bars (the seeded simulator), tiny trained models,
synthetic bars."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from intraday_jules.agent import (
    DateWindow,
    ModelBundle,
    PreparedData,
    Splits,
    TrainingConfig,
    prepare_data,
    split_sessions,
    train_dual,
    train_foundation,
)
from intraday_jules.domain.calendar import session_window, sessions_in_range
from intraday_jules.market_data.replay import read_bars_file

torch.set_num_threads(1)  # 2 shared cores: one thread is faster and robust under load

#: The recorded Jan-Feb 2025 minute file in ../shared/data/market (``recorded_data`` tests only).
ONE_MINUTE_FILE = "nvda_msft_1min_2025-01-02_2025-02-28.csv"


def tiny_config(**overrides: object) -> TrainingConfig:
    """The smallest RecurrentPPO that still exercises every code path."""
    values: dict[str, object] = {
        "total_timesteps": 64, "n_envs": 2, "n_steps": 16, "batch_size": 16, "n_epochs": 1,
        "lstm_hidden_size": 8, "net_arch": (8,), "checkpoint_freq": 0}
    return TrainingConfig(**{**values, **overrides})  # type: ignore[arg-type]


def synthetic_bars(first: date = date(2025, 3, 3), n_sessions: int = 4,
                   bars_per_session: int = 390, seed: int = 0,
                   symbols: tuple[str, ...] = ("NVDA", "MSFT")) -> pd.DataFrame:
    """Valid regular-hours random-walk bars for ``symbols`` (XNYS sessions from ``first``)."""
    rng = np.random.default_rng(seed)
    days = sessions_in_range(first, first + timedelta(days=3 * n_sessions + 10))[:n_sessions]
    frames = []
    for j, symbol in enumerate(symbols):
        for day in days:
            starts = session_window(day).bar_starts()[:bars_per_session]
            close = (130.0 + 290.0 * j) * np.exp(np.cumsum(rng.normal(0, 1e-3, len(starts))))
            open_ = np.concatenate([[close[0]], close[:-1]])
            frames.append(pd.DataFrame({
                "symbol": symbol, "ts": starts, "open": open_,
                "high": np.maximum(open_, close) * 1.0005,
                "low": np.minimum(open_, close) * 0.9995, "close": close,
                "volume": rng.integers(1_000, 50_000, len(starts))}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def real_bars(sim_minute_file: Path) -> pd.DataFrame:
    """Realistic 1-minute NVDA + MSFT bars, the 39 sessions of 2025-01-02..2025-02-28 (extended
    hours included): the seeded simulator's stand-in for the recorded ``ONE_MINUTE_FILE``."""
    return read_bars_file(sim_minute_file)


@pytest.fixture(scope="session")
def splits(real_bars: pd.DataFrame) -> Splits:
    days = sorted(set(real_bars["ts"].dt.tz_convert("America/New_York").dt.date))
    return split_sessions(days)


@pytest.fixture(scope="session")
def real_data(real_bars: pd.DataFrame, splits: Splits) -> PreparedData:
    return prepare_data(real_bars, train_window=splits.train, origin="test file")


@pytest.fixture(scope="session")
def short_validation(splits: Splits) -> DateWindow:
    """The first two validation sessions (keeps evaluations fast)."""
    return DateWindow(splits.validation.start, date(2025, 2, 6))


@pytest.fixture(scope="session")
def foundation(real_data: PreparedData) -> ModelBundle:
    return train_foundation(real_data, tiny_config(seed=3))


@pytest.fixture(scope="session")
def dual(real_data: PreparedData, foundation: ModelBundle) -> ModelBundle:
    return train_dual(real_data, foundation, tiny_config(seed=3))
