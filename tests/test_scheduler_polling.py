"""The polling policy with an injected clock: adaptive interval, back-off per error kind, trust."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from archive.db.models import POLL_ERROR_KINDS
from archive.errors import ConfigError
from scheduler.polling import Decisions, Outcome, PollPolicy, decide
from syndicrawl.settings import load_settings

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
WEIGHTS = {"dns": 3.0, "connection": 2.0, "timeout": 1.0, "http_4xx": 3.0, "http_5xx": 1.0, "parse": 2.0,
           "blocked": 3.0, "process": 1.0, "address": 3.0}
POLICY = PollPolicy(min_interval=60, max_interval=3600, faster=0.5, slower=1.5, jitter=0.0, weights=WEIGHTS,
                    trust_after=2, audit_every=4)
RNG = random.Random(5)


def ok(at: datetime, new: int = 0, **fields: object) -> Outcome:
    return Outcome(polled_at=at, status=200, new_entries=new, **fields)  # type: ignore[arg-type]


def error(at: datetime, kind: str, retry_after: float | None = None) -> Outcome:
    return Outcome(polled_at=at, status=None, error_kind=kind, retry_after=retry_after)


def wait_of(before: Decisions, outcome: Outcome, policy: PollPolicy = POLICY, **kw: object) -> tuple[Decisions, float]:
    after = decide(policy, before, outcome, RNG, has_validators=bool(kw.get("has_validators", True)))
    assert after.next_poll_at is not None
    return after, (after.next_poll_at - outcome.polled_at).total_seconds()


def test_defaults_make_a_valid_policy() -> None:
    policy = PollPolicy.from_settings(load_settings(env={}))
    assert policy.min_interval == 300 and policy.max_interval == 86400
    assert set(policy.weights) == set(POLL_ERROR_KINDS)


def test_a_feed_with_new_entries_is_polled_faster_and_a_quiet_one_slower_within_bounds() -> None:
    state, now = Decisions(interval=600), T0
    waits = []
    for _ in range(5):
        state, wait = wait_of(state, ok(now, new=3))
        waits.append(wait)
        now += timedelta(seconds=wait)
    assert waits == [300, 150, 75, 60, 60]  # halves, down to the minimum
    waits = []
    for _ in range(12):
        state, wait = wait_of(state, ok(now, new=0))
        waits.append(wait)
        now += timedelta(seconds=wait)
    assert waits[:3] == [90, 135, 202.5]  # grows by half each quiet poll
    assert waits[-3:] == [pytest.approx(60 * 1.5**10), 3600, 3600]  # up to the maximum, never beyond
    assert waits == sorted(waits)


def test_a_new_feed_starts_at_the_minimum() -> None:
    assert wait_of(Decisions(), ok(T0, new=1))[1] == 60


@pytest.mark.parametrize("kind", POLL_ERROR_KINDS)
def test_back_off_by_error_kind_grows_to_the_maximum_and_never_drops_the_feed(kind: str) -> None:
    state, now = Decisions(interval=100), T0
    waits = []
    for _ in range(12):
        state, wait = wait_of(state, error(now, kind))
        waits.append(wait)
        now += timedelta(seconds=wait)
    weight = WEIGHTS[kind]
    assert waits[0] == min(3600, 100 * 2**weight)
    assert waits[1] == min(3600, 100 * 2 ** (2 * weight))
    assert waits == sorted(waits) and waits[-1] == 3600  # slowed to the maximum, still polled
    assert state.error_score == pytest.approx(12 * weight) and state.interval == 100
    # one success: the score is forgotten, the interval goes on from where it was
    state, wait = wait_of(state, ok(now, new=1))
    assert state.error_score == 0 and wait == 60 and state.next_poll_at == now + timedelta(seconds=60)


def test_a_feed_down_for_thousands_of_polls_waits_the_maximum() -> None:
    state, wait = wait_of(Decisions(interval=100, error_score=3000.0), error(T0, "dns"))
    assert wait == 3600 and state.error_score == 3003.0


def test_heavier_error_kinds_wait_longer() -> None:
    first = {kind: wait_of(Decisions(interval=60), error(T0, kind))[1] for kind in POLL_ERROR_KINDS}
    assert first["dns"] > first["connection"] > first["timeout"]
    assert first["http_4xx"] > first["http_5xx"]


def test_retry_after_is_honoured_up_to_the_maximum() -> None:
    assert wait_of(Decisions(interval=60), error(T0, "http_5xx", retry_after=1000))[1] == 1000
    assert wait_of(Decisions(interval=60), error(T0, "http_4xx", retry_after=10))[1] == 480  # back-off was longer
    assert wait_of(Decisions(interval=60), error(T0, "http_5xx", retry_after=99999))[1] == 3600
    jittery = replace(POLICY, jitter=0.5)
    waits = {wait_of(Decisions(interval=60), error(T0, "http_5xx", retry_after=1000), jittery)[1] for _ in range(50)}
    assert min(waits) >= 1000  # jitter never polls before the server asked


def test_jitter_spreads_feeds_that_would_poll_together() -> None:
    policy = replace(POLICY, jitter=0.1)
    rng = random.Random(42)
    times = [decide(policy, Decisions(interval=400), ok(T0), rng, has_validators=True).next_poll_at for _ in range(20)]
    waits = [(t - T0).total_seconds() for t in times if t is not None]
    assert len(set(waits)) == 20
    assert all(540 <= w <= 660 for w in waits)  # 600 +/- 10%
    at_max = [decide(policy, Decisions(interval=3600), ok(T0), rng, has_validators=True) for _ in range(20)]
    waits = [(d.next_poll_at - T0).total_seconds() for d in at_max if d.next_poll_at]
    assert len(set(waits)) == 20 and all(3240 <= w <= 3600 for w in waits)


def _trusted() -> Decisions:
    state = Decisions()
    for _ in range(2):
        state = decide(POLICY, state, ok(T0, same_validators=False, same_body=False), RNG, has_validators=True)
    return state


def test_validators_are_trusted_after_they_prove_right_then_audited() -> None:
    state = decide(POLICY, Decisions(), ok(T0), RNG, has_validators=True)  # first fetch: nothing to compare
    assert (state.trust, state.conditional) == ("unverified", False)
    state = decide(POLICY, state, ok(T0, same_validators=True, same_body=True), RNG, has_validators=True)
    assert (state.trust, state.conditional) == ("unverified", False)
    state = decide(POLICY, state, ok(T0, same_validators=False, same_body=False), RNG, has_validators=True)
    assert (state.trust, state.conditional) == ("trusted", True)
    sends = []
    for _ in range(6):
        state = decide(POLICY, state, Outcome(T0, 304, conditional=True), RNG, has_validators=True)
        sends.append(state.conditional)
    # audit_every=4: after three conditional polls the fourth is unconditional
    assert sends == [True, True, False, False, False, False]
    state = decide(POLICY, state, ok(T0, same_validators=True, same_body=True), RNG, has_validators=True)
    assert (state.trust, state.conditional) == ("trusted", True)


def test_no_validators_means_no_conditional_get() -> None:
    state = _trusted()
    assert not decide(POLICY, state, ok(T0), RNG, has_validators=False).conditional


@pytest.mark.parametrize(
    ("outcome", "why"),
    [
        (ok(T0, same_validators=True, same_body=False), "same ETag, new body: a 304 would hide new entries"),
        (ok(T0, same_validators=False, same_body=True), "validators change without the body: 304 never comes"),
        (ok(T0, conditional=True, same_validators=False, same_body=True), "200 with the body unchanged"),
    ],
)
def test_a_server_whose_validators_lie_is_distrusted_for_good(outcome: Outcome, why: str) -> None:
    state = decide(POLICY, _trusted(), outcome, RNG, has_validators=True)
    assert (state.trust, state.conditional) == ("distrusted", False), why
    for proof in (ok(T0, same_validators=True, same_body=True), ok(T0, same_validators=False, same_body=False)):
        state = decide(POLICY, state, proof, RNG, has_validators=True)
        assert (state.trust, state.conditional) == ("distrusted", False)


def test_errors_leave_trust_alone() -> None:
    state = decide(POLICY, _trusted(), error(T0, "timeout"), RNG, has_validators=True)
    assert (state.trust, state.conditional) == ("trusted", True)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_interval": 100, "max_interval": 50}, "poll_min_interval (100) must be > 0 and <= poll_max_interval (50)"),
        ({"faster": 1.5}, "poll_faster must be in (0, 1]"),
        ({"jitter": 1.0}, "poll_jitter must be in [0, 1)"),
        ({"audit_every": 1}, "audit_every >= 2"),
    ],
)
def test_bad_policy_settings_are_one_clear_error(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        replace(POLICY, **changes)
