import pytest

from intraday_jules.settings import Settings


@pytest.fixture
def settings_for(tmp_path):
    """Settings with a throw-away home; pass overrides such as database_url."""

    def make(**overrides):
        env = {"INTRADAY_JULES_HOME": str(tmp_path / "home"), "INTRADAY_JULES_DEPLOYMENT": "ci"}
        return Settings.from_env(env, **overrides)

    return make
