"""The positive control's markets: the planted pattern is there, with its documented strength,
it is gone in the destroyed twin, and with the pattern off every bar is as before."""

from __future__ import annotations

import hashlib
from datetime import date

import numpy as np
import pandas as pd
import pytest

from intraday_jules.adapters.factory import SourceOptions, build_source
from intraday_jules.domain.calendar import sessions_in_range
from intraday_jules.market_data import planted
from intraday_jules.market_data.simulated import SimulatedSource
from intraday_jules.settings import parse_sources

SESSIONS = sessions_in_range(date(2025, 1, 2), date(2025, 1, 31))
#: sha256 of the default source's bars (seed 7; 2025-01-02, 01-03, 02-28; regular and
#: extended hours), measured on main before the pattern existed
DEFAULT_FINGERPRINT = "969fa736201a6fe05f239158d732de019ac57f07d9cf19bf0e0a6d19cec19580"


def _fingerprint(source: SimulatedSource) -> str:
    digest = hashlib.sha256()
    for day in (date(2025, 1, 2), date(2025, 1, 3), date(2025, 2, 28)):
        for extended in (False, True):
            frame = source.session_frame(day, extended)
            digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return digest.hexdigest()


def test_pattern_off_by_default_leaves_every_bar_unchanged() -> None:
    assert _fingerprint(SimulatedSource(seed=7)) == DEFAULT_FINGERPRINT
    assert _fingerprint(SimulatedSource(seed=7, pattern="none")) == DEFAULT_FINGERPRINT
    assert _fingerprint(SimulatedSource(seed=7, pattern="planted")) != DEFAULT_FINGERPRINT


def _closes(pattern: str, day: date) -> pd.DataFrame:
    frame = SimulatedSource(seed=7, pattern=pattern).session_frame(day)
    return frame.pivot(index="ts", columns="symbol", values="close")[["NVDA", "MSFT"]]


def _volumes(pattern: str, day: date) -> pd.DataFrame:
    frame = SimulatedSource(seed=7, pattern=pattern).session_frame(day)
    return frame.pivot(index="ts", columns="symbol", values="volume")[["NVDA", "MSFT"]]


def _mask(day: date) -> np.ndarray:
    """The episodes of ``day`` as the source draws them (its own stream, regular hours)."""
    rng = np.random.default_rng(np.random.SeedSequence([7, day.toordinal(),
                                                         planted.PLANT_STREAM]))
    return planted.episode_mask(rng, len(_closes("none", day)), 2)


def test_planted_drift_is_the_documented_one_and_sums_to_zero() -> None:
    day = SESSIONS[3]
    mask = _mask(day)
    drift = planted.planted_drift(mask)
    assert mask.sum(axis=0).tolist() == [planted.EPISODES_PER_SESSION * planted.EPISODE_BARS] * 2
    assert np.allclose(drift.sum(axis=0), 0.0, atol=1e-12)
    assert (drift[mask] == planted.EPISODE_DRIFT).all()
    assert not mask[:planted.FIRST_EPISODE_BAR].any()
    assert not mask[-planted.LAST_BARS_FREE:].any()
    held = slice(planted.HELD_FROM, len(drift) - planted.HELD_UNTIL_CLOSE)
    assert np.allclose(drift[held].sum(axis=0), 0.0, atol=1e-12)  # buy-and-hold gains nothing
    # the planted market's log closes = the plain market's + the cumulated drift (cents aside)
    gap = np.log(_closes("planted", day).to_numpy()) - np.log(_closes("none", day).to_numpy())
    assert np.abs(gap - np.cumsum(drift, axis=0)).max() < 2e-4


def test_episode_bars_trade_at_the_volume_surge() -> None:
    day = SESSIONS[5]
    mask = _mask(day)
    ratio = (_volumes("planted", day) / _volumes("none", day)).to_numpy()
    assert np.median(ratio[mask]) == pytest.approx(planted.VOLUME_SURGE, rel=0.05)
    assert np.median(ratio[~mask]) == pytest.approx(1.0, rel=0.05)


def _next_return_after_surge(pattern: str) -> float:
    """Mean next-bar log return (bps) after a bar whose volume is >= 2x the plain market's:
    what a policy that reads the volume would earn."""
    out = []
    for day in SESSIONS:
        closes = np.log(_closes(pattern, day).to_numpy())
        surge = (_volumes(pattern, day) / _volumes("none", day)).to_numpy() >= 2.0
        nxt = np.diff(closes, axis=0)  # row t: the return of bar t + 1
        out.append(nxt[surge[:-1]])
    return float(np.concatenate(out).mean() * 1e4)


def test_the_surge_predicts_the_next_bars_in_planted_and_nothing_in_destroyed() -> None:
    assert _next_return_after_surge("planted") > 0.7 * planted.EPISODE_DRIFT * 1e4
    assert abs(_next_return_after_surge("destroyed")) < 0.25 * planted.EPISODE_DRIFT * 1e4


def _returns(pattern: str, day: date) -> np.ndarray:
    """Every bar's log return, the first one from the session's open."""
    frame = SimulatedSource(seed=7, pattern=pattern).session_frame(day)
    first_open = frame.groupby("symbol")["open"].first()[["NVDA", "MSFT"]].to_numpy()
    closes = _closes(pattern, day).to_numpy()
    return np.diff(np.log(np.vstack([first_open, closes])), axis=0)


def test_destroyed_permutes_each_sessions_returns_and_keeps_its_close() -> None:
    day = SESSIONS[2]
    plant, destroyed = _closes("planted", day), _closes("destroyed", day)
    returns_p, returns_d = _returns("planted", day), _returns("destroyed", day)
    assert not np.allclose(returns_p, returns_d)
    # same closing price (the sum of the session's returns), up to a cent of rounding
    assert np.abs(plant.iloc[-1] - destroyed.iloc[-1]).max() <= 0.02
    # the same returns, reordered (cents rounding aside): their sorted values agree
    assert np.abs(np.sort(returns_p, axis=0) - np.sort(returns_d, axis=0)).max() < 2e-4
    assert (_volumes("planted", day) == _volumes("destroyed", day)).all().all()


def test_sources_are_named_and_built_from_settings_names() -> None:
    assert parse_sources("simulated-planted,simulated-destroyed") == (
        "simulated-planted", "simulated-destroyed")
    for name, pattern in (("simulated-planted", "planted"),
                          ("simulated-destroyed", "destroyed"), ("simulated", "none")):
        source = build_source(SourceOptions(names=(name,), sim_seed=7))
        assert isinstance(source, SimulatedSource)
        assert (source.name, source.pattern) == (name, pattern)
        assert set(source.session_frame(SESSIONS[0])["source"]) == {name}


def test_unknown_pattern_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"'shuffled'.*none, planted, destroyed"):
        SimulatedSource(pattern="shuffled")
