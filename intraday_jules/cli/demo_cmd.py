"""``intraday-jules demo``: what ``make demo`` runs."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from intraday_jules.cli._output import JSON_OPTION, CliError, emit, progress
from intraday_jules.cli.config_cmd import load_settings

UI_HINT = "make ui   (runs `dagster dev` on http://127.0.0.1:3000)"


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        sessions: int = typer.Option(10, min=8, max=60, help="Recent sessions to ingest "
                                     "(training splits them into train/validation/test)."),
        foundation_steps: int = typer.Option(4_096, min=256, help="Demo foundation budget "
                                             "(make train runs the seed's 50,000)."),
        dual_steps: int = typer.Option(16_384, min=256, help="Demo dual budget (make train "
                                       "runs the seed's 200,000)."),
        as_json: bool = JSON_OPTION,
    ) -> None:
        """Run the whole pipeline through Dagster on the embedded default (no broker, no key)."""
        from dataclasses import replace

        from intraday_jules.db.engine import DatabaseUnreachable
        from intraday_jules.demo import DemoFailed, planned_runs, run_demo
        from intraday_jules.domain.calendar import last_completed_sessions
        from intraday_jules.observability.logging import configure_logging

        settings = replace(load_settings(), foundation_steps=foundation_steps,
                           dual_steps=dual_steps)
        configure_logging("WARNING" if settings.log_level == "INFO" else settings.log_level)
        from datetime import UTC, datetime

        days = last_completed_sessions(datetime.now(UTC), sessions)
        total = len(planned_runs(settings, days)) + 1  # + the trading run
        try:
            with progress(not as_json) as bar:
                task = bar.add_task("demo", total=total)

                def step(name: str) -> None:
                    bar.update(task, description=name)
                    bar.advance(task)

                report = run_demo(settings, sessions=sessions, on_step=step)
        except (DemoFailed, DatabaseUnreachable) as exc:
            raise CliError(str(exc)) from None
        payload = {**report.as_dict(), "ui": UI_HINT}
        emit(payload, as_json, lambda console: _render(console, payload))


def _render(console: Console, payload: dict[str, Any]) -> None:
    sessions = payload["sessions"]
    console.print(f"[bold]IntradayJules demo[/]: {len(payload['runs'])} Dagster runs over "
                  f"{len(sessions)} sessions ({sessions[0]} .. {sessions[-1]})")
    for symbol, rows in payload["rows_per_symbol"].items():
        console.print(f"  {symbol}: {rows} bars stored, checked, featurized")
    models = payload["models"]
    console.print(f"  models: foundation {models['foundation']} -> dual {models['dual']}")
    decision = models.get("last_decision") or {}
    failed = ", ".join(decision.get("failed_criteria") or []) or "all criteria passed"
    console.print(f"  promotion gate: {decision.get('decision', 'n/a')} ({failed}); champion: "
                  f"{models['champion'] or 'none'} (details: the models/promoted_model asset)")
    trading = payload["trading"]
    console.print(f"  traded {trading['session']} with the {trading['policy']} policy "
                  f"(simulated broker): P&L ${trading.get('pnl')}, {trading.get('fills')} fills,"
                  f" risk state {trading.get('risk_state')}")
    console.print(f"database: {payload['database']} ({payload['backend']})")
    console.print(f"Dagster home: {payload['dagster_home']}")
    console.print(f"Open the UI: {UI_HINT}")
    console.print("Then: intraday-jules status | intraday-jules ledger --session "
                  f"{trading['session']} | make tensorboard | make serve")
