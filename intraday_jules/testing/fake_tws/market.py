"""Market-data requests: contract details, historical bars (incl. keepUpToDate), real-time bars.

Historical answers come from the replay bars in [end - duration, end), regular hours only when
``useRTH=1``; ``formatDate=2`` stamps bars with epoch seconds (UTC), ``formatDate=1`` with
'YYYYmmdd HH:MM:SS America/New_York'. Each request first consults the fault script.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from intraday_jules.domain.calendar import NEW_YORK
from intraday_jules.testing.fake_tws import outgoing
from intraday_jules.testing.fake_tws.faults import BarCorruption, HistoricalAction
from intraday_jules.testing.fake_tws.incoming import (
    HistoricalRequest,
    parse_duration,
    parse_end,
    parse_historical,
    parse_real_time_bars,
)
from intraday_jules.testing.fake_tws.live import Subscription, SubscriptionKind
from intraday_jules.testing.fake_tws.outgoing import StockSpec, bar_row, error
from intraday_jules.testing.fake_tws.replay import ReplayBar, minute_of
from intraday_jules.testing.fake_tws.wire import ib_datetime

if TYPE_CHECKING:
    from intraday_jules.testing.fake_tws.server import ClientSession, FakeTws

PACING_TEXT = ("Historical Market Data Service error message:"
               "Historical data request pacing violation")
NO_DATA_TEXT = "Historical Market Data Service error message:HMDS query returned no data: {}"
NO_SECURITY_TEXT = "No security definition has been found for the request"
BAD_END_TEXT = "Error validating request.-'bP' : cause - {}"

Row = tuple[object, ...]


def contract_details(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    req_id, symbol, sec_type = int(fields[2]), fields[4], fields[5]
    if sec_type not in ("STK", "") or not gw.replay.has_symbol(symbol):
        session.send(error(req_id, 200, NO_SECURITY_TEXT))
        return
    session.send(outgoing.contract_details(req_id, StockSpec.for_symbol(symbol)))
    session.send(outgoing.contract_details_end(req_id))


def historical(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    req = parse_historical(fields, gw.clock(), session.client_id)
    violation = gw.record_historical(req)
    if violation is not None:  # refused before any scripted fault is used up
        session.send(error(req.req_id, 162, f"{PACING_TEXT} ({violation})"))
        return
    decision = gw.faults.next_historical()
    match decision.action:
        case HistoricalAction.DROP:
            session.abort()
        case HistoricalAction.PACING:
            session.send(error(req.req_id, 162, PACING_TEXT))
        case HistoricalAction.NO_DATA:
            session.send(error(req.req_id, 162, NO_DATA_TEXT.format(f"{req.symbol}@SMART")))
        case HistoricalAction.STALL:
            pass
        case HistoricalAction.CONNECTIVITY_LOSS:
            assert decision.connectivity is not None
            gw.begin_outage(decision.connectivity,
                            held=lambda: answer_historical(gw, session, req, None))
        case HistoricalAction.ANSWER if not gw.live.connected_to_ib:
            gw.hold(lambda: answer_historical(gw, session, req, decision.corruption))
        case HistoricalAction.ANSWER:
            answer_historical(gw, session, req, decision.corruption)


def answer_historical(gw: FakeTws, session: ClientSession, req: HistoricalRequest,
                      corruption: BarCorruption | None) -> None:
    if not gw.replay.has_symbol(req.symbol):
        session.send(error(req.req_id, 200, NO_SECURITY_TEXT))
        return
    try:
        end = parse_end(req.end, gw.live.now)
        start = end - timedelta(seconds=parse_duration(req.duration))
    except ValueError as exc:
        session.send(error(req.req_id, 321, BAD_END_TEXT.format(exc)))
        return
    # keepUpToDate: history ends at the current minute's start; the forming minute is only
    # ever sent as its partial (IB never shows a minute's final bar before it has ended)
    history_end = minute_of(end) if req.keep_up_to_date else end
    bars = gw.replay.window(req.symbol, start, history_end, rth_only=req.use_rth)
    if req.keep_up_to_date:
        partial = gw.live.current_partial(req.symbol, req.use_rth)
        bars += [partial] if partial is not None else []
    rows = corrupt([bar_row(b, _date_text(b, req.format_date)) for b in bars], corruption)
    session.send(outgoing.historical_data(req.req_id, ib_datetime(start), ib_datetime(end), rows))
    if req.keep_up_to_date:
        gw.live.subscribe(Subscription(session.session_id, req.req_id, req.symbol,
                                       SubscriptionKind.KEEP_UP_TO_DATE, req.use_rth,
                                       session.send))


def cancel_historical(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    gw.live.unsubscribe(session.session_id, int(fields[2]))


def real_time_bars(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    req = parse_real_time_bars(fields)
    if not gw.replay.has_symbol(req.contract.symbol):
        session.send(error(req.req_id, 200, NO_SECURITY_TEXT))
        return
    gw.live.subscribe(Subscription(session.session_id, req.req_id, req.contract.symbol,
                                   SubscriptionKind.REAL_TIME_BARS, req.use_rth, session.send))


def cancel_real_time_bars(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    gw.live.unsubscribe(session.session_id, int(fields[2]))


def _date_text(bar: ReplayBar, format_date: int) -> str:
    if format_date == 2:
        return str(bar.start)
    return bar.ts.astimezone(NEW_YORK).strftime("%Y%m%d %H:%M:%S America/New_York")


def _set(row: Row, index: int, value: object) -> Row:
    items = list(row)
    items[index] = value
    return tuple(items)


def _local_time(rows: list[Row]) -> list[Row]:
    out = []
    for row in rows:
        ts = datetime.fromtimestamp(int(str(row[0])), NEW_YORK) if str(row[0]).isdigit() else None
        out.append(_set(row, 0, ts.strftime("%Y%m%d  %H:%M:%S")) if ts else row)
    return out


# Each damages the first bar(s) of an answer; rows are (date, o, h, l, c, volume, wap, count).
_DAMAGE: dict[BarCorruption, Callable[[list[Row]], list[Row]]] = {
    BarCorruption.HIGH_BELOW_LOW: lambda r: [_set(r[0], 2, float(str(r[0][3])) - 1.0), *r[1:]],
    BarCorruption.NEGATIVE_PRICE: lambda r: [_set(r[0], 1, -1.0), *r[1:]],
    BarCorruption.NEGATIVE_VOLUME: lambda r: [_set(r[0], 5, -100), *r[1:]],
    BarCorruption.UNALIGNED_TS: lambda r: [_set(r[0], 0, str(int(str(r[0][0])) + 17)), *r[1:]],
    BarCorruption.DUPLICATE_TS: lambda r: [r[0], _set(r[1], 0, r[0][0]), *r[2:]],
    BarCorruption.LOCAL_TIME_FORMAT: _local_time,
    BarCorruption.TRUNCATED: lambda r: r[: len(r) // 2],
}


def corrupt(rows: list[Row], corruption: BarCorruption | None) -> list[Row]:
    """Damage an answer the way a broken vendor feed would (needs at least two bars)."""
    if corruption is None or len(rows) < 2:
        return rows
    return _DAMAGE[corruption](rows)

