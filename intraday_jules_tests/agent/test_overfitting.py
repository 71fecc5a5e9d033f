"""Deflated Sharpe ratio against the paper's worked example and skfolio; PBO by CSCV on a
hand-computed example, on pure noise and on one configuration with a real edge."""

import math

import numpy as np
import pytest
from skfolio import measures

from intraday_jules.agent.overfitting import (
    Moments,
    column_sharpe,
    deflated_sharpe,
    deflated_sharpe_from_moments,
    expected_max_sharpe,
    probabilistic_sharpe,
    probability_of_backtest_overfitting,
    psr_from_moments,
)

# Bailey & Lopez de Prado (2014), "The Deflated Sharpe Ratio", section "A numerical example":
# annualised SR 2.5 over 5 years of daily returns (T = 1250, i.e. 250 days a year), skew -3,
# kurtosis 10, N = 100 trials whose Sharpe ratios have an annualised variance of 0.5.
# Per day: SR = 2.5 / sqrt(250) = 0.1581, V = 0.5 / 250 = 0.002 (std 0.04472).
# By hand: Z^-1(1 - 1/100) = 2.3263, Z^-1(1 - 1/(100 e)) = 2.6804, gamma = 0.5772:
# SR_0 = 0.04472 * (0.4228 * 2.3263 + 0.5772 * 2.6804) = 0.04472 * 2.5306 = 0.1132
# (the paper prints 0.1132, about 1.79 annualised);
# DSR = Z((0.1581 - 0.1132) * sqrt(1249) / sqrt(1 + 3 * 0.1581 + 9/4 * 0.1581^2))
#     = Z(1.5886 / 1.2372) = Z(1.2841) = 0.9004 (the paper: "DSR ~ 0.9004").
PAPER_SR = 2.5 / math.sqrt(250)
PAPER_V = 0.5 / 250


def test_expected_max_sharpe_reproduces_the_papers_benchmark():
    assert expected_max_sharpe(100, PAPER_V) == pytest.approx(0.1132, abs=5e-5)
    assert expected_max_sharpe(100, PAPER_V) * math.sqrt(250) == pytest.approx(1.79, abs=5e-3)


def test_deflated_sharpe_reproduces_the_papers_numerical_example():
    dsr = deflated_sharpe_from_moments(Moments(PAPER_SR, -3.0, 10.0, 1250), n_trials=100,
                                       trial_sharpe_variance=PAPER_V)
    assert dsr.expected_max_sharpe == pytest.approx(0.1132, abs=5e-5)
    assert dsr.probability == pytest.approx(0.9004, abs=5e-4)
    assert (dsr.n_trials, dsr.n_obs, dsr.sharpe) == (100, 1250, PAPER_SR)
    # the same strategy with ONE trial: no selection, the PSR against 0 is near certainty
    alone = deflated_sharpe_from_moments(Moments(PAPER_SR, -3.0, 10.0, 1250), n_trials=1,
                                         trial_sharpe_variance=PAPER_V)
    assert alone.expected_max_sharpe == 0.0 and alone.probability > 0.9999


def test_psr_of_normal_returns_is_the_closed_form():
    # The 2012 paper's own example ("The Sharpe Ratio Efficient Frontier") could not be
    # restated exactly here, so PSR is checked on its closed form for a normal law (skew 0,
    # kurtosis 3): Z(SR sqrt(T - 1) / sqrt(1 + SR^2 / 2)); SR 0.1, T 101 -> Z(0.99751).
    assert psr_from_moments(0.1, 101, 0.0, 3.0) == pytest.approx(0.840735, abs=1e-5)
    assert psr_from_moments(0.1, 101, 0.0, 3.0, benchmark_sharpe=0.1) == pytest.approx(0.5)
    # negative skew and fat tails widen the Sharpe ratio's error: less confidence
    assert psr_from_moments(0.1, 101, -3.0, 10.0) < psr_from_moments(0.1, 101, 0.0, 3.0)


def test_probabilistic_and_deflated_sharpe_equal_skfolios_on_a_return_series():
    rng = np.random.default_rng(3)
    returns = rng.standard_t(df=4, size=300) * 0.01 + 0.002
    assert probabilistic_sharpe(returns, 0.05) == pytest.approx(
        measures.probabilistic_sharpe_ratio(returns, benchmark_sharpe_ratio=0.05), rel=1e-12)
    trials = rng.normal(0.0, 0.05, size=40)
    ours = deflated_sharpe(returns, n_trials=40, trial_sharpe_variance=float(trials.var(ddof=1)))
    assert ours.probability == pytest.approx(
        measures.deflated_sharpe_ratio(returns, trials), rel=1e-12)
    # failed and pruned trials count: more trials, a higher bar, a lower probability
    more = deflated_sharpe(returns, n_trials=400, trial_sharpe_variance=float(trials.var(ddof=1)))
    assert more.expected_max_sharpe > ours.expected_max_sharpe
    assert more.probability < ours.probability


@pytest.mark.parametrize(("returns", "message"), [
    ([0.01, 0.02], r"needs >= 3 returns, got 2"),
    ([0.01, 0.01, 0.01], "constant"),
    ([0.01, float("nan"), 0.02], r"returns\[1\] is nan"),
    ([[0.01, 0.02, 0.03]], "1-D"),
])
def test_deflated_sharpe_refuses_bad_returns_precisely(returns, message):
    with pytest.raises(ValueError, match=message):
        deflated_sharpe(np.array(returns), n_trials=3, trial_sharpe_variance=0.01)


def test_deflated_sharpe_refuses_bad_trial_figures():
    returns = np.array([0.01, -0.02, 0.03, 0.0])
    with pytest.raises(ValueError, match="n_trials must be >= 1"):
        deflated_sharpe(returns, n_trials=0, trial_sharpe_variance=0.01)
    with pytest.raises(ValueError, match="trial_sharpe_variance must be finite and >= 0"):
        deflated_sharpe(returns, n_trials=5, trial_sharpe_variance=float("nan"))


# S = 4 blocks of one session each, N = 2 configurations, metric = total over the rows:
#   block 0: A 2, B 0 | block 1: A 0, B 1 | block 2: A 1, B 0 | block 3: A 0, B 0.5
# in-sample blocks -> IS totals (A, B), best -> OOS totals (A, B), best's OOS rank / 3 -> logit
#   {0,1}: (2, 1)   A -> (1, 0.5) rank 2 -> w 2/3 -> +ln 2
#   {0,2}: (3, 0)   A -> (0, 1.5) rank 1 -> w 1/3 -> -ln 2
#   {0,3}: (2, 0.5) A -> (1, 1)   tie, rank 1.5 -> w 1/2 -> 0 (counts as overfit)
#   {1,2}: (1, 1)   tie, first = A -> (2, 0.5) rank 2 -> +ln 2
#   {1,3}: (0, 1.5) B -> (3, 0)   rank 1 -> -ln 2
#   {2,3}: (1, 0.5) A -> (2, 1)   rank 2 -> +ln 2
# PBO = #(logit <= 0) / 6 = 3 / 6
HAND = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.5]])


def test_pbo_matches_the_hand_computed_example():
    result = probability_of_backtest_overfitting(HAND, n_partitions=4,
                                                 metric=lambda rows: rows.sum(axis=-2))
    ln2 = math.log(2.0)
    assert result.logits == pytest.approx((ln2, -ln2, 0.0, ln2, -ln2, ln2))
    assert result.pbo == 0.5
    assert (result.n_combinations, result.n_partitions, result.n_configs) == (6, 4, 2)
    assert result.oos_loss_probability == 0.0  # no OOS total below 0
    assert result.to_dict()["pbo"] == 0.5


def test_pbo_drops_the_oldest_rows_when_sessions_do_not_fill_the_blocks():
    older = np.array([[100.0, -100.0], [50.0, -50.0]])  # would make A best everywhere
    result = probability_of_backtest_overfitting(np.vstack([older, HAND]), n_partitions=4,
                                                 metric=lambda rows: rows.sum(axis=-2))
    assert (result.dropped_rows, result.n_rows) == (2, 4)
    assert result.pbo == 0.5


def test_pbo_of_pure_noise_is_near_one_half_on_average():
    # one noise study's PBO is itself noisy (its C(S, S/2) splits share the same sessions:
    # 0.1 to 0.9 over seeds), so the claim is about the average over many noise studies
    pbos = [probability_of_backtest_overfitting(
        np.random.default_rng(seed).normal(0.0, 1.0, size=(160, 40)), n_partitions=8).pbo
        for seed in range(20)]
    assert 0.35 <= float(np.mean(pbos)) <= 0.65


def test_pbo_of_one_configuration_with_a_strong_edge_is_near_zero():
    rng = np.random.default_rng(5)
    performance = rng.normal(0.0, 1.0, size=(320, 40))
    performance[:, 17] += 1.0  # a Sharpe ratio of 1 per session: no noise config rivals it
    result = probability_of_backtest_overfitting(performance, n_partitions=16)
    assert result.n_combinations == 12870
    assert result.pbo <= 0.01
    assert result.oos_loss_probability == 0.0


def test_column_sharpe_of_constant_columns():
    rows = np.array([[0.0, 1.0, -1.0, 1.0], [0.0, 1.0, -1.0, 3.0]])
    assert column_sharpe(rows).tolist() == [0.0, math.inf, -math.inf, pytest.approx(2 / 2**0.5)]


@pytest.mark.parametrize(("matrix", "partitions", "message"), [
    (np.zeros((16, 1)), 4, "needs >= 2 columns, got 1"),
    (np.zeros((3, 2)), 4, "3 sessions cannot make 4 blocks"),
    (np.zeros((16, 2)), 5, r"must be even and >= 2 \(half the blocks are in sample\), got 5"),
    (np.zeros((2, 2)), 2, "fewer than 2 sessions per half"),
    (np.where(np.eye(16, 3) > 0, np.nan, 0.0), 4, r"performance\[0, 0\] is nan"),
    (np.zeros(16), 4, "matrix"),
])
def test_pbo_refuses_bad_input_precisely(matrix, partitions, message):
    with pytest.raises(ValueError, match=message):
        probability_of_backtest_overfitting(matrix, n_partitions=partitions)
