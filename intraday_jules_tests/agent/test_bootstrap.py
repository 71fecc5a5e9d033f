"""Session bootstrap: resamples sessions, deterministic for a seed, wider for fewer sessions."""

import numpy as np
import pytest

from intraday_jules.agent.bootstrap import session_bootstrap

PNL = np.array([12.0, -5.0, 3.0, 8.0, -2.0, 0.0, 7.0, -9.0, 4.0, 6.0])


def test_same_seed_same_interval_and_the_point_is_the_statistic():
    first = session_bootstrap(PNL, seed=4)
    assert first == session_bootstrap(PNL, seed=4)
    assert first != session_bootstrap(PNL, seed=5)
    assert first.point == pytest.approx(24.0)
    assert first.low < first.point < first.high
    mean = session_bootstrap(PNL, statistic="mean", seed=4)
    assert mean.point == pytest.approx(2.4)
    assert mean.low == pytest.approx(first.low / len(PNL))  # same resamples, sum / n


def test_interval_matches_a_hand_resampling_of_sessions():
    # the 2.5% / 97.5% percentiles of the sums of 20,000 resamples (numpy's own draws):
    # scipy's interval must agree with an independent resampling within Monte Carlo error
    rng = np.random.default_rng(0)
    sums = PNL[rng.integers(0, len(PNL), size=(20_000, len(PNL)))].sum(axis=1)
    low, high = np.percentile(sums, [2.5, 97.5])
    interval = session_bootstrap(PNL, n_resamples=20_000, seed=1)
    assert interval.low == pytest.approx(low, abs=2.0)
    assert interval.high == pytest.approx(high, abs=2.0)


def test_more_sessions_of_the_same_market_narrow_the_mean_interval():
    rng = np.random.default_rng(2)
    few = session_bootstrap(rng.normal(1.0, 10.0, 10), statistic="mean", seed=0)
    many = session_bootstrap(rng.normal(1.0, 10.0, 1000), statistic="mean", seed=0)
    assert many.high - many.low < (few.high - few.low) / 4


def test_identical_sessions_give_a_zero_width_interval():
    assert session_bootstrap(np.zeros(5)).to_dict() == {"low": 0.0, "high": 0.0, "point": 0.0}


@pytest.mark.parametrize(("values", "kwargs", "message"), [
    ([], {}, "non-empty"),
    ([1.0, float("inf")], {}, r"per_session_pnl\[1\] is inf"),
    ([1.0, 2.0], {"statistic": "median"}, "statistic 'median'"),
    ([1.0, 2.0], {"confidence": 1.0}, "confidence must be in"),
    ([1.0, 2.0], {"n_resamples": 0}, "n_resamples must be >= 1"),
])
def test_bad_input_is_refused_precisely(values, kwargs, message):
    with pytest.raises(ValueError, match=message):
        session_bootstrap(np.array(values), **kwargs)
