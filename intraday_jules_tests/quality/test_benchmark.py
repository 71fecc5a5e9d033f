"""The quality benchmark runs and ends with its JSON line (the 1,000,000-bar timing is run by
``python -m benchmarks.quality``; here a small size keeps the suite fast)."""

from __future__ import annotations

import json
import sys

import pytest


def test_benchmark_prints_a_json_last_line_with_rows_and_seconds(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import quality as bench

    monkeypatch.setattr(sys, "argv", ["benchmarks.quality", "--rows", "20000"])
    bench.main()
    lines = capsys.readouterr().out.strip().splitlines()
    payload = json.loads(lines[-1])
    assert list(payload) == ["benchmark", "rows", "seconds"]
    assert payload["benchmark"] == "quality_checks"
    assert payload["rows"] >= 20000 and payload["seconds"] > 0
    assert "blocking_failed=False" in lines[-2]

