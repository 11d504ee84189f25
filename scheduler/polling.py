"""When to poll a feed next: adaptive interval, back-off by error kind, conditional-GET trust.

Pure functions of a feed's earlier decisions, the outcome of one fetch and a random source;
the clock is the outcome's own time, so tests drive every path with fixed times and a seeded
``random.Random``. The model is Media Cloud's rss-fetcher: a feed is polled more often while
it publishes and less while it is quiet, a failing feed is slowed (more for errors that
rarely fix themselves soon), never dropped, and a server's ETag / Last-Modified are used
only after they proved to change exactly when the feed does.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from archive.db.models import POLL_ERROR_KINDS
from archive.errors import ConfigError

if TYPE_CHECKING:
    from syndicrawl.settings import Settings


@dataclass(frozen=True)
class PollPolicy:
    """The knobs of ``[scheduler]`` in config/defaults.toml, checked once."""

    min_interval: float
    max_interval: float
    faster: float
    slower: float
    jitter: float
    weights: Mapping[str, float]
    trust_after: int
    audit_every: int

    def __post_init__(self) -> None:
        if not 0 < self.min_interval <= self.max_interval:
            raise ConfigError(
                f"[scheduler] poll_min_interval ({self.min_interval}) must be > 0 and <= "
                f"poll_max_interval ({self.max_interval})"
            )
        if not (0 < self.faster <= 1 <= self.slower):
            raise ConfigError("[scheduler] poll_faster must be in (0, 1] and poll_slower >= 1")
        if not 0 <= self.jitter < 1:
            raise ConfigError("[scheduler] poll_jitter must be in [0, 1)")
        if self.trust_after < 1 or self.audit_every < 2:
            raise ConfigError("[scheduler] trust_after must be >= 1 and audit_every >= 2")

    @classmethod
    def from_settings(cls, settings: Settings) -> PollPolicy:
        return cls(
            min_interval=settings.poll_min_interval,
            max_interval=settings.poll_max_interval,
            faster=settings.poll_faster,
            slower=settings.poll_slower,
            jitter=settings.poll_jitter,
            weights={kind: getattr(settings, f"backoff_{kind}") for kind in POLL_ERROR_KINDS},
            trust_after=settings.trust_after,
            audit_every=settings.audit_every,
        )


@dataclass(frozen=True)
class Decisions:
    """What the daemon decided for a feed (the decision columns of ``archive.db.models.FeedPolling``).

    ``interval`` None: never decided, the minimum applies. ``conditional``: the next poll
    sends the stored validators.
    """

    interval: float | None = None
    error_score: float = 0.0
    next_poll_at: datetime | None = None
    trust: str = "unverified"
    trust_checks: int = 0
    polls_since_audit: int = 0
    conditional: bool = False


@dataclass(frozen=True)
class Outcome:
    """One fetch of a feed, as recorded (``archive.db.models.FeedPollOutcome``).

    ``same_validators`` / ``same_body``: a 200 compared with the previous 200 (None: nothing
    to compare). ``conditional``: the request carried validators.
    """

    polled_at: datetime
    status: int | None
    error_kind: str | None = None
    retry_after: float | None = None
    conditional: bool = False
    new_entries: int = 0
    same_validators: bool | None = None
    same_body: bool | None = None


def _trust(policy: PollPolicy, before: Decisions, outcome: Outcome) -> tuple[str, int]:
    """Distrust a server whose validators do not follow its body; trust one after enough proofs.

    Same validators with another body: a conditional request would have got a 304 for a
    changed feed. A 200 with the body unchanged although validators were sent: the server
    ignores them, so sending them saves nothing.
    """
    trust, checks = before.trust, before.trust_checks
    if outcome.status != 200 or trust == "distrusted":
        return trust, checks
    if outcome.conditional and outcome.same_body:
        return "distrusted", checks
    if outcome.same_validators is None:
        return trust, checks
    if outcome.same_validators != outcome.same_body:
        return "distrusted", checks
    checks += 1
    if trust == "unverified" and checks >= policy.trust_after:
        trust = "trusted"
    return trust, checks


def _clamp(policy: PollPolicy, seconds: float) -> float:
    return min(policy.max_interval, max(policy.min_interval, seconds))


#: Back-off doublings past which every interval is over the maximum (a day's feed down for
#: 340 polls in a row reached a score whose power of two overflows a float).
_DOUBLINGS = 64


def decide(
    policy: PollPolicy, before: Decisions, outcome: Outcome, rng: random.Random, *, has_validators: bool
) -> Decisions:
    """The decisions after ``outcome``; ``has_validators``: the feed's last 200 gave an ETag or Last-Modified."""
    interval = before.interval if before.interval is not None else policy.min_interval
    if outcome.error_kind is None:
        trust, checks = _trust(policy, before, outcome)
        polls_since_audit = before.polls_since_audit + 1 if outcome.conditional else 0
        interval = _clamp(policy, interval * (policy.faster if outcome.new_entries else policy.slower))
        score = 0.0
        wait = floor = interval
    else:
        trust, checks, polls_since_audit = before.trust, before.trust_checks, before.polls_since_audit
        score = before.error_score + policy.weights[outcome.error_kind]
        floor = min(policy.max_interval, outcome.retry_after or 0.0)
        wait = max(floor, min(policy.max_interval, interval * 2 ** min(score, _DOUBLINGS)))
    low = max(policy.min_interval, floor if outcome.error_kind else 0.0, wait * (1 - policy.jitter))
    high = min(policy.max_interval, wait * (1 + policy.jitter))
    delay = rng.uniform(low, high) if low < high else wait
    return replace(
        before,
        interval=interval,
        error_score=score,
        next_poll_at=outcome.polled_at + timedelta(seconds=delay),
        trust=trust,
        trust_checks=checks,
        polls_since_audit=polls_since_audit,
        conditional=trust == "trusted" and has_validators and polls_since_audit + 1 < policy.audit_every,
    )
