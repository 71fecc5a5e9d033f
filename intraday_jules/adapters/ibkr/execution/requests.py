"""The raw order-side requests ``IbkrBroker`` makes, as coroutines on the client's loop.

They mirror ib_async and only add the waiting ib_async leaves to its caller: for IB to
acknowledge a placed order (or refuse it), for a cancel to be confirmed, and for the
commission reports that follow executions. Every wait also ends when the socket closes, so a
dropped connection is reported at once as ``ConnectionError`` (IbkrClient.call turns that into
``IbkrConnectionLost``) instead of as a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from ib_async import IB, Contract, Position, Trade
from ib_async import Fill as IbFill
from ib_async import Order as IbOrder

from intraday_jules.adapters.ibkr.execution.parsing import NOT_ACKNOWLEDGED, commission_known

_POLL_S = 0.01


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything IB tells about orders after a (re)connect."""

    open_trades: list[Trade]
    completed: list[Trade]
    fills: list[IbFill]


async def settle(ib: IB, trade: Trade, done: Callable[[Trade], bool], timeout: float) -> None:
    """Wait until ``done(trade)``, the socket closes, or ``timeout`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    changed = asyncio.Event()

    def poke(*_: object) -> None:
        changed.set()

    trade.statusEvent += poke
    ib.disconnectedEvent += poke
    try:
        while not done(trade) and ib.isConnected():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)
    finally:
        trade.statusEvent -= poke
        ib.disconnectedEvent -= poke
    if not ib.isConnected():
        raise ConnectionError("the socket closed before IB answered")


async def place_order(ib: IB, contract: Contract, order: IbOrder, wait_s: float) -> Trade:
    """placeOrder, then wait for IB's acknowledgement (or refusal) up to ``wait_s``."""
    trade = ib.placeOrder(contract, order)
    await settle(ib, trade, lambda t: t.orderStatus.status not in NOT_ACKNOWLEDGED, wait_s)
    return trade


async def cancel_order(ib: IB, client_order_id: str, wait_s: float) -> Trade | None:
    """cancelOrder for the open order carrying ``client_order_id``; None if none is open."""
    trade = next((t for t in ib.openTrades() if t.order.orderRef == client_order_id), None)
    if trade is None:
        return None
    ib.cancelOrder(trade.order)
    await settle(ib, trade, lambda t: t.isDone(), wait_s)
    return trade


async def with_commissions(ib: IB, fills: list[IbFill], wait_s: float) -> list[IbFill]:
    """The fills as ib_async keeps them (the copy it returns for reqExecutions never gets its
    commission report), after waiting up to ``wait_s`` for missing commission reports."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s

    def current() -> list[IbFill]:
        kept = ib.wrapper.fills
        return [kept.get(f.execution.execId, f) for f in fills]

    result = current()
    while not all(commission_known(f) for f in result) and loop.time() < deadline:
        if not ib.isConnected():
            raise ConnectionError("the socket closed while waiting for commission reports")
        await asyncio.sleep(_POLL_S)
        result = current()
    return result


async def executions(ib: IB, commission_wait_s: float) -> list[IbFill]:
    """reqExecutions (every execution IB still lists), with commission reports."""
    fills = await ib.reqExecutionsAsync()
    return await with_commissions(ib, list(fills), commission_wait_s)


async def snapshot(ib: IB, commission_wait_s: float) -> Snapshot:
    """Open orders of every client, completed orders, and executions."""
    open_trades = list(await ib.reqAllOpenOrdersAsync())
    completed = list(await ib.reqCompletedOrdersAsync(False))
    fills = await executions(ib, commission_wait_s)
    return Snapshot(open_trades, completed, fills)


async def all_open_orders(ib: IB) -> list[Trade]:
    return list(await ib.reqAllOpenOrdersAsync())


async def positions(ib: IB) -> list[Position]:
    return list(await ib.reqPositionsAsync())


async def managed_accounts(ib: IB) -> list[str]:
    return ib.managedAccounts()
