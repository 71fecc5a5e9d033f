"""The session report (the ``trading/session_report`` asset): P&L, trades, fills against the
execution model, risk events, and the equity curve as a PNG.

Built only from the ledger's session JSON and the session's bars, so it can be rebuilt at any
time (after a restart, or by the Dagster asset from the database alone). "Modelled" prices are
what ``ExecutionModel`` says the fill should have cost (the decision bar's next open plus
slippage): for the simulated broker the difference is zero by construction; for IB it is the
slippage the model did not foresee.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from intraday_jules.domain.orders import Side
from intraday_jules.env.execution_model import ExecutionModel
from intraday_jules.ledger.report import group_risk_events
from intraday_jules.trading.report_render import equity_png, markdown, png_data_uri

MAX_ROWS = 40
PNG_NAME = "equity.png"
JSON_NAME = "report.json"


@dataclass(frozen=True)
class FillComparison:
    """One fill next to the price the execution model gives its decision."""

    ts: str
    client_order_id: str
    symbol: str
    side: str
    quantity: int
    price: Decimal
    modelled_price: Decimal | None

    @property
    def slippage_vs_model(self) -> Decimal | None:
        """Dollars paid beyond the model (positive: worse than modelled)."""
        if self.modelled_price is None:
            return None
        sign = 1 if self.side == "BUY" else -1
        return (self.price - self.modelled_price) * sign * self.quantity

    def to_json(self) -> dict[str, Any]:
        return {"ts": self.ts, "client_order_id": self.client_order_id, "symbol": self.symbol,
                "side": self.side, "quantity": self.quantity, "price": _text(self.price),
                "modelled_price": _text(self.modelled_price),
                "slippage_vs_model": _text(self.slippage_vs_model)}


@dataclass(frozen=True)
class SessionReport:
    """Everything the session report shows; ``write`` saves Markdown, PNG and JSON.

    ``markdown`` stands alone (the Dagster UI's metadata): the PNG is embedded as a ``data:``
    URI and rows a table leaves out point at the ``intraday-jules ledger`` command. The
    ``report.md`` that ``write`` saves links ``equity.png`` and ``report.json`` beside it.
    """

    session: date
    summary: dict[str, Any]
    fills: tuple[FillComparison, ...]
    equity: tuple[tuple[str, Decimal], ...]
    risk_events: tuple[dict[str, Any], ...]
    markdown: str
    png: bytes
    risk_event_groups: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"session": self.session.isoformat(), "summary": self.summary,
                "fills": [f.to_json() for f in self.fills],
                "equity": [[ts, _text(value)] for ts, value in self.equity],
                "risk_events": list(self.risk_events),
                "risk_event_groups": list(self.risk_event_groups)}

    def file_markdown(self) -> str:
        """The Markdown of ``report.md``: links to the files ``write`` puts beside it."""
        return markdown(self.summary, [f.to_json() for f in self.fills],
                        list(self.risk_event_groups), MAX_ROWS, image=PNG_NAME,
                        more=f"all of them in {JSON_NAME}")

    def write(self, directory: str | Path) -> dict[str, Path]:
        """``report.md``, ``equity.png`` and ``report.json`` in ``directory``."""
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"markdown": folder / "report.md", "png": folder / PNG_NAME,
                 "json": folder / JSON_NAME}
        paths["markdown"].write_text(self.file_markdown(), encoding="utf-8")
        paths["png"].write_bytes(self.png)
        paths["json"].write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        return paths


def compare_fills(ledger_json: dict[str, list[dict[str, Any]]], bars: pd.DataFrame,
                  model: ExecutionModel) -> tuple[FillComparison, ...]:
    """Each fill with the modelled price of its order (next bar's open after the decision)."""
    decided = {o["client_order_id"]: o["ts"] for o in ledger_json["orders"]}
    opens = {symbol: group.sort_values("ts") for symbol, group in bars.groupby("symbol")}
    out = []
    for fill in ledger_json["fills"]:
        modelled = None
        group = opens.get(fill["symbol"])
        decision = decided.get(fill["client_order_id"])
        if group is not None and decision is not None:
            later = group[group["ts"] > pd.Timestamp(decision)]
            if not later.empty:
                reference = Decimal(repr(float(later["open"].iloc[0])))
                modelled = model.fill_price(Side(fill["side"]), reference)
        out.append(FillComparison(fill["ts"], fill["client_order_id"], fill["symbol"],
                                  fill["side"], int(fill["quantity"]), Decimal(fill["price"]),
                                  modelled))
    return tuple(out)


def build_session_report(ledger_json: dict[str, list[dict[str, Any]]], bars: pd.DataFrame,
                         model: ExecutionModel, header: dict[str, Any]) -> SessionReport:
    """The report of one session. ``header``: session, policy, broker, state, limits."""
    session = date.fromisoformat(str(header["session"]))
    fills = compare_fills(ledger_json, bars, model)
    equity = tuple((d["ts"], Decimal(d["equity"])) for d in ledger_json["decisions"]
                   if d["equity"] is not None)
    events = tuple(ledger_json["risk_events"])
    groups = tuple(group_risk_events(events))
    summary = _summary(header, ledger_json, fills, equity)
    image = equity_png(session, equity, events)
    text = markdown(summary, [f.to_json() for f in fills], list(groups), MAX_ROWS,
                    image=png_data_uri(image),
                    more=f"`intraday-jules ledger --session {session.isoformat()} --all` "
                         "lists them all")
    return SessionReport(session, summary, fills, equity, events, text, image, groups)


def _summary(header: dict[str, Any], ledger_json: dict[str, list[dict[str, Any]]],
             fills: tuple[FillComparison, ...],
             equity: tuple[tuple[str, Decimal], ...]) -> dict[str, Any]:
    start = equity[0][1] if equity else None
    end = equity[-1][1] if equity else None
    commissions = sum((Decimal(f["commission"]) for f in ledger_json["fills"]), Decimal(0))
    extras = [f.slippage_vs_model for f in fills if f.slippage_vs_model is not None]
    kinds: dict[str, int] = {}
    for event in ledger_json["risk_events"]:
        kinds[event["kind"]] = kinds.get(event["kind"], 0) + 1
    return {**header,
            "start_equity": _text(start), "end_equity": _text(end),
            "pnl": _text(end - start if start is not None and end is not None else None),
            "commissions": _text(commissions), "orders": len(ledger_json["orders"]),
            "fills": len(ledger_json["fills"]),
            "slippage_vs_model": _text(sum(extras, Decimal(0))),
            "risk_events": len(ledger_json["risk_events"]), "risk_events_by_kind": kinds}


def _text(value: Decimal | None) -> str | None:
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) of a PNG (for tests and asset metadata)."""
    header = io.BytesIO(png).read(24)
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


__all__ = ["FillComparison", "SessionReport", "build_session_report", "png_size"]
