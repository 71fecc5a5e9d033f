"""``paced_feed``: a live-clock feed over any ``BarSource``.

The local default trades the simulated market in real time with it (paper/live use IB's
stream instead). Pure over the source; it belongs beside the other feeds in
``market_data.feed`` once that module can take it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta

from intraday_jules.domain.bars import BAR, frame_to_bars
from intraday_jules.domain.calendar import session_window
from intraday_jules.domain.clock import Clock, system_clock
from intraday_jules.market_data.feed import FeedItem, StreamFeed
from intraday_jules.market_data.source import BarRequest, BarSource, SourceError

HEARTBEAT_S = 5.0


def paced_feed(source: BarSource, session: date, symbols: Sequence[str], *,
               now: Clock = system_clock,
               sleep: Callable[[float], None] = time.sleep) -> StreamFeed:
    """Each minute's bars delivered when that minute has closed by the wall clock."""
    return StreamFeed(_paced(source, session, tuple(symbols), now, sleep), name=source.name)


def _paced(source: BarSource, session: date, symbols: tuple[str, ...],
           now: Clock, sleep: Callable[[float], None]) -> Iterator[FeedItem]:
    frames = []
    for symbol in symbols:
        try:
            frames.append(source.fetch_session(BarRequest(symbol, session)))
        except SourceError:
            continue  # the loop notices the silence (stale data) and reduces
    bars = sorted((b for f in frames for b in frame_to_bars(f)),
                  key=lambda b: (b.ts, symbols.index(b.symbol)))
    for bar in bars:
        while now() < bar.ts + BAR:
            yield None
            sleep(min(HEARTBEAT_S, max(0.0, (bar.ts + BAR - now()).total_seconds())))
        yield bar
    close = session_window(session).close
    while now() < close + timedelta(minutes=1):
        yield None
        sleep(HEARTBEAT_S)
