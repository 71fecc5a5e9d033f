"""Which torch device trains: ``INTRADAY_JULES_DEVICE`` = auto | cpu | cuda (default cpu).

CPU is the default because it is measured faster for this policy size (docs/training.md,
"Device"): an LSTM of 64-128 units on a batch of 16 observations per env step is a few
microseconds of arithmetic, so every rollout step on a GPU would pay a host-to-device copy and
a kernel launch per layer for almost no work. ``auto`` picks CUDA when torch sees one.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch as th

DeviceChoice = Literal["auto", "cpu", "cuda"]
DEVICE_CHOICES: tuple[str, ...] = get_args(DeviceChoice)


class DeviceUnavailableError(RuntimeError):
    """CUDA was asked for explicitly but torch sees no CUDA device."""


def parse_device(text: str) -> DeviceChoice:
    """``auto``, ``cpu`` or ``cuda`` (case and spaces ignored); anything else is refused."""
    value = text.strip().lower()
    if value not in DEVICE_CHOICES:
        raise ValueError(f"expected one of {', '.join(DEVICE_CHOICES)}, got {text!r}")
    return value  # type: ignore[return-value]


def resolve_device(choice: str) -> str:
    """The torch device for ``choice``: ``auto`` -> cuda if available else cpu; ``cuda``
    without a CUDA device is an error, never a silent fall-back to the CPU."""
    choice = parse_device(choice)
    cuda = th.cuda.is_available()
    if choice == "cuda" and not cuda:
        raise DeviceUnavailableError(
            "device 'cuda' requested (INTRADAY_JULES_DEVICE=cuda) but torch sees no CUDA "
            f"device (torch {th.__version__}, built for CUDA {th.version.cuda}); use "
            "INTRADAY_JULES_DEVICE=cpu or auto")
    if choice == "auto":
        return "cuda" if cuda else "cpu"
    return choice
