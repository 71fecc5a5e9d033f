"""Session, account and order requests: startApi, ids, time, accounts, positions, orders.

The startup sequence is what TWS sends after ``startApi``: managedAccounts, nextValidId, then
the three "farm connection is OK" notices (2104, 2106, 2158) that clients log and ignore. A
client id already connected (or scripted as in use) gets error 326 and the socket is closed,
as TWS does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from intraday_jules.testing.fake_tws import order_wire, outgoing
from intraday_jules.testing.fake_tws.incoming import parse_place_order
from intraday_jules.testing.fake_tws.outgoing import StockSpec, error

if TYPE_CHECKING:
    from intraday_jules.testing.fake_tws.server import ClientSession, FakeTws

CLIENT_ID_IN_USE_TEXT = ("Unable to connect as the client id is already in use. "
                         "Retry with a unique client id.")
FARM_NOTICES = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


def start_api(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    client_id = int(fields[2])
    if gw.faults.is_client_id_in_use(client_id) or gw.client_id_connected(client_id):
        session.send(error(-1, 326, CLIENT_ID_IN_USE_TEXT))
        session.close()
        return
    session.client_id = client_id
    gw.orders.rebind(client_id, session.send)
    session.send(outgoing.managed_accounts(list(gw.accounts)))
    session.send(outgoing.next_valid_id(gw.next_order_id))
    for code, text in FARM_NOTICES:
        session.send(error(-1, code, text))


def current_time(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    session.send(outgoing.current_time(int(gw.live.now.timestamp())))


def managed_accounts(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    session.send(outgoing.managed_accounts(list(gw.accounts)))


def req_ids(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    session.send(outgoing.next_valid_id(gw.next_order_id))


def positions(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    for (account, symbol), (qty, avg_cost) in gw.orders.positions().items():
        session.send(outgoing.position(account, StockSpec.for_symbol(symbol), qty, avg_cost))
    session.send(outgoing.position_end())


def account_summary(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    req_id, tags = int(fields[2]), set(fields[4].split(","))
    for account in gw.accounts:
        for tag in sorted(tags & set(gw.account_values)):
            session.send(outgoing.account_summary(req_id, account, tag, gw.account_values[tag]))
    session.send(outgoing.account_summary_end(req_id))


def account_updates(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    subscribe, account = fields[2] == "1", fields[3]
    if subscribe:
        session.send(outgoing.account_download_end(account or gw.accounts[0]))


def account_updates_multi(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    session.send(outgoing.account_update_multi_end(int(fields[2])))


def open_orders(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    all_clients = int(fields[0]) == 16 or session.client_id == 0
    for order in gw.orders.open_orders(None if all_clients else session.client_id):
        session.send(order_wire.open_order(order, session.server_version))
        session.send(order_wire.order_status(order))
    session.send(outgoing.open_order_end())


def completed_orders(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    session.send(outgoing.completed_orders_end())


def executions(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    req_id = int(fields[2])
    for execution in gw.orders.executions():
        session.send(order_wire.exec_details(req_id, execution, session.server_version))
        session.send(order_wire.commission_report(execution))
    session.send(outgoing.exec_details_end(req_id))


def place_order(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    placed = parse_place_order(fields)
    gw.next_order_id = max(gw.next_order_id, placed.order_id + 1)
    if not gw.replay.has_symbol(placed.contract.symbol):
        session.send(error(placed.order_id, 200, "No security definition has been found "
                                                 "for the request"))
        return
    gw.orders.place(placed, session.client_id, gw.accounts[0], session.send)


def cancel_order(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    gw.orders.cancel(int(fields[2]), session.send)


def global_cancel(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    gw.orders.cancel_all(session.send)


def ignore(gw: FakeTws, session: ClientSession, fields: list[str]) -> None:
    """Requests that need no answer here (market data type, auto open orders, cancels)."""
