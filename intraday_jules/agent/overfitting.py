"""How much of a backtest's Sharpe ratio is selection luck: the deflated Sharpe ratio and the
probability of backtest overfitting.

Deflated Sharpe ratio (Bailey & Lopez de Prado 2014, "The Deflated Sharpe Ratio: Correcting
for Selection Bias, Backtest Overfitting, and Non-Normality"): the probabilistic Sharpe ratio
(PSR, Bailey & Lopez de Prado 2012) of the selected strategy against the Sharpe ratio that the
best of ``n_trials`` skill-less trials is expected to reach,

    SR_0 = sqrt(V[SR_n]) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))   (g: Euler's gamma)
    PSR(SR*) = Z((SR - SR*) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurtosis - 1) / 4 * SR^2))

Every quantity is PER OBSERVATION (here: per session), never annualised; ``kurtosis`` is the
raw fourth standardised moment (3 for a normal law). The expected maximum and the moments are
skfolio's (``skfolio.measures``, a maintained library whose ``deflated_sharpe_ratio`` this
reproduces); ours only adds the trial count of a whole study (failed and pruned trials have no
Sharpe ratio but were tried) and the figures in between, for the verdict to show.

Probability of backtest overfitting (Bailey, Borwein, Lopez de Prado & Zhu 2017, "The
Probability of Backtest Overfitting"), by combinatorially symmetric cross-validation (CSCV):
the T x N matrix of per-session performance of N configurations is cut into S blocks of
consecutive sessions; each of the C(S, S/2) ways to pick half the blocks is an in-sample set
(the rest out-of-sample); the configuration best in sample is ranked out of sample, and
PBO is the share of splits where it lands in the bottom half (logit <= 0). No maintained
library implements CSCV (skfolio has none), so it is implemented here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
from scipy import stats
from skfolio import measures

#: ``metric(rows)``: one figure per configuration, higher is better, reducing axis -2 (the
#: sessions) of a (splits, sessions, configurations) batch of in- or out-of-sample rows
Metric = Callable[[np.ndarray], np.ndarray]
#: CSCV splits evaluated at once (bounds the batch's memory: splits x T/2 x N floats)
_BATCH = 256


def expected_max_sharpe(n_trials: float, trial_sharpe_variance: float) -> float:
    """The Sharpe ratio the best of ``n_trials`` independent skill-less trials is expected to
    reach (zero mean, variance ``trial_sharpe_variance``; both per observation)."""
    if not math.isfinite(trial_sharpe_variance) or trial_sharpe_variance < 0:
        raise ValueError(f"trial_sharpe_variance must be finite and >= 0, got "
                         f"{trial_sharpe_variance}")
    return float(measures.expected_max_sharpe_ratio(
        n_trials=n_trials, trial_sharpe_ratio_std=math.sqrt(trial_sharpe_variance)))


def psr_from_moments(sharpe: float, n_obs: int, skew: float, kurtosis: float,
                     benchmark_sharpe: float = 0.0) -> float:
    """PSR: the probability that the true Sharpe ratio exceeds ``benchmark_sharpe``, given
    the observed one over ``n_obs`` observations with that skew and (raw) kurtosis."""
    if n_obs < 3:
        raise ValueError(f"the probabilistic Sharpe ratio needs >= 3 observations, got {n_obs}")
    variance = 1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if not variance > 0:
        raise ValueError(f"the Sharpe ratio's variance is not positive ({variance}) for "
                         f"sharpe {sharpe}, skew {skew}, kurtosis {kurtosis}")
    z = (sharpe - benchmark_sharpe) * math.sqrt(n_obs - 1) / math.sqrt(variance)
    return float(stats.norm.cdf(z))


@dataclass(frozen=True)
class Moments:
    """Per-observation Sharpe ratio (sample std, ddof 1), skew and raw kurtosis."""

    sharpe: float
    skew: float
    kurtosis: float
    n_obs: int


def return_moments(returns: np.ndarray) -> Moments:
    """The moments PSR needs, of a 1-D series (>= 3 finite values, not constant)."""
    values = np.asarray(returns, dtype=np.float64)
    if values.ndim != 1:
        raise ValueError(f"returns must be one series (1-D), got shape {values.shape}")
    if not np.isfinite(values).all():
        bad = int(np.flatnonzero(~np.isfinite(values))[0])
        raise ValueError(f"returns[{bad}] is {values[bad]}: every return must be finite")
    if len(values) < 3:
        raise ValueError(f"the probabilistic Sharpe ratio needs >= 3 returns, got "
                         f"{len(values)}")
    std = float(measures.standard_deviation(values))
    if not std > 0:
        raise ValueError("the returns are constant: their Sharpe ratio is undefined")
    return Moments(float(measures.mean(values)) / std, float(measures.skew(values)),
                   float(measures.kurtosis(values)), len(values))


def probabilistic_sharpe(returns: np.ndarray, benchmark_sharpe: float = 0.0) -> float:
    """PSR of ``returns`` (per-observation, e.g. one per session) against
    ``benchmark_sharpe`` (per observation too)."""
    m = return_moments(returns)
    return psr_from_moments(m.sharpe, m.n_obs, m.skew, m.kurtosis, benchmark_sharpe)


@dataclass(frozen=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio and what it is made of (all per observation).

    ``probability``: the DSR, P(true Sharpe > 0) once the selection among ``n_trials`` is
    accounted for (the gate asks >= 0.95). ``expected_max_sharpe``: SR_0, the benchmark."""

    sharpe: float
    skew: float
    kurtosis: float
    n_obs: int
    n_trials: int
    trial_sharpe_variance: float
    expected_max_sharpe: float
    probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"sharpe": self.sharpe, "skew": self.skew, "kurtosis": self.kurtosis,
                "n_obs": self.n_obs, "n_trials": self.n_trials,
                "trial_sharpe_variance": self.trial_sharpe_variance,
                "expected_max_sharpe": self.expected_max_sharpe,
                "probability": self.probability}


def deflated_sharpe_from_moments(moments: Moments, *, n_trials: int,
                                 trial_sharpe_variance: float) -> DeflatedSharpe:
    """DSR from the selected strategy's moments (the paper's worked example is given so)."""
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1 (the selected trial counts), got {n_trials}")
    benchmark = expected_max_sharpe(n_trials, trial_sharpe_variance)
    probability = psr_from_moments(moments.sharpe, moments.n_obs, moments.skew,
                                   moments.kurtosis, benchmark)
    return DeflatedSharpe(moments.sharpe, moments.skew, moments.kurtosis, moments.n_obs,
                          n_trials, trial_sharpe_variance, benchmark, probability)


def deflated_sharpe(returns: np.ndarray, *, n_trials: int,
                    trial_sharpe_variance: float) -> DeflatedSharpe:
    """DSR of the selected strategy's ``returns`` (one per session), chosen among
    ``n_trials`` trials (ALL that were tried: failed and pruned included) whose Sharpe
    ratios vary with ``trial_sharpe_variance`` (per session, from the trials that have one)."""
    return deflated_sharpe_from_moments(return_moments(returns), n_trials=n_trials,
                                        trial_sharpe_variance=trial_sharpe_variance)


def column_sharpe(rows: np.ndarray) -> np.ndarray:
    """Per column, over axis -2 (the sessions; leading axes are a batch): mean / sample std
    (ddof 1). A constant column is 0 when its mean is 0 (e.g. a policy that stays flat) and
    +/-inf otherwise (a sure gain or loss ranks first or last)."""
    mean = rows.mean(axis=-2)
    std = rows.std(axis=-2, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = mean / std
    sure = np.where(mean > 0, np.inf, np.where(mean < 0, -np.inf, 0.0))
    return np.asarray(np.where(std > 0, sharpe, sure), dtype=np.float64)


@dataclass(frozen=True)
class Pbo:
    """CSCV's result. ``logits``: one per split, ln(w / (1 - w)) with w the out-of-sample
    relative rank (rank / (N + 1), ties averaged) of the in-sample best configuration.
    ``oos_loss_probability``: share of splits where that configuration's out-of-sample
    metric is below 0. ``dropped_rows``: the oldest rows left out so that the S blocks
    have equal length."""

    pbo: float
    logits: tuple[float, ...]
    n_combinations: int
    n_partitions: int
    n_configs: int
    n_rows: int
    dropped_rows: int
    oos_loss_probability: float

    def to_dict(self) -> dict[str, Any]:
        return {"pbo": self.pbo, "n_combinations": self.n_combinations,
                "n_partitions": self.n_partitions, "n_configs": self.n_configs,
                "n_rows": self.n_rows, "dropped_rows": self.dropped_rows,
                "oos_loss_probability": self.oos_loss_probability,
                "logit_median": float(np.median(self.logits))}


def probability_of_backtest_overfitting(performance: np.ndarray, n_partitions: int = 16,
                                        metric: Metric = column_sharpe) -> Pbo:
    """PBO by CSCV of ``performance`` (T sessions, oldest first, x N configurations; e.g.
    per-session P&L), with ``metric`` ranking the configurations (default: per-column Sharpe
    ratio; it reduces axis -2 of a (splits, sessions, N) batch). The in-sample best is the
    first maximum; T not a multiple of ``n_partitions`` drops the oldest T mod S rows."""
    matrix = _checked(performance, n_partitions)
    n_rows, n_configs = matrix.shape
    dropped = n_rows % n_partitions
    blocks = matrix[dropped:].reshape(n_partitions, -1, n_configs)
    chosen = np.array(list(combinations(range(n_partitions), n_partitions // 2)))
    others = np.array([[b for b in range(n_partitions) if b not in row] for row in chosen])
    logits, losses = [], []
    for batch in np.array_split(np.arange(len(chosen)), max(1, len(chosen) // _BATCH)):
        inside = blocks[chosen[batch]].reshape(len(batch), -1, n_configs)
        outside = blocks[others[batch]].reshape(len(batch), -1, n_configs)
        best = np.argmax(metric(inside), axis=1)
        oos = metric(outside)
        oos_best = oos[np.arange(len(batch)), best][:, None]
        # the relative rank, ties given their average rank (1 = lowest)
        rank = (oos < oos_best).sum(axis=1) + ((oos == oos_best).sum(axis=1) + 1) / 2
        w = rank / (n_configs + 1)
        logits.append(np.log(w / (1.0 - w)))
        losses.append(oos_best[:, 0] < 0)
    lam = np.concatenate(logits)
    return Pbo(float(np.mean(lam <= 0)), tuple(float(x) for x in lam), len(lam), n_partitions,
               n_configs, n_rows - dropped, dropped, float(np.mean(np.concatenate(losses))))


def _checked(performance: np.ndarray, n_partitions: int) -> np.ndarray:
    matrix = np.asarray(performance, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"performance must be a (sessions x configurations) matrix, got "
                         f"shape {matrix.shape}")
    n_rows, n_configs = matrix.shape
    if n_configs < 2:
        raise ValueError(f"PBO compares configurations: needs >= 2 columns, got {n_configs}")
    if n_partitions < 2 or n_partitions % 2:
        raise ValueError(f"n_partitions must be even and >= 2 (half the blocks are in "
                         f"sample), got {n_partitions}")
    if n_rows < n_partitions:
        raise ValueError(f"{n_rows} sessions cannot make {n_partitions} blocks: needs "
                         f">= {n_partitions} rows")
    if n_rows // n_partitions * (n_partitions // 2) < 2:
        raise ValueError(f"{n_rows} sessions in {n_partitions} blocks leave fewer than 2 "
                         "sessions per half: a Sharpe ratio needs 2")
    if not np.isfinite(matrix).all():
        row, col = (int(i) for i in np.argwhere(~np.isfinite(matrix))[0])
        raise ValueError(f"performance[{row}, {col}] is {matrix[row, col]}: every value "
                         "must be finite")
    return matrix
