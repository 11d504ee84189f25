"""Apply recorded feed fetches to their feeds' polling state, through ``scheduler.polling``."""

from __future__ import annotations

import random
from dataclasses import asdict, fields
from typing import TYPE_CHECKING, TypeVar

from archive.db import feedpolls
from scheduler.polling import Decisions, Outcome, PollPolicy, decide

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

T = TypeVar("T")


def _from_row(cls: type[T], row: object) -> T:
    """The dataclass ``cls`` filled from the same-named columns of ``row``."""
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def apply_outcomes(s: Session, policy: PollPolicy, rng: random.Random) -> int:
    """Decide for every queued outcome, oldest first; returns how many were applied.

    Several outcomes of one feed (a poll, then a manual crawl) are applied in order, each
    on the decisions the previous one left.
    """
    pending = feedpolls.pending_outcomes(s)
    for row, state in pending:
        before, outcome = _from_row(Decisions, state), _from_row(Outcome, row)
        after = decide(policy, before, outcome, rng, has_validators=bool(state.etag or state.last_modified))
        feedpolls.apply_decisions(s, state, row, asdict(after))
    return len(pending)
