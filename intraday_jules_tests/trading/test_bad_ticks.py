"""Issue 11, finding 2: an absurd tick is bad input, never a crash, never a mark; and the
loop's last line of defence (an unexpected exception flattens at the broker, halts, fails).

The bad-tick cases replay the whole 2025-02-03 session of the simulated stand-in with one MSFT
bar replaced (every price of it), with always-buy (so the book holds both symbols from 10:20
ET on), through ``run_session`` and through ``intraday-jules trade --json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from intraday_jules.broker.journal import Journal
from intraday_jules.cli import risk_cmd, trade_cmd
from intraday_jules.domain.bars import Bar
from intraday_jules.ledger import Ledger
from intraday_jules.market_data.replay import ReplaySource
from intraday_jules.market_data.store import BarStore
from intraday_jules.risk import RiskLimits
from intraday_jules.trading import SessionConfig
from intraday_jules.trading.defence import SessionCrashed
from intraday_jules.trading.intake import BarIntake
from intraday_jules.trading.plausibility import PlausibilityBand, PriceReferences
from intraday_jules_tests.trading.conftest import SESSION, ledger_json, minute, replay

PRICES = ("open", "high", "low", "close")
HOLDING_FROM = 52  # always-buy's first fills: decided at minute 50, filled at 51's open


def z(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def session_file(folder: Path, source: ReplaySource, symbol: str, n: int,
                 value: Callable[[float], float]) -> Path:
    """The whole session as a replay CSV, every price of ``symbol``'s bar ``n`` replaced."""
    bars = source.bars
    day = bars[(bars["ts"] >= minute(0)) & (bars["ts"] < minute(390))].drop(
        columns=["source"]).reset_index(drop=True)
    row = (day["symbol"] == symbol) & (day["ts"] == minute(n))
    assert row.sum() == 1
    for name in PRICES:
        day[name] = day[name].astype(object)
        day.loc[row, name] = value(float(day.loc[row, name].iloc[0]))
    path = folder / f"bad_{symbol}_{n}.csv"
    folder.mkdir(parents=True, exist_ok=True)
    day.assign(ts=day["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    return path


def closes(source: ReplaySource, symbol: str) -> set[str]:
    bars = source.bars
    return {repr(float(c)) for c in bars[bars["symbol"] == symbol]["close"]}


def net_positions(fills: Sequence[dict[str, Any]]) -> dict[str, int]:
    held: dict[str, int] = {}
    for fill in fills:
        sign = 1 if fill["side"] == "BUY" else -1
        held[fill["symbol"]] = held.get(fill["symbol"], 0) + sign * fill["quantity"]
    return {s: q for s, q in held.items() if q}


def assert_bad_tick_handled(url: str, source: ReplaySource, n: int, bad: str) -> None:
    """REDUCING (not HALTED), flat, the tick recorded and never used."""
    ledger = ledger_json(url)
    events = ledger["risk_events"]
    [event] = [e for e in events if e["kind"] == "BAD_BAR"]
    assert (event["symbol"], event["state"]) == ("MSFT", "REDUCING")
    assert event["detail"] == {"bar_ts": z(minute(n)), "field": "open", "value": bad}
    assert f"MSFT {minute(n).isoformat()}: open {bad} " in event["reason"]
    assert not [e for e in events if e["kind"] in ("DAILY_LOSS_LIMIT", "DRAWDOWN_LIMIT")]
    assert net_positions(ledger["fills"]) == {}
    assert {o["ts"] for o in ledger["orders"] if o["origin"] == "FLATTEN"} == {
        "2025-02-03T20:54:00Z"}
    decided = {d["ts"]: d for d in ledger["decisions"]}
    assert z(minute(n)) not in decided and z(minute(n + 1)) in decided
    marks = {d["detail"]["marks"]["MSFT"] for d in decided.values()
             if "MSFT" in d["detail"]["marks"]}
    assert bad not in marks and marks <= closes(source, "MSFT")
    assert all(Decimal(d["equity"]) > Decimal("9000") for d in decided.values())
    stored = BarStore.open(url).read(["MSFT"], minute(n), minute(n + 1))
    assert stored.empty  # never stored, so never featurized


BAD_TICKS = [  # (name, minute, new price from the real one, the value as recorded)
    ("1e308", 251, lambda p: 1e308, "1e+308"),
    ("1e-6", 120, lambda p: 1e-6, "0.000001"),
    ("x100", 100, lambda p: round(p * 100, 2), None),
]


@pytest.mark.parametrize(("name", "n", "value", "recorded"), BAD_TICKS,
                         ids=[t[0] for t in BAD_TICKS])
def test_absurd_tick_when_holding_is_bad_input_reducing_and_the_session_ends_flat(
        tmp_path: Path, replay_source: ReplaySource, name: str, n: int,
        value: Callable[[float], float], recorded: str | None) -> None:
    path = session_file(tmp_path, replay_source, "MSFT", n, value)
    url = f"sqlite:///{tmp_path / 'lib.db'}"
    result = replay(url, ReplaySource(path), "always-buy").run()
    assert result.state == "REDUCING" and result.open_positions == {}
    assert result.bad_inputs == 1
    bad = recorded or str(Decimal(repr(value(_real(replay_source, "MSFT", n)))))
    assert_bad_tick_handled(url, replay_source, n, bad)
    positions = {p["symbol"] for p in ledger_json(url)["fills"] if p["ts"] < z(minute(n))}
    assert positions == {"NVDA", "MSFT"}  # both were held when the tick came


@pytest.mark.parametrize(("name", "n", "value", "recorded"), BAD_TICKS,
                         ids=[t[0] for t in BAD_TICKS])
def test_absurd_tick_through_the_trade_cli_exits_0_reducing_flat_and_recorded(
        tmp_path: Path, replay_source: ReplaySource, name: str, n: int,
        value: Callable[[float], float], recorded: str | None) -> None:
    path = session_file(tmp_path, replay_source, "MSFT", n, value)
    outcome = invoke_trade(tmp_path, "--source", "replay", "--replay-path", str(path),
                           "--broker", "simulated", "--policy", "always-buy", "--json")
    assert outcome.exit_code == 0, outcome.output
    payload = json.loads(outcome.stdout)
    assert payload["risk_state"] == "REDUCING" and payload["open_positions"] == {}
    assert payload["bad_inputs"] == 1
    bad = recorded or str(Decimal(repr(value(_real(replay_source, "MSFT", n)))))
    assert_bad_tick_handled(f"sqlite:///{tmp_path / 'cli.db'}", replay_source, n, bad)


def _real(source: ReplaySource, symbol: str, n: int) -> float:
    bars = source.bars
    row = bars[(bars["symbol"] == symbol) & (bars["ts"] == minute(n))]
    return float(row["open"].iloc[0])


def cli_app() -> typer.Typer:
    app = typer.Typer()
    trade_cmd.register(app)
    risk_cmd.register(app)
    return app


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {"INTRADAY_JULES_HOME": str(tmp_path / "home"),
            "INTRADAY_JULES_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def invoke_trade(tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(cli_app(), ["trade", "--session", "2025-02-03", *args],
                              env=cli_env(tmp_path))


@pytest.mark.parametrize("text", ["nan", "inf", "-inf"])
def test_nan_or_inf_price_in_a_replay_file_is_refused_by_the_reader_naming_it_and_nothing_is_traded(
        tmp_path: Path, replay_source: ReplaySource, text: str) -> None:
    """The reader refuses such a file whole (a ``Bar`` cannot even hold NaN/inf), so it never
    reaches the loop: one clear line naming symbol, ts and field; no decision recorded."""
    path = session_file(tmp_path, replay_source, "MSFT", 80, lambda p: p)
    lines = path.read_text().splitlines()
    stamp = z(minute(80))
    row = next(i for i, line in enumerate(lines) if line.startswith(f"MSFT,{stamp}"))
    cells = lines[row].split(",")
    cells[5] = text  # close
    lines[row] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    outcome = invoke_trade(tmp_path, "--replay-path", str(path), "--policy", "always-buy",
                           "--json")
    assert outcome.exit_code != 0
    message = str(outcome.exception)
    assert "\n" not in message and "MSFT" in message and "close" in message
    assert stamp in message
    assert ledger_json(f"sqlite:///{tmp_path / 'cli.db'}")["decisions"] == []


# --- the band itself -----------------------------------------------------------------------

def bar(symbol: str, n: int, price: float, volume: int = 1000) -> Bar:
    return Bar(symbol, minute(n), price, price, price, price, volume)


def references(previous: dict[str, float] | None = None) -> PriceReferences:
    return PriceReferences.seeded(PlausibilityBand(), previous or {}, {})


def test_band_when_a_deepseek_sized_drop_comes_at_the_open_accepts_it() -> None:
    """2025-01-27: NVDA opened about -12.5% and closed -17% below the previous close."""
    refs = references({"NVDA": 142.62})
    for n, price in enumerate((124.80, 121.0, 118.42)):
        problem, _ = refs.judge(bar("NVDA", n, price))
        assert problem is None, problem
        refs.accept(bar("NVDA", n, price))


@pytest.mark.parametrize(("price", "field_words"), [
    (1e308, "not representable as exact money"),
    (1.5e-9, "8 decimals"),
    (0.00005, "physical bounds"),
    (2_000_000.0, "physical bounds"),
    (14262.0, "day band"),
    (60.0, "day band"),
])
def test_band_when_a_price_is_absurd_refuses_it_naming_field_and_value(
        price: float, field_words: str) -> None:
    problem, _ = references({"NVDA": 142.62}).judge(bar("NVDA", 0, price))
    assert problem is not None and problem.field == "open"
    assert field_words in problem.reason and problem.value in problem.reason


def test_band_when_a_spike_leaves_the_minute_band_refuses_it_until_three_bars_confirm() -> None:
    refs = references({"NVDA": 100.0})
    refs.accept(bar("NVDA", 0, 100.0))
    assert refs.judge(bar("NVDA", 1, 130.0))[0] is not None  # +30% in a minute
    assert refs.judge(bar("NVDA", 2, 100.5))[0] is None  # the spike was alone: back to normal
    refs.accept(bar("NVDA", 2, 100.5))
    verdicts = [refs.judge(bar("NVDA", 3 + k, 131.0 + k)) for k in range(3)]
    assert [v[0] is None for v in verdicts] == [False, False, True]
    assert verdicts[2][1] is not None and "confirmed by 3" in verdicts[2][1]


def test_band_without_a_previous_close_anchors_on_the_first_accepted_bar() -> None:
    refs = references()
    assert refs.judge(bar("MSFT", 0, 410.0))[0] is None
    refs.accept(bar("MSFT", 0, 410.0))
    for k in range(4):  # a persistent x100 feed never confirms past the day band
        problem, _ = refs.judge(bar("MSFT", 1 + k, 41000.0))
        assert problem is not None and "day band" in problem.reason


def test_intake_when_a_bar_is_outside_regular_hours_does_not_judge_it() -> None:
    intake = BarIntake(SessionConfig(SESSION))
    early = Bar("NVDA", minute(-60), 1e308, 1e308, 1e308, 1e308, 5)
    outcome = intake.offer(early, minute(-59))
    assert outcome.refused is None and outcome.minute is None


# --- the last line of defence --------------------------------------------------------------

class FailingStore:
    """The real ``BarStore``, whose ``upsert_bars`` raises at the ``fail_at`` minute."""

    def __init__(self, inner: BarStore, fail_at: datetime) -> None:
        self.inner = inner
        self.fail_at = fail_at

    def upsert_bars(self, bars: Sequence[Bar], source: str) -> None:
        if any(b.ts == self.fail_at for b in bars):
            raise RuntimeError(f"disk full while storing {self.fail_at.isoformat()}")
        self.inner.upsert_bars(bars, source)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_unexpected_exception_in_the_loop_when_holding_flattens_at_the_broker_halts_and_raises(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    url, journal = f"sqlite:///{tmp_path / 'crash.db'}", tmp_path / "broker.jsonl"
    no_halt = RiskLimits(daily_loss_limit_usd=Decimal(10**6), drawdown_limit_usd=Decimal(10**6))
    crashing = replay(url, replay_source, "always-buy", limits=no_halt, journal=journal,
                      until=minute(100))
    crashing.store = FailingStore(crashing.store, minute(80))  # type: ignore[assignment]
    held = None
    with pytest.raises(SessionCrashed) as info:
        crashing.run()
    held = crashing.broker.positions()
    assert isinstance(info.value.__cause__, RuntimeError)
    message = str(info.value)
    assert "disk full" in message and "HALTED" in message and "\n" not in message

    ledger = ledger_json(url)
    [event] = [e for e in ledger["risk_events"] if e["kind"] == "LOOP_CRASHED"]
    assert event["state"] == "HALTED" and "RuntimeError: disk full" in event["reason"]
    assert Ledger.connect(url).load_trading_state().kind.value == "LOOP_CRASHED"
    flatten = [o for o in ledger["orders"] if o["origin"] == "FLATTEN"]
    bought = net_positions(ledger["fills"])
    assert bought and set(bought) == {"NVDA", "MSFT"}
    assert {(o["symbol"], o["side"], o["quantity"]) for o in flatten} == {
        (s, "SELL", q) for s, q in bought.items()}
    assert {o["client_order_id"] for o in flatten} == {
        f"IJF-20250203-1550-{s}" for s in bought}  # minute 80 (10:50 ET) crashed
    sent = [r["client_order_id"] for r in Journal(journal).records() if r["type"] == "order"]
    assert {o["client_order_id"] for o in flatten} <= set(sent)
    assert held == bought  # flattening orders are at the broker; they fill at its next bar

    restarted = replay(url, replay_source, "always-buy", limits=no_halt, journal=journal,
                       until=minute(100)).run()
    assert restarted.state == "HALTED" and restarted.open_positions == {}
    after = ledger_json(url)
    assert net_positions(after["fills"]) == {}
    assert not [o for o in after["orders"] if o["ts"] > z(minute(80)) and
                o["origin"] == "POLICY"]


# --- finding 8: the limits a session ran with ----------------------------------------------

def test_risk_status_when_trade_ran_with_command_line_limits_shows_them_beside_the_configured(
        tmp_path: Path, replay_source: ReplaySource) -> None:
    bars = replay_source.bars
    part = bars[(bars["ts"] >= minute(0)) & (bars["ts"] < minute(60))].drop(columns=["source"])
    path = tmp_path / "morning.csv"
    part.assign(ts=part["ts"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(path, index=False)
    traded = invoke_trade(tmp_path, "--replay-path", str(path), "--policy", "always-buy",
                          "--max-position", "300", "--daily-loss-limit", "25",
                          "--drawdown-limit", "40", "--json")
    assert traded.exit_code == 0, traded.output

    runner, env = CliRunner(), cli_env(tmp_path)
    status = runner.invoke(cli_app(), ["risk", "status", "--json"], env=env)
    assert status.exit_code == 0, status.output
    payload = json.loads(status.stdout)
    assert payload["limits"]["max_position_usd"] == "1000"  # configured (settings), as before
    assert {"state", "kind", "reason", "since", "history"} <= set(payload)
    used = payload["session_limits"]
    assert (used["session"], used["decided_at"]) == ("2025-02-03", z(minute(59)))
    assert (used["limits"]["max_position_usd"], used["limits"]["daily_loss_limit_usd"],
            used["limits"]["drawdown_limit_usd"]) == ("300", "25", "40")

    human = runner.invoke(cli_app(), ["risk", "status"], env=env)
    assert human.exit_code == 0
    assert "limits of the last traded session (2025-02-03" in human.output
    assert "max_position_usd=300" in human.output
    assert "configured limits: max_position_usd=1000" in human.output


def test_risk_status_when_nothing_was_traded_has_no_session_limits(tmp_path: Path) -> None:
    status = CliRunner().invoke(cli_app(), ["risk", "status", "--json"], env=cli_env(tmp_path))
    assert status.exit_code == 0, status.output
    assert json.loads(status.stdout)["session_limits"] is None
