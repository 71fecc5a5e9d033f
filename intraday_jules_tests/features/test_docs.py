"""docs/features.md describes the code: every feature with its window, and the live version."""

from __future__ import annotations

import re
from pathlib import Path

from intraday_jules.features import DEFAULT_SPEC

DOC = Path(__file__).resolve().parents[2] / "docs" / "features.md"


def test_feature_table_lists_every_feature_in_order_with_its_window() -> None:
    rows = re.findall(r"^\| `(\w+)` \| .+ \| (\d+) \| [^|]+ \|$", DOC.read_text(), re.MULTILINE)
    assert rows == [(f.name, str(f.window)) for f in DEFAULT_SPEC.features]


def test_docs_name_the_current_default_version_and_lookback() -> None:
    text = DOC.read_text()
    assert f"Current default version: `{DEFAULT_SPEC.version}`" in text
    assert f"`lookback` = **{DEFAULT_SPEC.lookback}**" in text
