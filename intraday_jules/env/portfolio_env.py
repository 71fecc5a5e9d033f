"""The shared engine of the trading envs: one book of integer shares per symbol plus cash.

``SingleTickerTradingEnv`` and ``DualTickerTradingEnv`` (``trading_env.py``) are this engine with
one and two symbols; their docstrings are the spec. Everything the step reads was precomputed
into Python lists and one float32 matrix at construction, so a step does no pandas work and
little NumPy work (a handful of scalars per symbol is faster as Python floats).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, SupportsInt, get_args

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from intraday_jules.env.actions import HOLD, PositionRules, decode_action, n_actions
from intraday_jules.env.data import DEFAULT_FLATTEN_BARS, DEFAULT_LOOKBACK, MarketArrays
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.env.rewards import DEFAULT_DSR_ETA, DifferentialSharpe
from intraday_jules.env.schedule import check_interval

Info = dict[str, Any]
RewardKind = Literal["pnl", "penalised", "dsr"]
REWARDS: tuple[str, ...] = get_args(RewardKind)


@dataclass(frozen=True, slots=True)
class TradingEnvConfig:
    """Every setting and threshold of the envs, with the seed's values as defaults.

    lookback: warm-up bars at the start of each session on which no decision is made (the
        features need history; 50 bars = until 10:20 ET).
    episode_length: decision steps per episode; None = to the end of the data (evaluation).
    max_position_notional, step_notional, allow_short: see ``PositionRules``. Long-only by
        default, the one choice training, evaluation, the gate and the live loop share
        (a model's ``ExecutionSpec`` records it; README "Long-only by default").
    flatten_bars_before_close: the book is flat for a session's last N bars; the forced flatten
        fills at the open of the N-th last bar (5 -> 15:55 ET, 12:55 on half days).
    initial_cash: starting cash in $ (portfolio value = cash + shares x close).
    reward_scale: multiplies the whole reward (1.0 = dollars for "pnl" and "penalised").
    reward: what the agent is paid each step. "pnl" (default): the change in the book's
        value, net of costs, minus the optional ``turnover_penalty`` / ``drawdown_penalty``.
        "penalised": the same P&L minus ``penalised_turnover_coef`` x $ traded and
        ``penalised_drawdown_coef`` x $ of new drawdown. "dsr": the differential Sharpe
        ratio of the step's return on the book (Moody & Saffell 1998, ``env.rewards``) with
        memory ``dsr_eta``. The legacy penalties belong to "pnl" only: another reward with a
        non-zero one is refused.
    drawdown_penalty: $ of reward lost per $ of NEW drawdown from the episode's peak value.
    turnover_penalty: $ of reward lost per $ of notional traded (on top of modelled costs).
    penalised_drawdown_coef: "penalised" reward: $ lost per $ of new drawdown (0.5: a new
        $10 of drawdown costs $15 of reward in all).
    penalised_turnover_coef: "penalised" reward: $ lost per $ traded (0.0005 = 5 bps, $0.50
        on a $1,000 order, about half of its modelled commission + slippage: trading must
        earn more than its costs to pay).
    dsr_eta: "dsr" reward: adaptation rate of the moving moments, memory ~1 / eta decisions.
    decision_interval_minutes: the agent decides every k-th minute (1, 5 or 15), on the bars
        k, 2k... minutes after the session's open (``env.schedule``) plus the forced
        flatten; the book is held between decisions and a step's reward covers all k bars.
    observation_clip: features and positions are clipped to +/- this (the Box bounds).
    random_start: reset draws the first step from ``np_random``; if False, episodes walk the
        data in order, each starting where the previous one ended (evaluation).
    """

    lookback: int = DEFAULT_LOOKBACK
    episode_length: int | None = 1000
    max_position_notional: float = 1000.0
    step_notional: float = 1000.0
    allow_short: bool = False
    flatten_bars_before_close: int = DEFAULT_FLATTEN_BARS
    initial_cash: float = 10_000.0
    reward_scale: float = 1.0
    drawdown_penalty: float = 0.0
    turnover_penalty: float = 0.0
    observation_clip: float = 10.0
    random_start: bool = True
    reward: RewardKind = "pnl"
    penalised_drawdown_coef: float = 0.5
    penalised_turnover_coef: float = 0.0005
    dsr_eta: float = DEFAULT_DSR_ETA
    decision_interval_minutes: int = 1

    def __post_init__(self) -> None:
        if self.episode_length is not None and self.episode_length < 1:
            raise ValueError(f"episode_length must be >= 1 or None, got {self.episode_length}")
        penalties = (self.drawdown_penalty, self.turnover_penalty,
                     self.penalised_drawdown_coef, self.penalised_turnover_coef)
        if min(penalties) < 0 or self.observation_clip <= 0:
            raise ValueError("penalties must be >= 0 and observation_clip > 0")
        if self.reward not in REWARDS:
            raise ValueError(f"TradingEnvConfig.reward must be one of {', '.join(REWARDS)}, "
                             f"got {self.reward!r}")
        if self.reward != "pnl" and (self.drawdown_penalty or self.turnover_penalty):
            raise ValueError(f"drawdown_penalty/turnover_penalty apply to the 'pnl' reward "
                             f"only; reward {self.reward!r} has its own coefficients")
        DifferentialSharpe(self.dsr_eta)  # refuses an eta outside (0, 1), naming it
        check_interval(self.decision_interval_minutes)

    def penalty_coefficients(self) -> tuple[float, float]:
        """(turnover, drawdown) $ penalties of the P&L rewards (0, 0 for "dsr")."""
        if self.reward == "penalised":
            return self.penalised_turnover_coef, self.penalised_drawdown_coef
        return self.turnover_penalty, self.drawdown_penalty

    def position_rules(self) -> PositionRules:
        return PositionRules(self.max_position_notional, self.step_notional, self.allow_short)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PortfolioTradingEnv(gym.Env[np.ndarray, np.int64]):
    """Trades ``symbols`` from ``arrays``; see ``SingleTickerTradingEnv`` for the spec."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012 (gymnasium's convention)

    def __init__(self, arrays: MarketArrays, symbols: Sequence[str],
                 config: TradingEnvConfig | None = None,
                 execution_model: ExecutionModel | None = None,
                 render_mode: str | None = None) -> None:
        if render_mode is not None:
            raise ValueError(f"render_mode {render_mode!r} is not supported (no rendering)")
        self.render_mode = render_mode
        self.config = config or TradingEnvConfig()
        self.execution_model = execution_model or ExecutionModel()
        self.rules = self.config.position_rules()
        self.arrays = arrays.select(symbols)
        self.symbols = self.arrays.symbols
        self.schedule = self.arrays.decision_schedule(self.config.lookback,
                                                      self.config.flatten_bars_before_close,
                                                      self.config.decision_interval_minutes)
        self._turnover_coef, self._drawdown_coef = self.config.penalty_coefficients()
        self._dsr = DifferentialSharpe(self.config.dsr_eta)
        # a flag, not a bound method in __dict__: a checkpoint pickles the env's __dict__, and a
        # pickled bound method would come back bound to a detached copy of the env
        self._dsr_rewarded = self.config.reward == "dsr"
        self._load_arrays()
        n, clip = len(self.symbols), float(self.config.observation_clip)
        self._n_feature_values = n * self.arrays.n_features
        self._obs_size = self._n_feature_values + n
        self.observation_space = spaces.Box(-clip, clip, shape=(self._obs_size,),
                                            dtype=np.float32)
        self.action_space = spaces.Discrete(n_actions(n))
        self._actions = [decode_action(a, n) for a in range(n_actions(n))]
        self._per_asset = self._actions
        self._next_start = 0
        self._start = self._k = self._end = 0
        self._new_book()

    def _load_arrays(self) -> None:
        """Copy what the step reads into its fastest form (lists of floats, one float32 matrix)."""
        a, clip = self.arrays, float(self.config.observation_clip)
        flat = a.features.reshape(a.n_bars, a.n_assets * a.n_features)
        self._features = np.clip(flat, -clip, clip).astype(np.float32)
        self._open: list[list[float]] = a.open.tolist()
        self._close: list[list[float]] = a.close.tolist()
        self._session: list[int] = a.session.tolist()
        self._bars: list[int] = self.schedule.bars.tolist()
        self._flatten: list[bool] = self.schedule.flatten.tolist()
        # the bar a step's book is marked at: the next decision bar of the session (t + 1 at
        # the flatten; with a 1-minute interval always t + 1)
        self._marks: list[int] = [
            bar + 1 if flat or k + 1 == len(self._bars) else self._bars[k + 1]
            for k, (bar, flat) in enumerate(zip(self._bars, self._flatten, strict=True))]

    def _new_book(self) -> None:
        self._cash = float(self.config.initial_cash)
        self._shares = [0] * len(self.symbols)
        self._value = self._peak = self._cash
        self._total_trades = 0
        self._dsr.reset()

    @property
    def n_decisions(self) -> int:
        """Decision steps in the whole window (the most an episode can have)."""
        return len(self._bars)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, Info]:
        super().reset(seed=seed)
        self._start = self._k = self._first_step(options or {})
        length = self.config.episode_length
        self._end = self.n_decisions if length is None else min(self._start + length,
                                                                self.n_decisions)
        self._next_start = self._end if self._end < self.n_decisions else 0
        self._new_book()
        t = self._bars[self._start]
        return self._observation(t), self._info(t, t, 0, 0.0, 0.0, 0.0,
                                                (0.0,) * len(self.symbols), False)

    def _first_step(self, options: dict[str, Any]) -> int:
        """options["start_index"] pins the first decision step; else random or sequential."""
        if "start_index" in options:
            start = int(options["start_index"])
            if not 0 <= start < self.n_decisions:
                raise ValueError(f"start_index {start} outside [0, {self.n_decisions})")
            return start
        if not self.config.random_start:
            return self._next_start
        length = self.config.episode_length or self.n_decisions
        return int(self.np_random.integers(0, max(self.n_decisions - length, 0) + 1))

    def step(self, action: SupportsInt) -> tuple[np.ndarray, float, bool, bool, Info]:
        if self._k >= self._end:
            raise RuntimeError("episode is over: call reset() before step()")
        index = int(action)
        if not 0 <= index < len(self._per_asset):
            raise ValueError(f"action {action!r} outside Discrete({len(self._per_asset)})")
        t = self._bars[self._k]
        forced = self._flatten[self._k] or self._k == self._end - 1
        trades, commission, slippage, traded, prices = self._execute(t, self._per_asset[index],
                                                                     forced)
        mark = t + 1 if forced else self._marks[self._k]
        value = self._cash
        for shares, price in zip(self._shares, self._close[mark], strict=True):
            value += shares * price
        reward = (self._dsr_reward(value, traded) if self._dsr_rewarded
                  else self._pnl_reward(value, traded))
        self._k += 1
        truncated = self._k >= self._end
        obs = self._observation(t + 1 if truncated else self._bars[self._k])
        info = self._info(t, mark, trades, commission, slippage, traded, prices, forced)
        return obs, reward, False, truncated, info

    def _execute(self, t: int, per_asset: tuple[int, ...], forced: bool
                 ) -> tuple[int, float, float, float, tuple[float, ...]]:
        """Size orders on bar t's close, fill them at bar t+1's open; update cash and shares."""
        decision_close, next_open = self._close[t], self._open[t + 1]
        fill = self.execution_model.fill_float
        trades, commission, slippage, traded = 0, 0.0, 0.0, 0.0
        prices = [0.0] * len(per_asset)
        for i, action in enumerate(per_asset):
            shares = self._shares[i]
            quantity = -shares if forced else self.rules.order_quantity(action, shares,
                                                                        decision_close[i])
            if quantity == 0:
                continue
            price, fee, slip = fill(quantity, next_open[i])
            self._cash -= quantity * price + fee
            self._shares[i] = shares + quantity
            trades += 1
            commission += fee
            slippage += slip
            traded += abs(quantity) * price
            prices[i] = price
        self._total_trades += trades
        return trades, commission, slippage, traded, tuple(prices)

    def _pnl_reward(self, value: float, traded_notional: float) -> float:
        """"pnl"/"penalised": change in marked value (costs included) minus the turnover and
        drawdown penalties (``TradingEnvConfig.penalty_coefficients``)."""
        old_drawdown = self._peak - self._value
        self._peak = max(self._peak, value)
        new_drawdown = self._peak - value
        reward = value - self._value - self._turnover_coef * traded_notional
        if new_drawdown > old_drawdown:
            reward -= self._drawdown_coef * (new_drawdown - old_drawdown)
        self._value = value
        return float(reward * self.config.reward_scale)

    def _dsr_reward(self, value: float, traded_notional: float) -> float:
        """"dsr": the differential Sharpe ratio of this step's return on the book (costs are
        in the return; ``traded_notional`` needs no term of its own)."""
        ret = (value - self._value) / self._value
        self._peak = max(self._peak, value)
        self._value = value
        return float(self._dsr.step(ret) * self.config.reward_scale)

    # ---- curriculum hooks (``agent.curriculum`` calls these between rollouts) --------------

    def set_cost_multiplier(self, multiplier: float) -> None:
        """Scale the costs of every later fill (``ExecutionModel.with_cost_multiplier``)."""
        self.execution_model = self.execution_model.with_cost_multiplier(float(multiplier))

    def hold_symbols(self, symbols: Sequence[str]) -> None:
        """Every later action holds ``symbols`` whatever the policy chose for them (the
        forced flatten still closes them); ``()`` gives the policy every symbol back."""
        unknown = [s for s in symbols if s not in self.symbols]
        if unknown:
            raise ValueError(f"cannot hold {unknown}: the env trades {self.symbols}")
        held = [s in symbols for s in self.symbols]
        self._per_asset = [tuple(HOLD if h else a for a, h in zip(acts, held, strict=True))
                           for acts in self._actions]

    def _observation(self, t: int) -> np.ndarray:
        """Features of bar t, then each position's notional at bar t's close / the cap."""
        obs = np.empty(self._obs_size, dtype=np.float32)
        n = self._n_feature_values
        obs[:n] = self._features[t]
        clip, cap = self.config.observation_clip, self.config.max_position_notional
        close = self._close[t]
        for i, shares in enumerate(self._shares):
            obs[n + i] = min(max(shares * close[i] / cap, -clip), clip)
        return obs

    def _info(self, t: int, mark_bar: int, trades: int, commission: float, slippage: float,
              traded: float, prices: tuple[float, ...], forced: bool) -> Info:
        mark = self._close[mark_bar]
        return {
            "portfolio_value": self._value, "cash": self._cash, "shares": tuple(self._shares),
            "position_notional": tuple(s * p for s, p in zip(self._shares, mark, strict=True)),
            "fill_prices": prices, "trades": trades, "total_trades": self._total_trades,
            "commission": commission, "slippage": slippage, "traded_notional": traded,
            "drawdown": self._peak - self._value, "forced_flatten": forced,
            "bar_index": t, "session": self._session[t], "step": self._k - self._start,
        }
