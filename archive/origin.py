"""Which copy of an article is the origin, and which copy each repost was taken from.

Pure functions over the members of one cluster, so every decision can be tested and
explained. The evidence, strongest first:

1. explicit attribution ("originally appeared at", "first appeared in", "Read more at",
   "Source:") or a canonical link naming another member's site: that member is where it
   came from, and this one is not the origin whatever its date (author blogs archive
   their columns backdated to the day of first publication);
2. publication dates more than a day apart (closer than that, time zones and date-only
   themes make the order unreliable);
3. the author's own site (source kind ``origin``) before a repost site, and the member
   whose author the reposts' "by NAME" lines name;
4. any date difference, then the first capture time (sites whose theme shows no date).

A copy's parent is the most similar member ranked before it (a repost of a repost keeps
its parent's header line and edits), unless attribution names one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

#: Lines that say where a text came from; group "where" is the named place.
ATTRIBUTION = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\b(?:originally|first)\s+(?:appeared|published|posted|ran)\s+(?:at|in|on|by)\s+(?P<where>.+)",
        r"\bread (?:more|the rest|the full article) (?:at|on)\s+(?P<where>.+)",
        r"^\s*(?:source|via|reprinted from|republished from)\s*:\s*(?P<where>.+)",
        r"\bis reprinted (?:with permission )?from\s+(?P<where>.+)",
    )
)
_BYLINE = re.compile(r"^\s*by\s+(?P<name>[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){0,3})\s*$", re.IGNORECASE)
_KIND_RANK = {"origin": 0, "unknown": 1, "repost": 2}
#: Dates closer than this do not order two members by themselves.
DATE_SLACK = timedelta(hours=36)


@dataclass(frozen=True)
class Member:
    """One article of a cluster, with what is known about where and when it appeared."""

    article_id: int
    url: str
    source: str | None
    kind: str
    sitename: str | None
    author: str | None
    published: datetime | None
    published_source: str | None
    first_seen: datetime
    canonical_url: str | None
    text: str

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


@dataclass
class Placement:
    """Where a member sits in the tree and why."""

    article_id: int
    relation: str
    parent_id: int | None = None
    similarity: float | None = None
    evidence: list[str] = field(default_factory=list)


def parse_published(value: str | None) -> datetime | None:
    """An ISO date or datetime as aware UTC (a date alone is taken as midnight UTC)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def attribution(text: str) -> str | None:
    """The place a text says it came from, if one of its lines says so."""
    for line in text.splitlines():
        for pattern in ATTRIBUTION:
            found = pattern.search(line)
            if found:
                return found.group("where").strip(" .:;,-–—()") or line.strip()
    return None


def bylines(text: str, lines: int = 6) -> set[str]:
    """Names in "by NAME" lines at the top of a text (a repost's credit to the author)."""
    names = set()
    for line in text.splitlines()[:lines]:
        found = _BYLINE.match(line)
        if found:
            names.add(_name(found.group("name")))
    return names


def _name(value: str) -> str:
    return " ".join(value.casefold().split())


def _names_member(phrase: str, member: Member) -> bool:
    """Does an attribution phrase point at this member's site?"""
    phrase = phrase.casefold()
    candidates = {member.host, member.url.casefold()}
    if member.sitename:
        candidates.add(member.sitename.casefold())
    if member.source:
        candidates.add(member.source.casefold())
    if member.host.startswith("www."):
        candidates.add(member.host[4:])
    return any(c and len(c) >= 3 and c in phrase for c in candidates)


def _pointed_at(member: Member, others: Sequence[Member]) -> tuple[Member | None, str | None]:
    """The member this one says it came from (attribution or a cross-site canonical link)."""
    if member.canonical_url and urlsplit(member.canonical_url).hostname not in (None, member.host):
        for other in others:
            if other.url == member.canonical_url:
                return other, f"canonical link to {other.url}"
    phrase = attribution(member.text)
    if phrase:
        for other in others:
            if other is not member and _names_member(phrase, other):
                return other, f"says it originally appeared at {phrase!r}"
        return None, f"says it originally appeared at {phrase!r} (not archived)"
    return None, None


def _compare(a: Member, b: Member, cited: dict[int, str | None], byline_names: set[str]) -> int:
    """Negative when ``a`` is more likely than ``b`` to be the origin."""
    if bool(cited[a.article_id]) != bool(cited[b.article_id]):
        return 1 if cited[a.article_id] else -1
    if a.published and b.published and abs(a.published - b.published) > DATE_SLACK:
        return -1 if a.published < b.published else 1
    if _KIND_RANK.get(a.kind, 1) != _KIND_RANK.get(b.kind, 1):
        return _KIND_RANK.get(a.kind, 1) - _KIND_RANK.get(b.kind, 1)
    a_named = bool(a.author) and _name(a.author or "") in byline_names
    b_named = bool(b.author) and _name(b.author or "") in byline_names
    if a_named != b_named:
        return -1 if a_named else 1
    if a.published and b.published and a.published != b.published:
        return -1 if a.published < b.published else 1
    if a.first_seen != b.first_seen:
        return -1 if a.first_seen < b.first_seen else 1
    return a.article_id - b.article_id


def _origin_evidence(origin: Member, runner_up: Member | None, cited: dict[int, str | None]) -> list[str]:
    evidence = []
    if origin.published:
        evidence.append(f"published {origin.published:%Y-%m-%d %H:%M} UTC ({origin.published_source})")
    else:
        evidence.append("no publication date")
    evidence.append(f"site kind {origin.kind}")
    evidence.append(f"first captured {origin.first_seen:%Y-%m-%d %H:%M:%S} UTC")
    if runner_up is not None and cited[runner_up.article_id]:
        evidence.append(f"{runner_up.url} {cited[runner_up.article_id]}")
    return evidence


def place(members: Sequence[Member], similarity: Callable[[Member, Member], float]) -> list[Placement]:
    """Order a cluster's members from the origin and give each copy its parent, with evidence."""
    pointed = {m.article_id: _pointed_at(m, members) for m in members}
    cited = {article_id: reason for article_id, (_, reason) in pointed.items()}
    byline_names = set().union(*(bylines(m.text) for m in members))
    ordered = sorted(members, key=functools.cmp_to_key(lambda a, b: _compare(a, b, cited, byline_names)))
    origin = ordered[0]
    placements = [
        Placement(
            origin.article_id,
            "origin",
            evidence=_origin_evidence(origin, ordered[1] if len(ordered) > 1 else None, cited),
        )
    ]
    for position, member in enumerate(ordered[1:], 1):
        earlier = ordered[:position]
        target, reason = pointed[member.article_id]
        if target is not None and target in earlier:
            parent, evidence = target, [reason or ""]
            score = similarity(member, target)
        else:
            scores = [(similarity(member, other), -rank, other) for rank, other in enumerate(earlier)]
            score, _, parent = max(scores, key=lambda item: (round(item[0], 3), item[1]))
            evidence = [f"most similar earlier copy ({score:.2f})"]
            if parent is not origin:
                evidence.append(f"closer to it than to the origin ({similarity(member, origin):.2f})")
            if reason:
                evidence.append(reason)
        if member.published and parent.published:
            evidence.append(
                f"published {member.published:%Y-%m-%d %H:%M} after {parent.published:%Y-%m-%d %H:%M} UTC"
            )
        placements.append(Placement(member.article_id, "copy", parent.article_id, round(score, 4), evidence))
    return placements
