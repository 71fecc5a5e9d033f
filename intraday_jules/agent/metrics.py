"""Performance metrics of one run, and confidence intervals over seeds.

Conventions (docs/training.md):
- Returns are on the book's equity (``initial_cash``, $10,000 by default), of which at most
  $1,000 per asset is ever exposed. ``total_return`` is a fraction; ``max_drawdown_pct`` is in
  percent (1.5 = 1.5%), the unit of the promotion gate's 2% limit.
- Live units, for the gate's comparison with the risk engine's halts: ``max_drawdown_usd`` is
  the largest peak-to-trough fall of the portfolio value in $ (the drawdown halt's unit) and
  ``worst_daily_pnl_usd`` the most negative session P&L in $ (the daily loss halt's unit;
  the smallest session P&L, positive if every session made money). A session is one
  exchange session of the trajectory, as for the daily returns.
- Sharpe and Sortino use DAILY returns (one per session: session P&L / equity at its start).
  ``sharpe_per_session`` / ``sortino_per_session`` are the raw ratios (always present);
  ``sharpe`` / ``sortino`` annualise them by sqrt(252) only when the window has at least
  ``MIN_ANNUALISED_SESSIONS`` (20) sessions, and are None (JSON null) below that: on a few
  sessions sqrt(252) x a noisy per-session ratio reads like a yearly figure it is not. The
  book is flat at every close, so a session's P&L is exactly the day's return; per-bar
  returns (sqrt(252 x 390)) would mostly be zeros of flat bars and assume independent
  minutes, which intraday returns are not. Sortino's downside deviation is
  sqrt(mean(min(r, 0)^2)) over all sessions. Calmar = (mean daily return x 252) / max
  drawdown (fraction), null below ``MIN_ANNUALISED_SESSIONS`` sessions as well.
- A ratio with a zero denominator is 0.0 when its numerator is 0 too (e.g. flat), and None
  (JSON null: undefined) otherwise.
- Costs (``costs_usd``): commission + slippage in $ (slippage is inside the fill price, so
  ``gross_pnl_usd`` = ``pnl_usd`` + ``costs_usd`` is the P&L at the unslipped next-bar open
  without commission). ``trades`` counts fills (one asset's order in one step);
  ``gross_edge_per_trade_usd`` / ``cost_per_trade_usd`` divide by it (None without trades).
  ``break_even_cost_x`` = gross / costs: the multiple of this run's costs at which its net P&L
  is 0 (at the 1x reference it is the break-even cost multiplier; below 1 the policy cannot
  pay its costs, negative when it loses before costs); None without trades or without costs.
- turnover: traded notional per session / equity. trades_per_day: fills per session.
  exposure: fraction of decision steps that end holding any position. hit_rate: fraction of
  round trips (flat -> position -> flat, per asset, commissions included) that made money.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from intraday_jules.agent.rollout import Trajectory

TRADING_DAYS = 252
MIN_ANNUALISED_SESSIONS = 20
METRICS: tuple[str, ...] = (
    "total_return", "pnl_usd", "sharpe", "sortino", "max_drawdown_pct", "max_drawdown_usd",
    "worst_daily_pnl_usd", "calmar", "turnover", "trades_per_day", "exposure", "hit_rate",
    "sharpe_per_session", "sortino_per_session", "trades", "gross_pnl_usd", "costs_usd",
    "gross_edge_per_trade_usd", "cost_per_trade_usd", "break_even_cost_x",
)
Metrics = dict[str, float | None]

# Two-sided 95% Student-t quantiles by degrees of freedom (1..30); 1.96 beyond.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def _ratio(numerator: float, denominator: float) -> float | None:
    if denominator > 0:
        return float(numerator / denominator)
    return 0.0 if numerator == 0 else None


def session_values(traj: Trajectory, sessions: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per session (in order): (value at its start, value at its end) in $."""
    keep = np.ones(len(traj.session), bool) if sessions is None else np.isin(traj.session,
                                                                                sessions)
    starts, ends = [], []
    for s in np.unique(traj.session[keep]):
        steps = np.flatnonzero(traj.session == s)
        starts.append(traj.values[steps[0]])
        ends.append(traj.values[steps[-1] + 1])
    return np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64)


def daily_returns(traj: Trajectory, sessions: np.ndarray | None = None) -> np.ndarray:
    """Per session (in order): P&L over the session / value at its start."""
    start, end = session_values(traj, sessions)
    return np.asarray((end - start) / start, dtype=np.float64)


def daily_pnl_usd(traj: Trajectory, sessions: np.ndarray | None = None) -> np.ndarray:
    """Per session (in order): P&L over the session in $."""
    start, end = session_values(traj, sessions)
    return np.asarray(end - start, dtype=np.float64)


def compute_metrics(traj: Trajectory, sessions: np.ndarray | None = None) -> Metrics:
    """Every metric of ``traj`` (optionally only its steps in ``sessions``)."""
    steps = (np.arange(len(traj.session)) if sessions is None
             else np.flatnonzero(np.isin(traj.session, sessions)))
    values = np.concatenate([[traj.values[steps[0]]], traj.values[steps + 1]])
    days = daily_returns(traj, sessions)
    day_pnl = daily_pnl_usd(traj, sessions)
    n_days = max(len(days), 1)
    start, end = float(values[0]), float(values[-1])
    peak = np.maximum.accumulate(values)
    dd_usd = float((peak - values).max())
    dd_frac = float(((peak - values) / peak).max())
    mean = float(days.mean()) if len(days) else 0.0
    std = float(days.std(ddof=1)) if len(days) > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(days, 0.0) ** 2))) if len(days) else 0.0
    sharpe, sortino = _ratio(mean, std), _ratio(mean, downside)
    return {
        "total_return": end / start - 1.0,
        "pnl_usd": end - start,
        "sharpe": annualised(sharpe, len(days)),
        "sortino": annualised(sortino, len(days)),
        "max_drawdown_pct": 100.0 * dd_frac,
        "max_drawdown_usd": dd_usd,
        "worst_daily_pnl_usd": float(day_pnl.min()) if len(day_pnl) else 0.0,
        # annualised too: null on windows too short to annualise, like sharpe and sortino
        "calmar": (_ratio(mean * TRADING_DAYS, dd_frac)
                   if len(days) >= MIN_ANNUALISED_SESSIONS else None),
        "turnover": float(traj.traded[steps].sum()) / (traj.initial * n_days),
        "trades_per_day": float(traj.trades[steps].sum()) / n_days,
        "exposure": float(np.any(traj.shares[steps] != 0, axis=1).mean()),
        "hit_rate": hit_rate(traj, steps),
        "costs_usd": float(traj.costs[steps].sum()),
        "sessions": float(len(days)),
        "sharpe_per_session": sharpe,
        "sortino_per_session": sortino,
        **cost_metrics(end - start, float(traj.costs[steps].sum()),
                       int(traj.trades[steps].sum())),
    }


def annualised(per_session: float | None, sessions: int) -> float | None:
    """``per_session`` x sqrt(252), or None when undefined or on fewer than
    ``MIN_ANNUALISED_SESSIONS`` sessions."""
    if per_session is None or sessions < MIN_ANNUALISED_SESSIONS:
        return None
    return per_session * math.sqrt(TRADING_DAYS)


def cost_metrics(pnl_usd: float, costs_usd: float, trades: int) -> Metrics:
    """Gross P&L, costs per trade and the break-even cost of a run with net ``pnl_usd``,
    ``costs_usd`` of commission + slippage and ``trades`` fills."""
    gross = pnl_usd + costs_usd
    return {
        "trades": float(trades),
        "gross_pnl_usd": gross,
        "gross_edge_per_trade_usd": gross / trades if trades else None,
        "cost_per_trade_usd": costs_usd / trades if trades else None,
        "break_even_cost_x": gross / costs_usd if trades and costs_usd > 0 else None,
    }


def hit_rate(traj: Trajectory, steps: np.ndarray) -> float | None:
    """Winning round trips / round trips. A round trip is one asset's position from leaving
    zero to returning to zero (a sign flip closes one and opens the next); its P&L is the sum
    of its fills' cash flows (commissions included; a flipping fill is split by shares)."""
    wins = total = 0
    for i in range(traj.shares.shape[1]):
        pnl, prev = 0.0, 0
        for k in steps.tolist():
            now = int(traj.shares[k, i])
            if now == prev:
                continue
            flow = float(traj.cash_flows[k, i])
            if prev != 0 and now * prev <= 0:  # back to flat, or through it
                closing = abs(prev) / abs(now - prev)
                pnl += flow * closing
                total, wins = total + 1, wins + (pnl > 0)
                pnl = flow * (1.0 - closing)
            else:
                pnl += flow
            prev = now
    return wins / total if total else None


def mean_metrics(runs: Sequence[Mapping[str, float | None]]) -> Metrics:
    """Per metric, the mean over runs of the values that are defined (None if none are)."""
    out: Metrics = {}
    for name in runs[0]:
        vals = [v for r in runs if (v := r.get(name)) is not None]
        out[name] = float(np.mean(vals)) if vals else None
    return out


def ci95(runs: Sequence[Mapping[str, float | None]]) -> dict[str, list[float] | None]:
    """Per metric, the 95% Student-t confidence interval of the mean over runs (seeds):
    mean -/+ t(0.975, n-1) x s / sqrt(n); a single run gives [v, v]."""
    out: dict[str, list[float] | None] = {}
    for name in runs[0]:
        vals = np.array([v for r in runs if (v := r.get(name)) is not None], dtype=np.float64)
        if len(vals) == 0:
            out[name] = None
            continue
        mean = float(vals.mean())
        if len(vals) < 2:
            out[name] = [mean, mean]
            continue
        t = _T975[len(vals) - 2] if len(vals) - 1 <= len(_T975) else 1.96
        half = t * float(vals.std(ddof=1)) / math.sqrt(len(vals))
        out[name] = [mean - half, mean + half]
    return out
