"""Output conventions shared by every command.

- Human output goes through Rich; ``--json`` prints exactly one JSON object on stdout (and
  nothing else there), so scripts can pipe it.
- Errors are one clear line plus a hint on stderr, with a non-zero exit code (``CliError``);
  under ``--json`` stdout also gets ``{"error": ..., "hint": ...}`` (``error_json``), so a
  script reading stdout learns why instead of reading nothing.
- Anything that can take more than a few seconds shows a progress bar (on stderr, hidden
  under ``--json`` output).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # errors stay one line, never wrapped

JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object (for scripts).")


class CliError(Exception):
    """An expected failure: printed as one line plus a hint, exit code ``code``."""

    def __init__(self, message: str, hint: str | None = None, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


# Characters a terminal acts on instead of printing: C0 controls (ESC, CR, BS...), DEL, C1
# controls, the line/paragraph separators and the bidirectional overrides/isolates (which can
# make an error line read differently from what it says).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                      r"\u202a-\u202e\u2066-\u2069]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_control(text: str, keep: str = "") -> str:
    """``text`` with every terminal control character written as ``\\x1b`` / ``\\u202e``
    (those in ``keep``, e.g. a traceback's newlines, stay)."""
    return _CONTROL.sub(lambda m: m.group(0) if m.group(0) in keep else _escaped(m), text)


def safe_text(text: str, keep: str = "") -> str:
    """What the CLI may print of an error text: URL secrets masked (``mask_url``), registered
    secret values and ``apikey=``-style parameters redacted, control characters escaped."""
    from intraday_jules.secrets import redact
    from intraday_jules.url_masking import mask_urls_in_text

    return escape_control(redact(mask_urls_in_text(text)), keep)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_json(payload: Any) -> str:
    return json.dumps(payload, default=_default, sort_keys=False)


def json_requested(args: Sequence[str]) -> bool:
    """Whether a command line asks for ``--json`` (an option: before a ``--`` that ends the
    options). Read from the arguments, not the parsed flag, so a usage error that stops the
    parsing still answers in JSON."""
    options = args[:list(args).index("--")] if "--" in args else args
    return "--json" in options


def error_json(message: str, hint: str | None) -> str:
    """The one JSON object an error prints on stdout under ``--json`` (texts ``safe_text``)."""
    return to_json({"error": safe_text(message),
                    "hint": safe_text(hint) if hint is not None else None})


def emit(payload: Any, as_json: bool, render: Callable[[Console], None]) -> None:
    """Print ``payload`` as one JSON object, or call ``render`` for human output."""
    if as_json:
        sys.stdout.write(to_json(payload) + "\n")
        sys.stdout.flush()
    else:
        render(console)


@contextmanager
def progress(enabled: bool = True) -> Iterator[Progress]:
    """A Rich progress bar on stderr; disabled (no output) when ``enabled`` is False."""
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        disable=not enabled,
        transient=False,
    )
    with bar:
        yield bar


def track(items: Iterable[T], description: str, total: int | None = None,
          enabled: bool = True) -> Iterator[T]:
    with progress(enabled) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
