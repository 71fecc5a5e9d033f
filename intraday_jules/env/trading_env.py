"""The two public trading envs. Their docstrings are the spec (STYLE.md's fixed sections)."""

from __future__ import annotations

from collections.abc import Sequence

from intraday_jules.domain.symbols import DEFAULT_SYMBOLS
from intraday_jules.env.actions import decode_action
from intraday_jules.env.data import MarketArrays
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.env.portfolio_env import PortfolioTradingEnv, TradingEnvConfig

_COMMON_SPEC = """
    ## Timing and fills (shared by both envs)
    A step is one decision bar t. The agent sees bar t's features (computed from bars <= t) and
    its position valued at bar t's close. Orders are sized on bar t's close and fill at bar
    t+1's OPEN plus slippage, with commission, through ``ExecutionModel`` (the one model the
    evaluation and the simulated broker also use). Nothing of bar t+1 but its open, and nothing
    later, reaches the fill. The book is then marked at the close of the next decision bar:
    bar t+1 with the default 1-minute ``decision_interval_minutes``; with k = 5 or 15 the
    position is held over the k bars up to the next decision (bar t+k), so a step's reward
    covers all of them (and bar t+1 at the forced flatten, after which the book is flat).

    ## Sessions
    Decisions start after the ``lookback`` warm-up bars of each session (and any feature
    warm-up rows) and stop ``flatten_bars_before_close + 1`` bars before the session's last bar.
    With ``decision_interval_minutes`` k > 1 only the bars whose start is a whole multiple of
    k minutes after the session's open are decision bars (9:30, 9:35... ET for k = 5), plus
    the forced flatten (``env.schedule``, the schedule ``LivePolicy`` and the loop ask too).
    That last decision bar is a FORCED FLATTEN: the action is ignored and every position is
    closed at the next open (15:55 ET by default, 12:55 on half days). So no position is ever
    held through a close or an overnight gap. Episodes do span sessions: the book is flat
    between them and the next step is the next session's first decision bar (the LSTM state
    carries on; the features' time-of-session term tells the policy a new session began).

    ## Info (after reset and every step)
    ``portfolio_value``, ``cash`` ($, after this step's fills, marked at bar t+1's close);
    ``shares`` and ``position_notional`` (tuples, one per symbol); ``fill_prices`` (tuple, 0.0
    where nothing filled); ``trades`` (fills this step), ``total_trades`` (this episode);
    ``commission``, ``slippage`` ($ this step; slippage is already inside the fill price);
    ``traded_notional`` ($); ``drawdown`` ($ below the episode's peak value);
    ``forced_flatten`` (bool); ``bar_index`` (t, the decision bar, a row of ``arrays``);
    ``session`` (index into ``arrays.session_dates``); ``step`` (steps taken this episode).

    ## Rewards
    ``reward="pnl"`` (default):
    r = reward_scale x [ (V_{t+1} - V_t) - turnover_penalty x traded notional
                         - drawdown_penalty x max(0, DD_{t+1} - DD_t) ]
    where V = cash + sum(shares x close) at the step's mark bar and DD = episode peak of V
    minus V. Costs need no extra term: commission leaves cash and slippage is in the fill
    price. Defaults: scale 1 (dollars), both penalties 0.
    ``reward="penalised"``: the same formula with ``penalised_turnover_coef`` (default 5 bps
    of traded notional) and ``penalised_drawdown_coef`` (default 0.5 per $ of new drawdown).
    ``reward="dsr"``: reward_scale x D_t, the differential Sharpe ratio (Moody & Saffell
    1998; ``env.rewards``) of the step's return R = V_{t+1} / V_t - 1, with moving moments
    of rate ``dsr_eta`` (0.01), reset each episode; 0 until the returns have a variance.

    ## Starting State
    Flat book, cash = ``initial_cash``. The first decision step is drawn uniformly by
    ``self.np_random`` from those that leave a full ``episode_length`` (``reset(seed=...)``
    seeds it); ``options={"start_index": k}`` pins it; with ``random_start=False`` episodes
    walk the data in order, each starting where the previous one ended (evaluation).

    ## Episode End
    Termination: never (trading has no terminal state; ``terminated`` is always False).
    Truncation: after ``episode_length`` steps, or at the end of the data. The last step of an
    episode is a forced flatten too, so every episode ends flat with its closing costs paid;
    the final observation is bar t+1's features with zero positions.

    ## Arguments
    arrays: ``MarketArrays`` holding the symbols (from ``MarketArrays.from_frames``).
    config: ``TradingEnvConfig`` (lookback 50, episode_length 1000, max_position_notional
        $1,000, step_notional $1,000, allow_short False, flatten_bars_before_close 5,
        initial_cash $10,000, reward_scale 1, penalties 0, observation_clip 10, random_start,
        reward "pnl", decision_interval_minutes 1).
    execution_model: ``ExecutionModel`` (default costs; ``with_cost_multiplier`` for 0x/2x).
    render_mode: None (no rendering).

    ## Version History
    v0: first version (NVDA/MSFT, 12 features, three-level positions by default).
    v1: long-only by default (``allow_short=False``), as the live loop trades.
    v2: ``reward`` ("pnl" unchanged by default, "penalised", "dsr") and
        ``decision_interval_minutes`` (1 unchanged by default, 5, 15); curriculum hooks
        ``set_cost_multiplier`` and ``hold_symbols``.
"""


class SingleTickerTradingEnv(PortfolioTradingEnv):
    __doc__ = """Trade one symbol (NVDA) on 1-minute bars with a recurrent policy.

    ## Description
    An intraday single-asset book: each step the agent sells, holds or buys up to $1,000 of
    notional, and is paid the change in portfolio value net of modelled costs.

    ## Action Space
    ``Discrete(3)``: 0 = sell, 1 = hold, 2 = buy. A buy adds ``step_notional`` dollars of
    exposure (sized on the decision bar's close, whole shares, truncated toward zero), never
    past ``max_position_notional``; a sell removes as much, down to -cap (or 0 when
    ``allow_short`` is False); hold trades nothing. A buy never sells, a sell never buys.
    With the defaults (step = cap = $1,000, long-only) the position takes two levels: flat and
    long; with ``allow_short=True`` three: short, flat, long.

    ## Observation Space
    ``Box(-10, 10, (13,), float32)`` (bounds = ``observation_clip``):

    =====  ============================================================  ===============
    index  value                                                         range
    =====  ============================================================  ===============
    0-11   the 12 features of bar t, in ``arrays.feature_names`` order,  [-10, 10]
           normalised by the feature pipeline (fit on training data)
    12     position: shares x close_t / max_position_notional            ~[-1, 1]
    =====  ============================================================  ===============
    """ + _COMMON_SPEC

    def __init__(self, arrays: MarketArrays, config: TradingEnvConfig | None = None,
                 execution_model: ExecutionModel | None = None, *, symbol: str = "NVDA",
                 render_mode: str | None = None) -> None:
        super().__init__(arrays, (symbol,), config, execution_model, render_mode)


class DualTickerTradingEnv(PortfolioTradingEnv):
    __doc__ = """Trade two symbols (NVDA, MSFT) at once on 1-minute bars.

    ## Description
    The single-ticker task on a two-asset book: each symbol has its own $1,000 cap and its own
    sell/hold/buy, chosen jointly; the reward is the change in the whole book's value net of
    costs.

    ## Action Space
    ``Discrete(9)``, the 3 x 3 product of per-asset actions (0 sell, 1 hold, 2 buy; each as in
    ``SingleTickerTradingEnv``): ``action = 3 * a_nvda + a_msft``
    (``DualTickerTradingEnv.decode_action``):

    =====  ====  ====    =====  ====  ====    =====  ====  ====
    index  NVDA  MSFT    index  NVDA  MSFT    index  NVDA  MSFT
    =====  ====  ====    =====  ====  ====    =====  ====  ====
    0      sell  sell    3      hold  sell    6      buy   sell
    1      sell  hold    4      hold  hold    7      buy   hold
    2      sell  buy     5      hold  buy     8      buy   buy
    =====  ====  ====    =====  ====  ====    =====  ====  ====

    ## Observation Space
    ``Box(-10, 10, (26,), float32)``:

    =====  ========================================================  ===============
    index  value                                                     range
    =====  ========================================================  ===============
    0-11   NVDA's 12 features of bar t (``arrays.feature_names``)    [-10, 10]
    12-23  MSFT's 12 features of bar t                               [-10, 10]
    24     NVDA position: shares x close_t / max_position_notional   ~[-1, 1]
    25     MSFT position: shares x close_t / max_position_notional   ~[-1, 1]
    =====  ========================================================  ===============
    """ + _COMMON_SPEC

    def __init__(self, arrays: MarketArrays, config: TradingEnvConfig | None = None,
                 execution_model: ExecutionModel | None = None, *,
                 symbols: Sequence[str] = DEFAULT_SYMBOLS,
                 render_mode: str | None = None) -> None:
        if len(symbols) != 2:
            raise ValueError(f"DualTickerTradingEnv trades exactly two symbols, got {symbols}")
        super().__init__(arrays, tuple(symbols), config, execution_model, render_mode)

    @staticmethod
    def decode_action(action: int) -> tuple[int, int]:
        """(a_nvda, a_msft) for a joint action: ``decode_action(7) == (2, 1)`` (buy, hold)."""
        first, second = decode_action(action, 2)
        return first, second
