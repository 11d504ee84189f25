"""Apply recorded feed fetches to their feeds' polling state, through ``scheduler.polling``."""

from __future__ import annotations

import random
from dataclasses import asdict
from typing import TYPE_CHECKING

from archive import feedpolls
from scheduler.polling import Decisions, Outcome, PollPolicy, decide

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def apply_outcomes(s: Session, policy: PollPolicy, rng: random.Random) -> int:
    """Decide for every queued outcome, oldest first; returns how many were applied.

    Several outcomes of one feed (a poll, then a manual crawl) are applied in order, each
    on the decisions the previous one left.
    """
    pending = feedpolls.pending_outcomes(s)
    for row, state in pending:
        before = Decisions(
            interval=state.interval,
            error_score=state.error_score,
            next_poll_at=state.next_poll_at,
            trust=state.trust,
            trust_checks=state.trust_checks,
            polls_since_audit=state.polls_since_audit,
            conditional=state.conditional,
        )
        outcome = Outcome(
            polled_at=row.polled_at,
            status=row.status,
            error_kind=row.error_kind,
            retry_after=row.retry_after,
            conditional=row.conditional,
            new_entries=row.new_entries,
            same_validators=row.same_validators,
            same_body=row.same_body,
        )
        after = decide(policy, before, outcome, rng, has_validators=bool(state.etag or state.last_modified))
        feedpolls.apply_decisions(s, state, row, asdict(after))
    return len(pending)
