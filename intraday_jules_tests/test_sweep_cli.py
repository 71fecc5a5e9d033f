"""``intraday-jules sweep`` as a user runs it (subprocess): the ``--json`` shape of issue 14,
the best params retrained with several seeds, the report, and a bad space refused in one
line before any worker starts."""

import json
import os
import subprocess
import sys

CLI = [sys.executable, "-m", "intraday_jules.cli"]
SPACE = """dimensions:
  n_steps: {choices: [32]}
  learning_rate: {low: 1.0e-4, high: 1.0e-3, log: true}
"""
TINY = ["--start", "2025-03-03", "--end", "2025-03-14", "--foundation-steps", "256",
        "--dual-steps", "256"]


def run(args, tmp_path, timeout=600):
    env = {**os.environ, "INTRADAY_JULES_HOME": str(tmp_path / "home"),
           "INTRADAY_JULES_DEPLOYMENT": "ci"}
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_sweep_json_has_the_issue_shape_and_retrains_the_best_with_seeds(tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text(SPACE)
    args = ["sweep", "--study", "cli", "--trials", "1", "--workers", "1", "--space",
            str(space), *TINY, "--json"]
    proc = run([*args, "--retrain-best-seeds", "2", "--report", str(tmp_path / "report")],
               tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert set(out) == {"study", "trials", "best", "retrain", "report"}
    (trial,) = out["trials"]
    assert set(trial) == {"number", "state", "value", "params", "worker", "model_id"}
    assert trial["state"] == "COMPLETE" and trial["worker"].endswith("/w0")
    assert set(out["best"]) == {"number", "value", "params", "model_id"}
    assert out["best"]["model_id"] == trial["model_id"]
    retrain = out["retrain"]
    assert [r["seed"] for r in retrain["runs"]] == [0, 1]
    assert len({r["model_id"] for r in retrain["runs"]} | {trial["model_id"]}) == 3
    # seed 0 with the same params and data is the best trial again, exactly
    assert retrain["runs"][0]["value"] == trial["value"]
    values = [r["value"] for r in retrain["runs"]]
    assert retrain["min"] == min(values) and retrain["max"] == max(values)
    assert retrain["params"] == trial["params"] and {"mean", "std"} <= set(retrain)
    assert out["report"]["markdown"].endswith("report.md")
    # the study is complete: running again trains nothing and prints exactly the summary
    again = run(args, tmp_path)
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert set(summary) == {"study", "trials", "best"}
    assert summary["trials"] == out["trials"]


def test_a_bad_space_is_one_line_error_before_any_worker_starts(tmp_path):
    space = tmp_path / "bad.yaml"
    space.write_text("dimensions:\n  lstm_units: {choices: [8]}\n")
    proc = run(["sweep", "--study", "bad", "--trials", "2", "--workers", "2", "--space",
                str(space), "--json"], tmp_path)
    assert proc.returncode == 1
    error = json.loads(proc.stdout)
    assert f"search space {space}: dimension 'lstm_units' is unknown" in error["error"]
    assert "docs/sweeps.md" in error["hint"]
    assert not (tmp_path / "home" / "intraday_jules.optuna.db").exists()


def test_an_unknown_source_is_refused(tmp_path):
    proc = run(["sweep", "--study", "x", "--trials", "1", "--source", "vendor"], tmp_path)
    assert proc.returncode == 1
    assert "--source 'vendor': expected one of simulated, store, replay" in proc.stderr
