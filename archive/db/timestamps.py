"""Capture times as users and tools write them: 14-digit timestamps, ISO 8601 dates, HTTP dates.

Padding follows warcio (and so pywb): ``2016`` means from 2016-01-01 00:00:00 when it
starts a range and up to 2016-12-31 23:59:59 when it ends one. Everything returned is an
aware UTC datetime; a time without a zone is taken as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from warcio.timeutils import PAD_14_DOWN, PAD_14_UP, pad_timestamp

from archive.errors import QueryError

_DIGITS = re.compile(r"\d{4,14}")
TIME_HELP = "a date (2016-11-03), an ISO 8601 time (2016-11-03T12:00:00Z) or a timestamp (20161103120000)"


def timestamp14(moment: datetime) -> str:
    """The 14-digit CDX timestamp (second precision, UTC) of an aware datetime."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def parse_timestamp(value: str, *, end: bool = False) -> datetime:
    """Parse a 4- to 14-digit timestamp, padded down (or up, for the ``end`` of a range)."""
    if not _DIGITS.fullmatch(value):
        raise QueryError(f"bad timestamp {value!r}: give 4 to 14 digits, YYYY[MM[DD[hh[mm[ss]]]]]")
    padded = pad_timestamp(value, PAD_14_UP if end else PAD_14_DOWN)
    if end and len(value) < 8:
        # warcio pads a month up to day 31; step back to the month's real last day.
        padded = _clamp_day(padded)
    try:
        return datetime.strptime(padded, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise QueryError(f"bad timestamp {value!r}: not a real date and time") from None


def _clamp_day(padded: str) -> str:
    for day in ("31", "30", "29", "28"):
        candidate = padded[:6] + day + padded[8:]
        try:
            datetime.strptime(candidate, "%Y%m%d%H%M%S")
        except ValueError:
            continue
        return candidate
    return padded


def parse_time(value: str, *, end: bool = False) -> datetime:
    """Parse ``--at``, ``--from`` or ``--to``: 4 to 14 digits, or an ISO 8601 date or time.

    As the ``end`` of a range, a partial time means its last moment: ``2016-11-03`` or
    ``20161103`` runs to 23:59:59 that day.
    """
    text = value.strip()
    if text.isdigit():
        return parse_timestamp(text, end=end)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(f"bad time {value!r}: give {TIME_HELP}") from None
    if end and len(text) == 10:  # a date alone
        moment = moment.replace(hour=23, minute=59, second=59)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def http_date(moment: datetime) -> str:
    """RFC 7231 date, as Memento-Datetime and link-format ``datetime`` attributes need."""
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def parse_http_date(value: str) -> datetime:
    """Parse an ``Accept-Datetime`` header (an RFC 7231 date)."""
    try:
        moment = parsedate_to_datetime(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (TypeError, ValueError, OverflowError):  # overflow: a zone pushing year 9999 or 1 out of range
        raise QueryError(f"bad Accept-Datetime {value!r}: give an HTTP date such as 'Thu, 03 Nov 2016 12:00:00 GMT'") from None
