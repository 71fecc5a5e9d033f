"""The env docstrings are the spec: they keep STYLE.md's fixed sections and match the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from intraday_jules.env import DualTickerTradingEnv, SingleTickerTradingEnv, TradingEnvConfig
from intraday_jules.env.actions import ACTION_NAMES, decode_action
from intraday_jules.env.data import MarketArrays

SECTIONS = ("Description", "Action Space", "Observation Space", "Rewards", "Starting State",
            "Episode End", "Arguments", "Version History")
DOCS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "environments.md"


@pytest.mark.parametrize("env_class", [SingleTickerTradingEnv, DualTickerTradingEnv])
def test_env_docstring_has_the_fixed_sections_in_order(env_class: type) -> None:
    doc = env_class.__doc__ or ""
    positions = [doc.find(f"## {section}") for section in SECTIONS]
    assert -1 not in positions, dict(zip(SECTIONS, positions, strict=True))
    assert positions == sorted(positions)


def test_every_info_key_is_documented_in_docstring_and_docs_page(arrays: MarketArrays) -> None:
    _, info = DualTickerTradingEnv(arrays).reset(seed=0)
    page = DOCS_PAGE.read_text()
    for key in info:
        assert f"``{key}``" in (DualTickerTradingEnv.__doc__ or ""), key
        assert f"`{key}`" in page, key


def test_every_config_field_is_explained_in_the_config_docstring() -> None:
    doc = TradingEnvConfig.__doc__ or ""
    for name in TradingEnvConfig.__dataclass_fields__:
        assert name in doc, name


def test_docs_page_action_table_matches_decode_action() -> None:
    page = DOCS_PAGE.read_text()
    for index in range(9):
        nvda, msft = (ACTION_NAMES[a] for a in decode_action(index, 2))
        assert f"| {index} | {nvda} | {msft} |" in page, index
