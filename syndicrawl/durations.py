"""Durations as people type them: ``30m``, ``2h``, ``1h30m``, ``45s``, ``1d``, ``1w``.

Written by hand: the format is five units and a regular expression, not worth a dependency
(pytimeparse and friends accept far more than a command line needs).
"""

from __future__ import annotations

import re

from archive.errors import ConfigError

UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
#: Shown without weeks, as every interval was before they could be typed: ``7d``.
_SHOWN = {unit: size for unit, size in UNITS.items() if unit != "w"}
_DURATION = re.compile(r"(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(text: str, where: str) -> int:
    """Seconds in ``text``; ConfigError naming ``where`` (e.g. ``--every``) if it is not a duration."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ConfigError(f"{where} {text!r}: not a duration; use e.g. 45s, 30m, 2h, 1h30m, 1d, 1w")
    seconds = sum(int(value) * unit for value, unit in zip(match.groups(), UNITS.values(), strict=True) if value)
    if seconds <= 0:
        raise ConfigError(f"{where} {text!r}: must be longer than 0s")
    return seconds


def format_duration(seconds: float) -> str:
    """``5400`` -> ``1h30m``; at most the two largest units, rounded to the second."""
    left = round(seconds)
    if left <= 0:
        return "0s"
    parts = []
    for unit, size in _SHOWN.items():
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts[:2])
