"""Masking secrets in URLs and in free text: passwords in the userinfo, secret query
parameters, libpq ``password=`` pairs.

Below ``secrets`` and ``db`` in the layers (docs/architecture.md): the secrets helper redacts
log lines with it and the database layer masks every URL it shows, so neither needs the other.
"""

from __future__ import annotations

import re
from urllib.parse import quote_plus

from sqlalchemy.engine import URL, make_url

#: Query parameters whose values ``mask_url`` hides, compared case-insensitively after URL
#: decoding, with ``-`` read as ``_``: these names, and any name containing one of
#: ``SECRET_QUERY_PARTS``. libpq's own are ``password`` and ``sslpassword``; the rest are the
#: spellings drivers and vendors use for credentials. Documented in docs/secrets.md.
SECRET_QUERY_KEYS: frozenset[str] = frozenset({
    "password", "passwd", "pwd", "pass", "sslpassword", "secret", "token", "apikey",
    "api_key", "key", "access_key", "secret_key", "private_key", "auth", "authorization",
    "credential", "credentials"})
SECRET_QUERY_PARTS: tuple[str, ...] = ("password", "passwd", "secret", "token", "apikey",
                                       "api_key", "credential")
MASK = "***"
UNPARSABLE = "<unparsable database URL>"
# A URL inside free text (an error message, a log line): scheme://, then up to white space
# (not up to a quote or bracket: an unencoded password may hold one).
_URL_IN_TEXT = re.compile(r"(?<![\w+.-])[A-Za-z][A-Za-z0-9+.-]*://\S+")
_TRAILING = ".,:;!)]}'\""
# libpq key=value connection strings: password='it''s' or password=word
_KV_SECRET = re.compile(
    r"(?i)\b(password|passwd|pwd|sslpassword|secret|token|apikey|api_key)(\s*=\s*)"
    r"('(?:[^'\\]|\\.)*'|[^\s&;]+)")


def is_secret_query_key(name: str) -> bool:
    """True if a URL query parameter called ``name`` carries a credential (see above)."""
    key = name.strip().lower().replace("-", "_")
    return key in SECRET_QUERY_KEYS or any(part in key for part in SECRET_QUERY_PARTS)


def mask_url(url: str | URL) -> str:
    """The URL with every secret replaced by ***, safe for logs, errors and metadata.

    Masked: the password of the userinfo (``user:pw@``, also URL-encoded), the value of every
    secret query parameter (``is_secret_query_key``: ``?password=``, ``?sslpassword=``,
    ``?token=``...), and ``password=...`` inside any query value (a libpq key=value string).
    A password written with a raw ``@`` (unencoded) makes the split ambiguous: everything
    before the last ``@`` is then masked. A string that does not parse as a URL (a libpq
    key=value DSN, say) shows nothing of itself: it may be all secret.
    """
    raw = None if isinstance(url, URL) else str(url)
    try:
        parsed = url if isinstance(url, URL) else make_url(raw)  # type: ignore[arg-type]
    except Exception:  # an unparsable URL may itself contain a secret: show nothing of it
        return UNPARSABLE
    if raw is None and parsed.password is not None and "@" in f"{parsed.host}{parsed.database}":
        raw = parsed.render_as_string(hide_password=False)  # parsed from an ambiguous string
    if raw is not None and _ambiguous_userinfo(raw, parsed):
        scheme, _, rest = raw.partition("://")
        tail = mask_url(f"{scheme}://{rest.rsplit('@', 1)[1]}")
        if tail == UNPARSABLE:
            return UNPARSABLE
        return tail.replace("://", f"://{MASK}@", 1)
    return _render_masked(parsed)


def url_has_secrets(url: str | URL) -> bool:
    """True if ``mask_url`` would hide something of ``url`` (or cannot parse it)."""
    try:
        parsed = url if isinstance(url, URL) else make_url(str(url))
    except Exception:
        return True
    if parsed.password is not None and not _masked_already(str(parsed.password)):
        return True
    if not isinstance(url, URL) and _ambiguous_userinfo(str(url), parsed):
        return True
    return any((is_secret_query_key(k) and not _masked_already(v))
               or any(not _masked_already(m.group(3)) for m in _KV_SECRET.finditer(v))
               for k, values in parsed.query.items() for v in _values(values))


def _masked_already(value: str) -> bool:
    """Only asterisks (and trailing punctuation): what a mask left, nothing secret to hide."""
    return bool(value) and not value.strip("*" + _TRAILING) and value.startswith("*")


def url_secret_values(url: str | URL) -> list[str]:
    """The secret values a URL carries (its password, secret query values), for redaction."""
    try:
        parsed = url if isinstance(url, URL) else make_url(str(url))
    except Exception:
        return []
    found = [str(parsed.password)] if parsed.password else []
    for key, values in parsed.query.items():
        for value in _values(values):
            if is_secret_query_key(key) and value:
                found.append(value)
            found.extend(m.group(3).strip("'") for m in _KV_SECRET.finditer(value))
    return found


def mask_urls_in_text(text: str) -> str:
    """``text`` with every URL that carries a secret replaced by its ``mask_url`` form, and
    libpq-style ``password=...`` pairs masked; URLs without secrets are left as written."""
    def one(match: re.Match[str]) -> str:
        found = match.group(0)
        core = found.rstrip(_TRAILING)  # "...: reason", "(at URL)." punctuate, not the URL
        masked = mask_url(core) if url_has_secrets(core) else core
        return masked + found[len(core):]

    return _KV_SECRET.sub(_kv_masked, _URL_IN_TEXT.sub(one, text))


def _kv_masked(match: re.Match[str]) -> str:
    if _masked_already(match.group(3)):  # keep its punctuation ("password=***: reason")
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{MASK}"


def _values(values: str | tuple[str, ...]) -> tuple[str, ...]:
    return (values,) if isinstance(values, str) else tuple(values)


def _ambiguous_userinfo(raw: str, parsed: URL) -> bool:
    """A raw '@' after the userinfo: the password may have been split at the wrong '@'."""
    _, sep, rest = raw.partition("://")
    if not sep or "@" not in rest or rest.startswith("/"):
        return False
    return parsed.password is not None and "@" in rest.split("@", 1)[1]


def _render_masked(parsed: URL) -> str:
    base = parsed.set(query={}).render_as_string(hide_password=True)
    if not parsed.query:
        return base
    pairs = []
    for key in sorted(parsed.query):
        secret = is_secret_query_key(key)
        for value in _values(parsed.query[key]):
            shown = MASK if secret else quote_plus(
                _KV_SECRET.sub(_kv_masked, value),
                safe="*")
            pairs.append(f"{quote_plus(key)}={shown}")
    return f"{base}?{'&'.join(pairs)}"
