"""Issue 13's "Done means": on the same bars, with one model, the trading loop, the evaluation,
the reconciliation replay and the inference service make the same decisions.

One tiny model (``reconcile_support.tiny_dual``, trained on simulated minutes: no ../shared
needed) trades one simulated session with ``model:ID`` on the simulated broker (seed 4, the
recorded "sample" mode). Then, on that session's bars:

- the trading loop: the ledger's decision rows (``detail.actions``);
- the evaluation: ``evaluate`` over the session and its neighbours, seed 4 of its seeds,
  each action at its decision bar (the evaluation data's own ``decision_schedule``);
- the reconciliation replay: ``replay_session`` on the bars stored in the ledger, with the
  model, seed and mode the ledger recorded (what ``reconcile`` runs);
- the inference service: a stateful session (``POST /sessions``, then each minute's bars) on
  the app served by uvicorn over loopback, decision per bar from the HTTP answers.

Each is a map decision bar -> {symbol: "sell" | "hold" | "buy"}; every side must equal the
loop's on every bar of the session, and a difference names the first bar that differs.
Only public interfaces are used (HTTP for the service), so internals may change underneath.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pandas as pd
import pytest

from intraday_jules.agent import DateWindow, ModelStore
from intraday_jules.agent.evaluation import MODEL, evaluate, evaluation_data
from intraday_jules.db import create_db_engine, upgrade_to_head
from intraday_jules.env.actions import ACTION_NAMES, decode_action
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.replay import ReplaySource, read_bars_file
from intraday_jules.market_data.store import BarStore
from intraday_jules.pipelines.session_reconciliation import (
    reconcile_at,
    recorded_model,
    session_bars,
)
from intraday_jules.pipelines.shadow_replay import replay_session
from intraday_jules.pipelines.trading import run_replay_session
from intraday_jules.pipelines.trading_parts import PushTarget
from intraday_jules.service import create_app
from intraday_jules.trading import SessionConfig
from intraday_jules_tests.reconcile_support import (
    SESSION,
    no_halt_limits,
    save_model,
    tiny_dual,
)
from intraday_jules_tests.service.conftest import bars_payload, serve_in_thread

pytest.importorskip("sb3_contrib")

SEED = 4
#: sessions the evaluation runs over: SESSION and its neighbours, clear of the training
#: window (2025-01-27..29) and its one-session embargo
EVALUATED = DateWindow(date(2025, 1, 31), date(2025, 2, 5))
NEW_YORK = ZoneInfo("America/New_York")
Decisions = dict[datetime, dict[str, str]]


@dataclass(frozen=True)
class Traded:
    """The traded session: its database, models dir, model id, and the file's bars."""

    url: str
    models: Path
    model_id: str
    bars: pd.DataFrame


@pytest.fixture(scope="module")
def traded(sim_regular_minute_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Traded:
    """SESSION traded by ``model:ID`` through the trade command's replay path."""
    folder = tmp_path_factory.mktemp("parity")
    url, models = f"sqlite:///{folder / 'traded.db'}", folder / "models"
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    model_id = save_model(tiny_dual(sim_regular_minute_file), engine, models)
    engine.dispose()
    result = run_replay_session(
        SessionConfig(SESSION), database_url=url, source=ReplaySource(sim_regular_minute_file),
        policy=f"model:{model_id}", limits=no_halt_limits(),
        journal=folder / "broker.jsonl", models_dir=models, push=PushTarget(), seed=SEED)
    assert result.to_json()["session"] == SESSION.isoformat()
    bars = read_bars_file(sim_regular_minute_file).drop(columns=["source"], errors="ignore")
    return Traded(url, models, model_id, bars)


def _utc(ts: Any) -> datetime:
    stamp = pd.Timestamp(ts)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return stamp.to_pydatetime()


def loop_decisions(traded: Traded) -> Decisions:
    """The trading loop's: every ledger decision row where the policy was consulted."""
    ledger = Ledger.connect(traded.url)
    try:
        return {_utc(d.ts): dict(d.detail["actions"]) for d in ledger.decisions(SESSION)
                if d.detail.get("actions")}
    finally:
        ledger.engine.dispose()


def replay_decisions(traded: Traded) -> Decisions:
    """The reconciliation replay's, on the ledger's stored bars with the recorded model."""
    ledger = Ledger.connect(traded.url)
    store = BarStore(ledger.engine)
    try:
        model_id, seed, mode = recorded_model(ledger, SESSION)
        bundle = ModelStore(traded.models, ledger.engine, migrate=False).load(model_id)
        bars = session_bars(store, SESSION, bundle.symbols)
        steps = replay_session(bundle, bars, SESSION, seed=seed, mode=mode,
                               execution=bundle.execution.execution_model())
        return {_utc(s.ts): dict(s.actions) for s in steps}
    finally:
        store.close()
        ledger.engine.dispose()


def evaluation_decisions(traded: Traded) -> Decisions:
    """The evaluation's: seed ``SEED``'s actions over ``EVALUATED``, those of SESSION."""
    engine = create_db_engine(traded.url)
    try:
        bundle = ModelStore(traded.models, engine, migrate=False).load(traded.model_id)
    finally:
        engine.dispose()
    local = traded.bars["ts"].dt.tz_convert("America/New_York").dt.date
    data = evaluation_data(bundle, traded.bars[local.map(EVALUATED.contains)])
    report = evaluate(bundle, data, seeds=SEED + 1, n_folds=1, action_mode="sample")
    arrays = data.window(report.window, bundle.symbols)
    spec = bundle.execution
    schedule = arrays.decision_schedule(spec.lookback, spec.flatten_bars_before_close)
    actions = report.actions[MODEL][SEED]
    assert len(actions) == len(schedule), (len(actions), len(schedule))
    out: Decisions = {}
    for row, action in zip(schedule.bars, actions, strict=True):
        ts = _utc(arrays.ts[row])
        if ts.astimezone(NEW_YORK).date() == SESSION:
            per_asset = decode_action(int(action), len(bundle.symbols))
            out[ts] = {s: ACTION_NAMES[a] for s, a in zip(bundle.symbols, per_asset,
                                                           strict=True)}
    return out


@pytest.fixture(scope="module")
def service_url(traded: Traded) -> Iterator[str]:
    engine = create_db_engine(traded.url)
    app = create_app(store=ModelStore(traded.models, engine, migrate=False))
    try:
        with serve_in_thread(app) as base:
            yield base
    finally:
        engine.dispose()


def service_decisions(traded: Traded, base_url: str) -> Decisions:
    """The inference service's: one stateful session fed the session's bars minute by
    minute over HTTP; each answer that decided gives that bar's actions."""
    local = traded.bars["ts"].dt.tz_convert("America/New_York")
    day = traded.bars[local.dt.date == SESSION].sort_values(["ts", "symbol"])
    out: Decisions = {}
    with httpx.Client(base_url=base_url, timeout=60) as http:
        opened = http.post("/sessions", json={"session": SESSION.isoformat(),
                                              "model_id": traded.model_id,
                                              "mode": "sample", "seed": SEED})
        assert opened.status_code == 201, opened.text
        path = f"/sessions/{opened.json()['id']}/bars"
        for _, minute in day.groupby("ts", sort=True):
            answer = http.post(path, json={"bars": bars_payload(minute)})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            if body["decided"]:
                out[_utc(body["ts"])] = dict(body["per_asset"])
        http.delete(f"/sessions/{opened.json()['id']}")
    return out


def first_difference(reference: Mapping[datetime, Mapping[str, str]],
                     other: Mapping[datetime, Mapping[str, str]]) -> str | None:
    """The first bar (in time) where the two differ, described; None when they agree."""
    for ts in sorted(set(reference) | set(other)):
        ours, theirs = reference.get(ts), other.get(ts)
        if ours != theirs:
            return f"{ts.isoformat()}: {ours or 'no decision'} vs {theirs or 'no decision'}"
    return None


def assert_same_decisions(loop: Decisions, name: str, other: Decisions) -> None:
    difference = first_difference(loop, other)
    assert difference is None, (
        f"the {name} decides differently from the trading loop; first differing bar "
        f"(loop vs {name}) {difference}")


def test_loop_evaluation_replay_and_service_make_the_same_decisions(
        traded: Traded, service_url: str) -> None:
    loop = loop_decisions(traded)
    actions = [a for per_bar in loop.values() for a in per_bar.values()]
    # a whole session of decisions, both symbols, and the policy really chooses
    assert len(loop) > 300 and all(set(d) == {"NVDA", "MSFT"} for d in loop.values())
    assert {"buy", "sell"} <= set(actions), sorted(set(actions))
    assert_same_decisions(loop, "evaluation", evaluation_decisions(traded))
    assert_same_decisions(loop, "reconciliation replay", replay_decisions(traded))
    assert_same_decisions(loop, "inference service", service_decisions(traded, service_url))
    assert reconcile_at(SESSION, database_url=traded.url,
                        models_dir=traded.models).verdict == "match"


def test_first_difference_names_the_first_bar_that_differs() -> None:
    t0, t1, t2 = (datetime(2025, 2, 3, 15, m, tzinfo=UTC) for m in (0, 1, 2))
    loop = {t0: {"NVDA": "buy"}, t1: {"NVDA": "hold"}, t2: {"NVDA": "sell"}}
    assert first_difference(loop, dict(loop)) is None
    assert first_difference(loop, {**loop, t1: {"NVDA": "sell"}, t2: {"NVDA": "buy"}}) == (
        "2025-02-03T15:01:00+00:00: {'NVDA': 'hold'} vs {'NVDA': 'sell'}")
    assert first_difference(loop, {t0: loop[t0], t2: loop[t2]}) == (
        "2025-02-03T15:01:00+00:00: {'NVDA': 'hold'} vs no decision")
