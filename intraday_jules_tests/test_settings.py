from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from intraday_jules.settings import SETTING_SPECS, Settings, SettingsError


def test_defaults_are_the_embedded_local_profile(tmp_path):
    s = Settings.from_env({"INTRADAY_JULES_HOME": str(tmp_path)})
    assert s.deployment == "local"
    assert s.database_url == f"sqlite:///{tmp_path / 'intraday_jules.db'}"
    assert s.market_sources == ("simulated",)
    assert s.symbols == ("NVDA", "MSFT")
    assert s.max_position_usd == Decimal("1000") and s.drawdown_limit_usd == Decimal("100")
    assert s.dagster_home == tmp_path / "dagster"


def test_paper_profile_defaults_to_ibkr_with_alpha_vantage_failover():
    s = Settings.from_env({"INTRADAY_JULES_DEPLOYMENT": "paper"})
    assert s.market_sources == ("ibkr", "alpha_vantage") and s.ib_port == 7497


def test_ci_profile_uses_small_training_budgets():
    s = Settings.from_env({"INTRADAY_JULES_DEPLOYMENT": "ci"})
    assert s.foundation_steps < 50_000 and s.dual_steps < 200_000


@pytest.mark.parametrize(
    ("env", "value", "needle"),
    [
        ("INTRADAY_JULES_DEPLOYMENT", "prod", "local, ci, paper, live"),
        ("INTRADAY_JULES_MARKET_SOURCE", "ibkr,bloomberg", "unknown source"),
        ("INTRADAY_JULES_LOG_LEVEL", "LOUD", "DEBUG"),
        ("INTRADAY_JULES_FIRST_SESSION", "2025-13-01", "INTRADAY_JULES_FIRST_SESSION"),
        ("INTRADAY_JULES_MAX_POSITION", "-5", "positive"),
    ],
)
def test_bad_values_name_the_variable(env, value, needle):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({env: value})
    assert env in str(err.value) and needle in str(err.value)


def test_replay_source_needs_a_path():
    with pytest.raises(SettingsError, match="INTRADAY_JULES_REPLAY_PATH"):
        Settings.from_env({"INTRADAY_JULES_MARKET_SOURCE": "replay"})
    s = Settings.from_env({"INTRADAY_JULES_MARKET_SOURCE": "replay,simulated",
                           "INTRADAY_JULES_REPLAY_PATH": "/data/bars.csv"})
    assert s.replay_path == Path("/data/bars.csv")


def test_masked_view_hides_database_passwords_and_repr_hides_the_url():
    s = Settings.from_env({"INTRADAY_JULES_DATABASE_URL": "postgresql://u:s3cret@db:5432/ij"})
    assert "s3cret" not in str(s.masked())
    assert "s3cret" not in repr(s)
    assert s.masked()["database_url"]["value"] == "postgresql://u:***@db:5432/ij"


def test_every_setting_has_exactly_one_env_var():
    envs = [spec.env for spec in SETTING_SPECS]
    assert len(envs) == len(set(envs))
    assert all(e.startswith("INTRADAY_JULES_") for e in envs)
    assert Settings.from_env({}).first_session == date(2025, 1, 2)
