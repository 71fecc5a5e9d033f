"""A planted, tradable pattern for the simulated market (the positive control), and its
destroyed twin.

Why: a rejected model cannot tell "the market has no edge" from "the pipeline cannot learn".
The positive control (``pipelines/positive_control.py``) trains the full pipeline on a
market with a known edge (it must learn it and be promoted) and on the same market with the
edge destroyed (it must be refused).

The pattern ("accumulation episodes"), per asset and regular session, independently:
- ``EPISODES_PER_SESSION`` = 3 episodes of ``EPISODE_BARS`` = 40 one-minute bars, one drawn
  at random inside each third of the decision part of the session (after the 50-bar
  warm-up, ending >= 30 bars before the close, so the forced flatten never cuts one; a half
  day's 210 bars still fit three).
- During an episode every minute log return gets ``+EPISODE_DRIFT`` = +12 bps and the bar's
  volume is ``VOLUME_SURGE`` = 3x its usual draw. The features show it at once: ``volume_z``
  (log(1 + v) rises by log 3 ~ 1.1, about 3 of its ~0.35 standard deviations), then
  ``ret_5``/``ret_15``/``ema_trend`` as the episode goes on (12 bps a bar against a
  minute's noise of ~14 bps on NVDA at midday in the calm regime).
- Outside the episodes, each minute of the traded part of the session (after the 50-bar
  warm-up, before the 5-bar flatten) gets the constant drift that makes the session's
  planted drift sum to exactly zero (120 bars x 12 bps spread over the other 215 bars:
  about -6.7 bps a bar); the warm-up and flatten bars get none. So the pattern moves
  neither a session's open-to-close return nor a position held from the first decision to
  the flatten: the buy-and-hold baselines gain nothing from it, and being long outside the
  episodes loses.
- Everything else (prices, volatility profile, regimes, noise) is the plain simulated market;
  the pattern's draws come from their own random stream, so the plain market's draws, and
  with the pattern off (the default) every bar, are unchanged bit for bit.

Edge per trade vs cost per trade (the model's ExecutionSpec: $1,000 per asset, IBKR fixed
commission $0.005/share, minimum $1.00; half spread 1 bps + impact 0.5 bps per fill):
- A policy that buys on the close of an episode's first bar (its volume shows it) fills at
  the next bar's open and holds the remaining 39 bars: 39 x 12 bps = 468 bps gross, $46.80
  on $1,000. It sees the episode end one bar late (volume back to normal) and pays one bar
  of the outside drift: 6.7 bps, $0.67.
- Cost of the round trip: 2 commissions x $1.00 (a $1,000 order is 7 NVDA shares or 2-3
  MSFT shares: $0.005/share is far under the $1 minimum) + 2 fills x 1.5 bps x $1,000
  ($0.30) = $2.30.
- Expected net edge: 46.80 - 0.67 - 2.30 ~ +$43.8 per episode traded, 20x the cost; 3
  episodes per asset per session: ~$130 per asset, ~$260 per session for NVDA + MSFT at
  best. The noise of one 40-bar hold is ~sqrt(40) x 14 bps ~ 89 bps ($8.9) on NVDA in the
  calm regime, so the edge is ~5 noise standard deviations per trade: a deliberately loud
  signal, so that a small training budget learns it (the control tests the machinery, not
  the model's subtlety).

The destroyed variant ("shuffled in time"): the planted market, then each session's regular
minute log returns (noise and planted drift together) are permuted by a seeded permutation
of their own; volumes, high/low excursions and everything else stay where they were. The
returns keep their distribution and their session sum (each session opens and closes at the
same prices as in the planted market), but the volume surge no longer marks the bars with
the drift, and the drift is spread over the session at random: the expected return of any
bar given the past is the session mean, and the planted part of that mean is zero. Nothing
is left to learn but the costs.
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np

Pattern = Literal["none", "planted", "destroyed"]
PATTERNS: tuple[str, ...] = get_args(Pattern)

EPISODES_PER_SESSION = 3
EPISODE_BARS = 40
EPISODE_DRIFT = 12e-4  # log return added to every minute of an episode (12 bps)
VOLUME_SURGE = 3.0  # volume multiplier during an episode
FIRST_EPISODE_BAR = 55  # after the 50-bar feature warm-up (no decisions there)
LAST_BARS_FREE = 30  # episodes end this many bars before the close (flatten: the last 5)
#: the traded part of a session: from the end of the 50-bar warm-up (the first decision) to
#: the forced flatten (the last 5 bars); the compensating drift lives there
HELD_FROM = 50
HELD_UNTIL_CLOSE = 5
#: spawn keys of the pattern's own random streams (the plain market uses [seed, 0] and
#: [seed, session ordinal])
PLANT_STREAM = 1
SHUFFLE_STREAM = 2


def check_pattern(pattern: str) -> Pattern:
    """``pattern`` itself when known; ValueError naming the known ones otherwise."""
    if pattern not in PATTERNS:
        raise ValueError(f"unknown simulated pattern {pattern!r}; known: {', '.join(PATTERNS)}")
    return pattern  # type: ignore[return-value]


def episode_mask(rng: np.random.Generator, n_regular: int, n_assets: int) -> np.ndarray:
    """(n_regular, n_assets) bools: the bars of each asset's episodes in one session.

    The decision part of the session is cut into ``EPISODES_PER_SESSION`` equal slots and one
    episode starts uniformly inside each slot where it fits whole (no overlaps). A session
    too short for them (none in XNYS: a half day has 210 bars) gets no episode."""
    mask = np.zeros((n_regular, n_assets), dtype=bool)
    span = n_regular - LAST_BARS_FREE - FIRST_EPISODE_BAR
    slot = span // EPISODES_PER_SESSION
    if slot < EPISODE_BARS:
        return mask
    for j in range(n_assets):
        offsets = rng.integers(0, slot - EPISODE_BARS + 1, size=EPISODES_PER_SESSION)
        for k, offset in enumerate(offsets):
            start = FIRST_EPISODE_BAR + k * slot + int(offset)
            mask[start:start + EPISODE_BARS, j] = True
    return mask


def planted_drift(mask: np.ndarray) -> np.ndarray:
    """Per-bar log-return drift of a session: +EPISODE_DRIFT in the episodes and, on the
    other bars of the traded part of the session ([HELD_FROM, close - HELD_UNTIL_CLOSE)), the
    constant that makes each asset's column sum to zero; 0 elsewhere. So neither the session
    nor a position held through the traded part (the buy-and-hold baselines) gains from it."""
    n = mask.shape[0]
    held = np.zeros(n, dtype=bool)
    held[HELD_FROM:max(HELD_FROM, n - HELD_UNTIL_CLOSE)] = True
    outside = held[:, None] & ~mask
    compensation = -EPISODE_DRIFT * mask.sum(axis=0) / np.maximum(outside.sum(axis=0), 1)
    return np.where(mask, EPISODE_DRIFT, np.where(outside, compensation[None, :], 0.0))


def plant(increments: np.ndarray, volume_scale: np.ndarray, regular: np.ndarray,
          rng: np.random.Generator) -> None:
    """Add the pattern to one session's minute log returns (``increments``, (bars, assets))
    and volume multipliers (``volume_scale``), in place, on the ``regular`` bars only."""
    mask = episode_mask(rng, int(regular.sum()), increments.shape[1])
    increments[regular] += planted_drift(mask)
    volume_scale[regular] *= np.where(mask, VOLUME_SURGE, 1.0)


def shuffle_in_time(increments: np.ndarray, regular: np.ndarray,
                    rng: np.random.Generator) -> None:
    """Permute each asset's regular-hours minute log returns of one session, in place (the
    sum, hence the session's close, is kept up to rounding)."""
    rows = np.flatnonzero(regular)
    for j in range(increments.shape[1]):
        increments[rows, j] = increments[rng.permutation(rows), j]
