"""``mask_url``: a secret in a database URL never reaches output, wherever it sits in the URL
(userinfo, query parameter, URL-encoded or not), and what is not secret stays readable."""

from __future__ import annotations

import logging
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url

from intraday_jules.db.engine import DatabaseUnreachable, create_db_engine
from intraday_jules.settings import Settings
from intraday_jules.url_masking import (
    SECRET_QUERY_KEYS,
    is_secret_query_key,
    mask_url,
    mask_urls_in_text,
    url_secret_values,
)

SECRET = "S3cr3t-"  # every generated secret starts with it: no other part of a URL contains it


def traces(secret: str) -> set[str]:
    """The forms in which a secret could show up in a rendered URL."""
    return {secret, quote(secret, safe=""), quote_plus(secret), quote(secret)}


def assert_no_trace(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in traces(secret):
            assert form not in text, f"{form!r} leaked in {text!r}"
    assert SECRET not in text, text


# --- examples -------------------------------------------------------------------------------
@pytest.mark.parametrize(("url", "masked"), [
    ("postgresql://u:pw@db/ij", "postgresql://u:***@db/ij"),
    ("postgresql://u@db:5432/ij?password=S3cr3t-q&sslmode=require",
     "postgresql://u@db:5432/ij?password=***&sslmode=require"),
    ("postgresql://u:S3cr3t-a@db/ij?PassWord=S3cr3t-b", "postgresql://u:***@db/ij?PassWord=***"),
    ("postgresql://db/ij?pass%77ord=S3cr3t-enc%26x", "postgresql://db/ij?password=***"),
    ("postgresql://db/ij?sslpassword=S3cr3t-k&passwd=S3cr3t-p&pwd=S3cr3t-w",
     "postgresql://db/ij?passwd=***&pwd=***&sslpassword=***"),
    ("postgresql://db/ij?api_key=S3cr3t-1&apikey=S3cr3t-2&token=S3cr3t-3&secret=S3cr3t-4",
     "postgresql://db/ij?api_key=***&apikey=***&secret=***&token=***"),
    ("postgresql://db/ij?options=-c%20password%3DS3cr3t-kv", "postgresql://db/ij?options=-c+password%3D***"),
    ("postgresql://u:p%40S3cr3t-x@db/ij", "postgresql://u:***@db/ij"),
    ("sqlite:////tmp/a@b/ij.db", "sqlite:////tmp/a%40b/ij.db"),
    ("sqlite:///ij.db", "sqlite:///ij.db"),
])
def test_mask_url_when_a_password_sits_anywhere_in_the_url_masks_it(url: str, masked: str) -> None:
    assert mask_url(url) == masked
    assert mask_url(make_url(url)) == masked  # engine.url objects too
    assert_no_trace(masked, *url_secret_values(url))


def test_mask_url_when_the_password_has_a_raw_at_sign_masks_everything_before_the_last() -> None:
    url = "postgresql://u:S3cr3t-p@ss@db:5432/ij"
    assert mask_url(url) == "postgresql://***@db:5432/ij"
    assert mask_url(make_url(url)) == "postgresql://***@db:5432/ij"  # parsed URL object too


def test_mask_url_when_given_a_libpq_key_value_string_shows_nothing_of_it() -> None:
    assert mask_url("host=db user=u password=S3cr3t-kv") == "<unparsable database URL>"


def test_secret_query_keys_are_recognised_case_insensitively_and_with_dashes() -> None:
    for key in SECRET_QUERY_KEYS:
        assert is_secret_query_key(key.upper()) and is_secret_query_key(key.replace("_", "-"))
    assert is_secret_query_key("client_secret") and is_secret_query_key("ssl-password")
    assert not any(is_secret_query_key(k) for k in ("sslmode", "host", "application_name",
                                                    "connect_timeout", "options"))


def test_mask_urls_in_text_when_text_holds_urls_masks_secrets_and_keeps_the_rest() -> None:
    text = ("cannot reach postgresql://u:S3cr3t-a@db/ij?password=S3cr3t-b, "
            "see https://docs.example/x and host=db password=S3cr3t-kv")
    out = mask_urls_in_text(text)
    assert_no_trace(out, "S3cr3t-a", "S3cr3t-b", "S3cr3t-kv")
    assert "postgresql://u:***@db/ij?password=***" in out and "https://docs.example/x" in out


def test_unreachable_database_error_when_the_password_is_a_query_parameter_masks_it() -> None:
    url = "postgresql://u:S3cr3t-a@127.0.0.1:1/ij?password=S3cr3t-b&sslmode=disable"
    with pytest.raises(DatabaseUnreachable) as caught:
        create_db_engine(url)
    message = str(caught.value)
    assert "postgresql://u:***@127.0.0.1:1/ij?password=***&sslmode=disable" in message
    assert_no_trace(message, "S3cr3t-a", "S3cr3t-b")


def test_unreachable_database_error_when_the_password_has_a_raw_at_sign_withholds_it() -> None:
    with pytest.raises(DatabaseUnreachable) as caught:
        create_db_engine("postgresql://u:S3cr3t-p@1@127.0.0.1:1/ij")
    assert "S3cr3t" not in str(caught.value) and "%40" in str(caught.value)


def test_settings_masked_when_urls_carry_secrets_masks_every_url_setting() -> None:
    settings = Settings.from_env({
        "INTRADAY_JULES_DATABASE_URL": "postgresql://u:S3cr3t-a@db/ij?password=S3cr3t-b",
        "INTRADAY_JULES_PUSHGATEWAY_URL": "http://ops:S3cr3t-c@push:9091",
        "INTRADAY_JULES_AV_BASE_URL": "https://av.example/query?apikey=S3cr3t-d"})
    shown = str(settings.masked())
    assert_no_trace(shown, "S3cr3t-a", "S3cr3t-b", "S3cr3t-c", "S3cr3t-d")
    assert settings.masked()["pushgateway_url"]["value"] == "http://ops:***@push:9091"


def test_log_records_when_they_carry_a_url_with_a_password_are_masked(
        caplog: pytest.LogCaptureFixture) -> None:
    from intraday_jules.observability.logging import install_redaction

    install_redaction()
    url = make_url("postgresql://u:S3cr3t-a@db/ij?password=S3cr3t-b")
    with caplog.at_level(logging.INFO, logger="intraday_jules"):
        logging.getLogger("intraday_jules.test").info("opening %s", url)
        logging.getLogger("intraday_jules.test").info(
            "raw postgresql://u:S3cr3t-c@db/ij?token=S3cr3t-d")
    assert_no_trace(caplog.text, "S3cr3t-a", "S3cr3t-b", "S3cr3t-c", "S3cr3t-d")
    assert "postgresql://u:***@db/ij?password=***" in caplog.text


# --- property -------------------------------------------------------------------------------
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=10)
_secret = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0,
                  max_size=16).map(lambda s: SECRET + s)
_secret_key = st.sampled_from([*sorted(SECRET_QUERY_KEYS), "client_secret", "ssl-password",
                               "access_token"])
_case = st.sampled_from([str.lower, str.upper, str.title])


@st.composite
def urls_with_secrets(draw: st.DrawFn) -> tuple[str, list[str]]:
    scheme = draw(st.sampled_from(["postgresql", "postgresql+psycopg", "timescaledb", "mysql",
                                   "http", "https"]))
    secrets: list[str] = []
    userinfo = ""
    if draw(st.booleans()):
        user = draw(_word)
        password = draw(_secret)
        secrets.append(password)
        encoded = quote(password, safe="") if draw(st.booleans()) else _raw_safe(password)
        userinfo = f"{user}:{encoded}@"
    host = draw(_word) + draw(st.sampled_from(["", ":5432", ".example.org:6543"]))
    database = draw(_word)
    params = []
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            value = draw(_secret)
            secrets.append(value)
            key = draw(_case)(draw(_secret_key))
            if draw(st.booleans()):  # percent-encode the key's first letter
                key = f"%{ord(key[0]):02X}{key[1:]}"
            params.append(f"{key}={quote_plus(value)}")
        else:
            params.append(f"{draw(st.sampled_from(['sslmode', 'application_name']))}="
                          f"{draw(_word)}")
    assume(secrets)
    query = f"?{'&'.join(params)}" if params else ""
    return f"{scheme}://{userinfo}{host}/{database}{query}", secrets


def _raw_safe(password: str) -> str:
    """A password written without encoding, as users do; only what ends the URL's userinfo
    unambiguously for any parser ('/', '?', '#' and '%') is encoded, '@' and ':' stay raw."""
    return "".join(quote(c, safe="") if c in "/?#%" or not c.isprintable() or c.isspace()
                   else c for c in password)


@settings(max_examples=400, deadline=None)
@given(urls_with_secrets())
def test_mask_url_property_no_generated_secret_survives_masking(
        case: tuple[str, list[str]]) -> None:
    url, secrets = case
    masked = mask_url(url)
    assert_no_trace(masked, *secrets)
    assert_no_trace(mask_url(mask_url(url)), *secrets)  # masking is stable
    assert_no_trace(mask_urls_in_text(f"error at {url} (retrying)"), *secrets)
    if masked != "<unparsable database URL>":
        assert masked.startswith(url.split("://")[0] + "://")
