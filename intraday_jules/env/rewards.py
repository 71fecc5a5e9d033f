"""The reward choices of the trading envs (``TradingEnvConfig.reward``) beyond plain P&L.

"pnl" and "penalised" are the same formula with different penalty coefficients and live in
the env's step (``PortfolioTradingEnv._pnl_reward``); this module holds the stateful one:

The differential Sharpe ratio (Moody & Saffell 1998, "Reinforcement learning for trading",
eqs. 7-9): exponential moving estimates of the first and second moments of the per-step
return R_t,

    A_t = A_{t-1} + eta (R_t - A_{t-1}),      B_t = B_{t-1} + eta (R_t^2 - B_{t-1}),

and the reward is the first-order sensitivity of the moving Sharpe ratio A / sqrt(B - A^2) to
the newest return:

    D_t = (B_{t-1} dA_t - A_{t-1} dB_t / 2) / (B_{t-1} - A_{t-1}^2)^(3/2),
    dA_t = R_t - A_{t-1},  dB_t = R_t^2 - B_{t-1}.

It rewards a return that raises the risk-adjusted performance and is invariant to the scale
of the returns (so it needs no reward scaling). ``eta`` sets the memory: about 1 / eta steps
(0.01: ~100 decisions, a third of a 1-minute session). While the moving variance
B - A^2 is not yet positive (the first return of an episode, or only zero returns so far)
D_t is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_DSR_ETA = 0.01


@dataclass(slots=True)
class DifferentialSharpe:
    """Moody & Saffell's differential Sharpe ratio, one return at a time (module docstring)."""

    eta: float = DEFAULT_DSR_ETA
    first_moment: float = 0.0  # A: moving mean of the returns
    second_moment: float = 0.0  # B: moving mean of the squared returns

    def __post_init__(self) -> None:
        if not 0.0 < self.eta < 1.0:
            raise ValueError(f"the differential Sharpe ratio's eta must be in (0, 1), "
                             f"got {self.eta!r}")

    def reset(self) -> None:
        """Forget the moving moments (a new episode)."""
        self.first_moment = self.second_moment = 0.0

    def step(self, ret: float) -> float:
        """D_t for the return ``ret`` (fractional, e.g. 0.001 = +0.1%), then update A and B."""
        a, b, eta = self.first_moment, self.second_moment, self.eta
        variance = b - a * a
        reward = 0.0
        if variance > 0.0:
            reward = (b * (ret - a) - 0.5 * a * (ret * ret - b)) / variance ** 1.5
        self.first_moment = a + eta * (ret - a)
        self.second_moment = b + eta * (ret * ret - b)
        return reward
