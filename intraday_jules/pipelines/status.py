"""One picture of the whole system for ``intraday-jules status`` (and scripts, via --json).

Each part is read independently and reports its own error, so one broken piece (say an
unreachable broker) never hides the others.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intraday_jules.db.engine import create_db_engine
from intraday_jules.db.migrate import upgrade_to_head
from intraday_jules.domain.bars import BAR
from intraday_jules.domain.calendar import (
    current_or_next_session,
    is_session,
    last_completed_sessions,
    session_date_of,
    session_window,
)
from intraday_jules.ledger import Ledger
from intraday_jules.pipelines.performance import TrackedTargets, track_targets
from intraday_jules.settings import Settings
from intraday_jules.url_masking import mask_url

BROKER_PROBE_TIMEOUT_S = 1.0
#: During regular hours, bars are stale when a symbol's newest stored bar closed more than this
#: long ago; from the open + ``STALE_GRACE`` on (before it, yesterday's bar is still the
#: newest). The same rule as the ``BarsStale`` alert (docker/prometheus/alerts.yml).
STALE_BARS_AFTER = timedelta(seconds=300)
STALE_GRACE = timedelta(minutes=5)


def collect_status(settings: Settings, now: datetime | None = None) -> dict[str, Any]:
    """Every section of the status screen as JSON-ready values."""
    now = now or datetime.now(UTC)
    out: dict[str, Any] = {"now": now.isoformat(), "deployment": settings.deployment,
                           "database": mask_url(settings.database_url),
                           "market": _market(now)}
    try:
        engine = create_db_engine(settings.database_url)
    except Exception as exc:  # the screen still renders, saying what is wrong
        out["error"] = str(exc)
        return out
    try:
        upgrade_to_head(engine)
        tracked = cache(lambda: _tracked(engine, settings, now))
        sections: dict[str, Callable[[], Any]] = {
            "freshness": lambda: _freshness(engine, now),
            "bars": lambda: _bars(engine, settings, now),
            "quality": lambda: _quality(engine, settings, now),
            "model": lambda: _model(engine, settings),
            "risk": lambda: _risk(engine, now),
            "today": lambda: _today(engine, now),
            "last_session": lambda: tracked().last_session_json(),
            "targets": lambda: tracked().targets_json(),
            "targets_window": lambda: _targets_window(tracked()),
            "broker": lambda: _broker(settings),
        }
        for name, read in sections.items():
            try:
                out[name] = read()
            except Exception as exc:  # one failing section must not hide the rest
                out[name] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        engine.dispose()
    return out


def _market(now: datetime) -> dict[str, Any]:
    day = session_date_of(now)
    if is_session(day):
        window = session_window(day)
        state = ("open" if window.open <= now < window.close else
                 "pre-open" if now < window.open else "closed")
        return {"session": day.isoformat(), "state": state, "open": window.open.isoformat(),
                "close": window.close.isoformat(), "half_day": window.is_half_day}
    return {"session": None, "state": "no session today",
            "next_session": current_or_next_session(now).isoformat()}


def _freshness(engine: Engine, now: datetime) -> list[dict[str, Any]]:
    from intraday_jules.market_data.store.bar_store import _to_datetime

    query = sa.text("SELECT symbol, source, max(ts) AS newest, count(*) AS rows "
                    "FROM market_data GROUP BY symbol, source ORDER BY symbol, source")
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    out = []
    for row in rows:
        newest = _to_datetime(row["newest"])
        age = (now - newest).total_seconds() / 60 if newest else None
        out.append({"symbol": row["symbol"], "source": row["source"], "rows": int(row["rows"]),
                    "newest_bar": newest.isoformat() if newest else None,
                    "age_minutes": round(age, 1) if age is not None else None})
    return out


def _bars(engine: Engine, settings: Settings, now: datetime) -> dict[str, Any]:
    """Whether the traded symbols' newest stored bars are stale now (see STALE_BARS_AFTER).

    ``age_s``: seconds since the stalest symbol's newest bar closed (None: a symbol has no bar).
    """
    from intraday_jules.market_data.store.bar_store import _to_datetime

    query = sa.text("SELECT symbol, max(ts) AS newest FROM market_data GROUP BY symbol")
    with engine.connect() as conn:
        newest = {r["symbol"]: _to_datetime(r["newest"]) for r in conn.execute(query).mappings()}
    ages: dict[str, float | None] = {}
    for symbol in settings.symbols:
        bar = newest.get(symbol)
        ages[symbol] = None if bar is None else round((now - (bar + BAR)).total_seconds(), 1)
    day = session_date_of(now)
    window = session_window(day) if is_session(day) else None
    trading_hours = window is not None and window.open <= now < window.close
    judged = window is not None and trading_hours and now >= window.open + STALE_GRACE
    known = [a for a in ages.values() if a is not None]
    age = None if len(known) < len(ages) else max(known, default=None)
    stale = judged and (age is None or age > STALE_BARS_AFTER.total_seconds())
    return {"stale": stale, "age_s": age, "trading_hours": trading_hours,
            "stale_after_s": STALE_BARS_AFTER.total_seconds(),
            "symbols": {s: {"newest_bar": b.isoformat() if (b := newest.get(s)) else None,
                            "age_s": ages[s]} for s in settings.symbols}}


def _tracked(engine: Engine, settings: Settings, now: datetime) -> TrackedTargets:
    return track_targets(Ledger(engine), settings, until=session_date_of(now))


def _targets_window(tracked: TrackedTargets) -> dict[str, Any]:
    """Which sessions the targets count, and whether each target is met."""
    window = tracked.window
    return {"start": window.start.isoformat() if window.start else None,
            "end": window.end.isoformat() if window.end else None,
            "sessions": len(window.sessions), "met": window.met(tracked.targets)}


def _quality(engine: Engine, settings: Settings, now: datetime) -> dict[str, Any]:
    from intraday_jules.domain.calendar import partition_key_for
    from intraday_jules.quality import load_latest_reports

    session = last_completed_sessions(now, 1)[0]
    keys = [partition_key_for(session, s) for s in settings.symbols]
    reports = load_latest_reports(engine, keys)
    return {"session": session.isoformat(), "partitions": {
        key: ({"blocking_failed": [c.name for c in r.checks if c.blocking],
               "failed": [c.name for c in r.failed], "checks": len(r.checks)}
              if (r := reports.get(key)) else "no report") for key in keys}}


def _model(engine: Engine, settings: Settings) -> dict[str, Any]:
    from intraday_jules.agent.model_store import ModelStore

    store = ModelStore(settings.models_dir, engine, migrate=False)
    champion = store.champion_id()
    if champion is None:
        latest = store.records()
        return {"champion": None, "latest": latest[-1].id if latest else None}
    record = store.get(champion)
    return {"champion": champion, "kind": record.kind, "trained_on": str(record.window),
            "spec_version": record.spec_version[:12],
            "evaluation": champion_evaluation(record.metrics.get("evaluation", {}))}


STATUS_EVALUATION_KEYS = ("total_return", "sharpe", "sharpe_per_session", "max_drawdown_pct")


def champion_evaluation(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of a recorded evaluation (``EvaluationReport.summary()``): the
    model's row at the reference cost; ``sharpe`` is null on windows too short to annualise,
    ``sharpe_per_session`` is always there (absent in evaluations recorded before it)."""
    model = evaluation.get("model") or {}
    return {k: model[k] for k in STATUS_EVALUATION_KEYS if k in model}


def _risk(engine: Engine, now: datetime) -> dict[str, Any]:
    from intraday_jules.risk import effective_state

    record = effective_state(Ledger(engine).load_trading_state(), now)
    return {"state": record.state.value, "reason": record.reason, "since": record.ts.isoformat()}


def _today(engine: Engine, now: datetime) -> dict[str, Any]:
    ledger = Ledger(engine)
    session: date = session_date_of(now)
    positions = {s: p.quantity for s, p in ledger.positions().items() if p.quantity}
    fills = ledger.fills_for_session(session)
    start = ledger.session_start_equity(session)
    decisions = ledger.decisions(session)
    last = decisions[-1].equity if decisions else None
    pnl = (last - start) if (start is not None and last is not None) else None
    return {"session": session.isoformat(), "positions": positions, "fills": len(fills),
            "pnl_usd": str(pnl) if pnl is not None else None}


def _broker(settings: Settings) -> dict[str, Any]:
    if settings.broker == "simulated":
        return {"broker": "simulated", "connected": True, "note": "in-process simulated broker"}
    try:
        with socket.create_connection((settings.ib_host, settings.ib_port),
                                      timeout=BROKER_PROBE_TIMEOUT_S):
            reachable = True
    except OSError:
        reachable = False
    return {"broker": "ibkr", "host": settings.ib_host, "port": settings.ib_port,
            "connected": reachable, "note": "TCP reachability of the IB API port"}
