"""The live-trading guard of ``IbkrBroker``: paper by default, live only when asked for twice.

An order on a live account moves real money, so the broker refuses to trade one unless:
1. the caller opted in explicitly (``allow_live=True``; nothing turns it on by default), AND
2. an expected account id is configured (the ``ib_account`` secret), AND
3. that account is among the accounts the connected login manages (``managedAccounts``).

"Live" is decided from every hint we have, and any one of them is enough: the deployment is
``live``, the port is a live API port (TWS 7496, IB Gateway 4001), or the connected account
does not look like a paper account (IB's paper account ids start with "D": DU..., DF...). So a
paper port pointing at a live login is caught too. Paper trading needs none of this, but a
configured account must still match, and a login managing several accounts needs one chosen.

Refusals raise ``LiveTradingRefused`` before any order can be sent: from the constructor when
the configuration alone is enough to refuse, else from ``connect`` right after the handshake.
Account ids are masked in every message (they are secrets).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from intraday_jules.broker.base import BrokerError

PAPER_PORTS = frozenset({7497, 4002})  # TWS paper, IB Gateway paper
LIVE_PORTS = frozenset({7496, 4001})  # TWS live, IB Gateway live


class LiveTradingRefused(BrokerError):
    """The broker will not trade this account (live without opt-in, or the wrong account)."""


def mask(account: str) -> str:
    """An account id fit for logs and errors: ``DU***``."""
    return f"{account[:2]}***" if account else "''"


def looks_like_paper(account: str) -> bool:
    """IB paper-trading account ids start with "D" (DU1234567); live ones do not (U..., F...)."""
    return account.startswith("D")


@dataclass(frozen=True)
class AccountGuard:
    """Decides which account the broker trades, and refuses live trading unless opted in.

    expected: the account id the broker must find (the ``ib_account`` secret); None: take the
        login's only account (paper only).
    allow_live: the explicit opt-in for live trading.
    deployment: the settings' deployment (``live`` means live).
    port: the API port (7496/4001 mean live).
    """

    expected: str | None
    allow_live: bool
    deployment: str
    port: int

    def __repr__(self) -> str:
        expected = None if self.expected is None else mask(self.expected)
        return (f"AccountGuard(expected={expected!r}, allow_live={self.allow_live}, "
                f"deployment={self.deployment!r}, port={self.port})")

    @property
    def live_configured(self) -> bool:
        return self.deployment == "live" or self.port in LIVE_PORTS

    def check_config(self) -> None:
        """Refuse what the configuration alone rules out (before connecting)."""
        if not self.live_configured:
            return
        why = f"deployment {self.deployment!r}, port {self.port}"
        if not self.allow_live:
            raise LiveTradingRefused(
                f"live trading refused ({why}): pass allow_live=True to opt in explicitly, and "
                "set the ib_account secret to the live account id. Paper trading uses port "
                "7497 (TWS) or 4002 (IB Gateway).")
        if not self.expected:
            raise LiveTradingRefused(
                f"live trading refused ({why}): allow_live=True also needs the ib_account "
                "secret, the account id the connected login must manage")

    def choose(self, managed: Sequence[str]) -> str:
        """The account to trade among ``managed`` (the login's accounts), or a refusal."""
        accounts = [a for a in managed if a]
        shown = ", ".join(mask(a) for a in accounts) or "none"
        if not accounts:
            raise LiveTradingRefused("the connected login reports no managed accounts")
        if self.expected is not None and self.expected not in accounts:
            raise LiveTradingRefused(
                f"configured account {mask(self.expected)} is not an account of the connected "
                f"login (managed: {shown}); refusing to trade")
        if self.expected is None and len(accounts) > 1:
            raise LiveTradingRefused(
                f"the login manages several accounts ({shown}); set the ib_account secret to "
                "the one to trade")
        account = self.expected if self.expected is not None else accounts[0]
        live = self.live_configured or not looks_like_paper(account)
        if live and not self.allow_live:
            raise LiveTradingRefused(
                f"account {mask(account)} is a live account (paper ids start with 'D'); live "
                "trading needs allow_live=True and the ib_account secret")
        if live and self.expected is None:
            raise LiveTradingRefused(
                f"account {mask(account)} is live: set the ib_account secret to it to confirm")
        return account
