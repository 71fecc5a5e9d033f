"""Sweep throughput: complete trials per hour with 1 and with 2 worker processes on one study,
and each trial's time outside training.

Run: ``python -m benchmarks.sweep [--quick]``.

Both runs use the same search space (learning rate only), the same simulated sessions, the
same per-trial budgets, no pruning (so every trial costs about the same: a pruned trial is
cheaper, and which trials are pruned differs between the runs), and worker processes started
the same way (spawned, as ``intraday-jules sweep --workers K`` does); each run has its own
study and its own SQLite database in a temporary home. The wall time includes starting the
processes (imports) and waiting for the last trial. Per trial (from the study's user
attributes): ``train_s`` (both trainings, building their envs included), ``evaluate_s``
(both validation evaluations), and the rest (data preparation, saving the models, the
study's storage, heartbeats): the overhead.
Last line: JSON with ``ratio`` = trials per hour with 2 workers / with 1 (goal >= 1.7 on
2 cores) and ``overhead_pct`` (goal < 5% of a trial's time).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks._common import emit_result
from intraday_jules.pipelines.sweep import SweepRequest, run_sweep_worker
from intraday_jules.pipelines.sweep_storage import load_study
from intraday_jules.settings import Settings

SPACE = "dimensions:\n  learning_rate: {low: 1.0e-4, high: 1.0e-3, log: true}\n"


def _worker(settings: Settings, request: SweepRequest, name: str) -> None:
    run_sweep_worker(settings, request, worker=name)


def run(workers: int, trials: int, steps: tuple[int, int], root: Path) -> dict[str, Any]:
    """One sweep of ``trials`` complete trials with ``workers`` processes, timed."""
    home = root / f"w{workers}"
    settings = Settings.from_env({"INTRADAY_JULES_HOME": str(home),
                                  "INTRADAY_JULES_DEPLOYMENT": "ci"})
    space = root / "space.yaml"
    space.write_text(SPACE)
    request = SweepRequest(study=f"bench-{workers}w", trials=trials, space=space,
                           start=date(2025, 3, 3), end=date(2025, 3, 28),
                           foundation_steps=steps[0], dual_steps=steps[1], prune=False)
    context = multiprocessing.get_context("spawn")
    started = time.perf_counter()
    processes = [context.Process(target=_worker, args=(settings, request, f"w{i}"))
                 for i in range(workers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    wall = time.perf_counter() - started
    if any(p.exitcode != 0 for p in processes):
        raise SystemExit(f"a worker of the {workers}-worker run failed")
    return _figures(load_study(settings, request.study), workers, wall)


def _figures(study: Any, workers: int, wall: float) -> dict[str, Any]:
    complete = [t for t in study.get_trials() if t.state.name == "COMPLETE"]
    trial_s = sum((t.datetime_complete - t.datetime_start).total_seconds() for t in complete)
    train_s = sum(t.user_attrs["train_s"] for t in complete)
    evaluate_s = sum(t.user_attrs["evaluate_s"] for t in complete)
    n = len(complete)
    return {"workers": workers, "complete": n, "all_trials": len(study.get_trials()),
            "wall_s": round(wall, 1), "trials_per_hour": round(n / wall * 3600, 1),
            "trial_s": round(trial_s / n, 2), "train_s": round(train_s / n, 2),
            "evaluate_s": round(evaluate_s / n, 2),
            "overhead_pct": round(100 * (trial_s - train_s - evaluate_s) / trial_s, 1),
            "outside_training_pct": round(100 * (trial_s - train_s) / trial_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 trials of 1024 + 2048 steps "
                        "(default: 10 of 4096 + 8192)")
    args = parser.parse_args()
    trials, steps = (4, (1024, 2048)) if args.quick else (10, (4096, 8192))
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        one = run(1, trials, steps, Path(tmp))
        two = run(2, trials, steps, Path(tmp))
    for row in (one, two):
        print(f"{row['workers']} worker(s): {row['complete']} complete of {row['all_trials']} "
              f"trials in {row['wall_s']} s = {row['trials_per_hour']} trials/h; per trial "
              f"{row['trial_s']} s: training {row['train_s']} s, evaluation "
              f"{row['evaluate_s']} s, overhead {row['overhead_pct']}%")
    load = os.getloadavg()[0]
    emit_result({"benchmark": "sweep", "trials": trials, "budgets": list(steps),
                 "one_worker": one, "two_workers": two,
                 "ratio": round(two["trials_per_hour"] / one["trials_per_hour"], 2),
                 "overhead_pct": max(one["overhead_pct"], two["overhead_pct"]),
                 "load_average_1m": round(load, 2)})


if __name__ == "__main__":
    main()
