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

from archive.syndication import alignment, memo

#: Lines that say where a text came from; group "where" is the named place. The copier's own
#: credit ("Read more at", "Source:") comes first: "first appeared in" may be inherited
#: from the copy it was taken from, and names the first publication, not the parent.
#: Each is searched in the whole text at once (MULTILINE): "where" ends with its line.
_ATTRIBUTION_PATTERNS = (
    r"\bread (?:more|the rest|the full article) (?:at|on)[ \t]+(?P<where>.+)",
    r"^[ \t]*(?:source|via)[ \t]*:[ \t]*(?P<where>.+)",
    r"^[ \t]*(?:reprinted|republished|reposted) from[ \t]+(?P<where>.+)",
    r"\bis reprinted (?:with permission )?from[ \t]+(?P<where>.+)",
    r"\b(?:originally|first)[ \t]+(?:appeared|published|posted|ran)[ \t]+(?:at|in|on|by)[ \t]+(?P<where>.+)",
)
ATTRIBUTION = tuple(re.compile(pattern, re.IGNORECASE | re.MULTILINE) for pattern in _ATTRIBUTION_PATTERNS)
_ANY_ATTRIBUTION = re.compile(
    "|".join(f"(?:{pattern.replace('(?P<where>', '(')})" for pattern in _ATTRIBUTION_PATTERNS),
    re.IGNORECASE | re.MULTILINE,
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
    title: str | None = None
    #: Whether ``published`` gives the time of day, not only the day (then midnight UTC).
    timed: bool = False

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


#: A day's pages are published between its midnights in some time zone from UTC-12 to
#: UTC+14: a time within these bounds of a date-only day's midnight UTC may be of that day.
_DAY_STARTS, _DAY_ENDS = timedelta(hours=-14), timedelta(hours=36)


def on_the_day(day: datetime, moment: datetime) -> bool:
    """Whether ``moment`` may fall on the day that starts, in UTC, at ``day``."""
    return day + _DAY_STARTS <= moment < day + _DAY_ENDS


def published_order(a: Member, b: Member) -> int:
    """Negative when ``a`` was published before ``b``, positive after, 0 when their dates
    cannot tell: to the minute when both give a time, by day when one gives only a day.

    Pages often print only the day while their feeds or meta tags give the minute, and
    copies made the same day are ordered only by their times; a day alone says nothing
    about the hours within it, so a time inside that day (in any time zone) is a tie.
    """
    if a.published is None or b.published is None:
        return 0
    if a.timed != b.timed:
        day, moment = (b.published, a.published) if a.timed else (a.published, b.published)
        if on_the_day(day, moment):
            return 0
    return (a.published > b.published) - (a.published < b.published)


def parse_published(value: str | None) -> datetime | None:
    """An ISO date or datetime as aware UTC (a date alone is taken as midnight UTC)."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


#: A credit in a copy's header or footer line: "By AUTHOR, via SITE".
_VIA = re.compile(r"\bvia\s+(?P<where>[A-Z][^,.;]{2,60})\s*$")


#: Credit lines stand above or below the article, and are short: the first and last lines
#: of up to ``_CREDIT_CHARS`` characters are searched.
_HEAD, _TAIL, _CREDIT_CHARS = 5, 10, 300


def credit_lines(text: str) -> str:
    """The lines of ``text`` where a credit stands: the short ones among its first ``_HEAD``
    and last ``_TAIL`` (searching every paragraph of every article for credits cost the
    archive writer 0.7 ms a page)."""
    lines = text.splitlines()
    if len(lines) > _HEAD + _TAIL:
        lines = lines[:_HEAD] + lines[-_TAIL:]
    return "\n".join(line for line in lines if len(line) <= _CREDIT_CHARS)


def attribution(text: str) -> str | None:
    """The place a text says it came from, if one of its lines says so."""
    text = credit_lines(text)
    for pattern in ATTRIBUTION:
        found = pattern.search(text)
        if found:
            return found.group("where").strip(" .:;,-–—()") or found.group().strip()
    lines = text.splitlines()
    for line in lines[:4] + lines[-4:]:
        found = _VIA.search(line.strip())
        if found:
            return found.group("where").strip()
    return None


#: A URL written out in a credit line: with its scheme, from "www.", or a host and a path.
_CITED_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+|\b(?:[a-z0-9-]+\.)+[a-z]{2,}/[^\s<>\"']*", re.IGNORECASE
)


def cited_urls(text: str) -> list[str]:
    """The URLs a text's credit lines name ("This article originally appeared at URL",
    "Read more at URL", "Source: URL"), with a scheme, in order."""
    found = []
    starts = []
    text = credit_lines(text)
    for credit in _ANY_ATTRIBUTION.finditer(text):
        start = text.rfind("\n", 0, credit.start()) + 1
        if start in starts:
            continue
        starts.append(start)
        end = text.find("\n", credit.end())
        for url in _CITED_URL.findall(text, start, len(text) if end < 0 else end):
            url = url.rstrip(".,;:!?)]}'\"")
            found.append(url if url.lower().startswith("http") else f"http://{url}")
    return found


def first_publication(text: str) -> str | None:
    """The place a text says it first appeared ("originally appeared at The Courier"), which
    names the origin, where "Read more at" or "Source:" name only the page it was copied from."""
    found = ATTRIBUTION[-1].search(credit_lines(text))
    return (found.group("where").strip(" .:;,-–—()") or None) if found else None


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


def pointed_at(member: Member, others: Sequence[Member]) -> tuple[Member | None, str | None]:
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


def _compare(
    a: Member, b: Member, cited: dict[int, str | None], named: set[int], credited: set[int], byline_names: set[str]
) -> int:
    """Negative when ``a`` is more likely than ``b`` to be the origin."""
    if bool(cited[a.article_id]) != bool(cited[b.article_id]):
        return 1 if cited[a.article_id] else -1
    if a.published and b.published and abs(a.published - b.published) > DATE_SLACK:
        return -1 if a.published < b.published else 1
    if _KIND_RANK.get(a.kind, 1) != _KIND_RANK.get(b.kind, 1):
        return _KIND_RANK.get(a.kind, 1) - _KIND_RANK.get(b.kind, 1)
    # A member another one names as the first publication ("originally appeared at The
    # Courier") had it first.
    if (a.article_id in named) != (b.article_id in named):
        return -1 if a.article_id in named else 1
    a_named = bool(a.author) and _name(a.author or "") in byline_names
    b_named = bool(b.author) and _name(b.author or "") in byline_names
    if a_named != b_named:
        return -1 if a_named else 1
    # The one that put its own header lines above the other's text is the copy.
    a_adds = bool(_added(a, b))
    b_adds = bool(_added(b, a))
    if a_adds != b_adds:
        return 1 if a_adds else -1
    if order := published_order(a, b):
        return order
    # Still level: the one another member credits as its source ("Source: The Courier").
    if (a.article_id in credited) != (b.article_id in credited):
        return -1 if a.article_id in credited else 1
    if a.first_seen != b.first_seen:
        return -1 if a.first_seen < b.first_seen else 1
    return a.article_id - b.article_id


def _origin_evidence(
    origin: Member, others: Sequence[Member], cited: dict[int, str | None], byline_names: set[str]
) -> list[str]:
    evidence = [f"published {_when(origin)} ({origin.published_source})" if origin.published else "no date on the page"]
    evidence.append(f"on a site of kind {origin.kind}" + (f", the copies on {', '.join(sorted({o.kind for o in others}))} sites" if others else ""))
    if origin.author and _name(origin.author) in byline_names:
        evidence.append(f"the copies credit its author: by {origin.author}")
    evidence.extend(f"{o.url} {cited[o.article_id]}" for o in others if cited[o.article_id])
    evidence.append(f"first captured {origin.first_seen:%Y-%m-%d %H:%M:%S} UTC")
    return evidence


@memo.by_text
def text_lines(text: str) -> tuple[str, ...]:
    """Non-empty lines, casefolded with whitespace collapsed: how lines are compared across copies."""
    return tuple(" ".join(line.casefold().split()) for line in text.splitlines() if line.strip())


def header_lines(text: str, origin_lines: set[str], limit: int = 8) -> tuple[str, ...]:
    """The lines a copy put above the origin's text: its site's header, its byline, a credit.

    Stops at the first line of the origin's text, or at one the copy edited (a line
    sharing most of its words with an origin line): edits are no header.
    """
    origin_words = [set(line.split()) for line in origin_lines]
    header = []
    for line in text_lines(text)[:limit]:
        words = set(line.split())
        if line in origin_lines or len(words) > 30:
            break
        if len(words) >= 6 and any(len(words & other) >= len(words) / 2 for other in origin_words):
            break
        header.append(line)
    return tuple(header)


def _body(member: Member) -> str:
    """The member's text without its headline, which some themes' extraction keeps on top:
    the copies that lack it did not delete it."""
    return _without_title(member.text, member.title or "")


@memo.by_text
def _without_title(text: str, title: str) -> str:
    lines = set(text_lines(title))
    return "\n".join(line for line in text.splitlines() if " ".join(line.casefold().split()) not in lines)


def _added(member: Member, other: Member) -> frozenset[str]:
    """The distinctive lines ``member`` has above ``other``'s text, less its own title (a
    theme whose extraction starts with the headline adds nothing to the article)."""
    return _added_lines(member.text, member.title or "", other.text)


@memo.by_text
def _added_lines(text: str, title: str, other: str) -> frozenset[str]:
    return _distinctive(_header_above(text, other)) - set(text_lines(title))


@memo.by_text
def _header_above(text: str, origin: str) -> tuple[str, ...]:
    """``header_lines`` of ``text`` above the ``origin`` text."""
    return header_lines(text, set(text_lines(origin)))


@functools.lru_cache(maxsize=memo.SIZE)
def _distinctive(header: tuple[str, ...]) -> frozenset[str]:
    # A bare "by AUTHOR" line is no evidence of descent: every repost site adds the same one.
    return frozenset(line for line in header if not _BYLINE.match(line))


def source_among(
    text: str,
    candidates: Sequence[Member],
    origin: Member,
    headers: dict[int, tuple[str, ...]],
    published: datetime | None = None,
) -> tuple[Member | None, str | None]:
    """The copy a text was taken from: the deepest one whose header lines it kept, if any.

    A repost of a repost keeps its parent's header lines ("AUTHOR | SITE", a dateline, a
    credit) and adds its own; siblings that added the same lines are no evidence.
    """
    lines = set(text_lines(text))
    own = _header_above(text, origin.text)
    ancestors = [
        m
        for m in candidates
        if m is not origin
        and _distinctive(headers[m.article_id])
        and set(headers[m.article_id]) <= lines
        and (
            set(headers[m.article_id]) < set(own)
            # a relay that added no header of its own has exactly its parent's: the earlier one
            or (set(headers[m.article_id]) == set(own) and published and m.published and m.published < published)
        )
        and not (published and m.published and m.published - published > DATE_SLACK)
    ]
    if ancestors:
        parent = max(ancestors, key=lambda m: (len(headers[m.article_id]), -m.article_id))
        return parent, f"keeps its header lines: {' / '.join(headers[parent.article_id])!r}"
    # A copy's dateline names the site it copied ("October 27, 2016 in News by RW Staff")
    # even where that site's own text, as extracted, lacks the line.
    # A plain "by NAME" line credits the article's author, whoever else has that author.
    header_text = " ".join(own)
    authors = bylines(text) | {_name(origin.author or "")}
    for m in candidates:
        credits = {_name(c) for c in (m.author, m.sitename) if c and len(c) >= 4} - authors
        credit = next((c for c in credits if c in header_text), None)
        if m is not origin and credit and credit not in _name(" ".join(headers[m.article_id])):
            return m, f"its header credits {credit!r}, the parent's {'author' if credit == _name(m.author or '') else 'site'}"
    return None, None


#: Share of a candidate parent's edits a copy must have made too: a copy inherits all of
#: its parent's, and extraction can add a stray one (a caption kept on one site).
INHERITED = 0.9


def inherited(member: Member, earlier: Sequence[Member], changes: dict[int, alignment.Edits]) -> tuple[Member, str | None]:
    """The earlier member whose text this copy was taken from, when no line says so.

    A copy inherits its parent's edits of the origin's text, so a candidate qualifies when
    this copy made nearly all of its edits too (``INHERITED``). That alone proves little:
    aggregators that strip links all drop the same link texts. A note or credit the parent
    added, or a paragraph it dropped (``Edits.telling``), does: the candidate sharing most
    of those is the parent. Shared deletions alone decide for a copy on a site that is no
    aggregator (kind ``repost``): a mirror or relay does not strip links, so the link texts
    it lacks were gone where it copied. Without such edits, a copy crediting nobody is taken
    to come from the author's own site (kind ``origin``) that had the text after the origin
    and last before the copy, if any, else from the origin. ``earlier`` starts with the origin.
    """
    mine = changes[member.article_id]
    fitting = [
        candidate
        for candidate in earlier[1:]
        if not (member.published and candidate.published and candidate.published - member.published > DATE_SLACK)
        and changes[candidate.article_id].shared_with(mine) >= INHERITED * len(changes[candidate.article_id])
    ]
    telling = {candidate.article_id: changes[candidate.article_id].telling(mine) for candidate in fitting}
    if fitting and max(telling.values()) > 0:
        parent = max(fitting, key=lambda m: (telling[m.article_id], len(changes[m.article_id]), m.article_id))
        return parent, (
            f"kept the parent's own edits of the origin's text ({telling[parent.article_id]} notes, credits or cuts), "
            "and nearly all its other edits"
        )
    # Aggregators strip links by habit, so two of them drop the same words independently;
    # a mirror, a relay or a blog copies what it finds: what it lacks, its source lacked.
    lacking = [c for c in fitting if changes[c.article_id].shared_with(mine)] if member.kind != "repost" else []
    if lacking:
        parent = _latest(lacking, lambda m: changes[m.article_id].shared_with(mine))
        return parent, (
            f"lacks the same {changes[parent.article_id].shared_with(mine)} words of the origin's text as the parent "
            f"(its stripped links), and a site of kind {member.kind} copies what it finds"
        )
    # Only a blog that had it later than the origin: an author archiving a column on his
    # blog backdates it to the day it first appeared, and then the two cannot be told apart.
    first = earlier[0].published
    blogs = [
        candidate
        for candidate in fitting
        if candidate.kind == "origin" and not changes[candidate.article_id]
        and first and candidate.published and candidate.published.date() > first.date()
    ]
    if blogs:
        parent = _latest(blogs)
        return parent, "has the origin's text, as the parent does: the author's own site, published last before it"
    return earlier[0], None


def _latest(members: Sequence[Member], first: Callable[[Member], int] = lambda m: 0) -> Member:
    """The member highest by ``first``, then published last (``published_order``; undated
    ones earliest), then captured last."""

    def compare(a: Member, b: Member) -> int:
        return (
            _sign(first(a) - first(b))
            or (a.published is not None) - (b.published is not None)
            or published_order(a, b)
            or _sign((a.first_seen - b.first_seen).total_seconds())
        )

    return max(members, key=functools.cmp_to_key(compare))


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _before(member: Member, ordered: Sequence[Member], rank: int) -> list[Member]:
    """The origin, then every other member that can have been copied before ``member``: by
    date where both have one (two sites of one kind on one day are not ordered by rank),
    else by rank. By article id after the origin, so that ties go the same way whether the
    cluster was placed at once or a member at a time (``Tree.add``)."""
    return [ordered[0]] + sorted(
        (
            m
            for n, m in enumerate(ordered[1:], start=1)
            if m is not member
            and (published_order(m, member) <= 0 if m.published and member.published else n < rank)
        ),
        key=lambda m: m.article_id,
    )


#: A copy's edits of the origin's text, kept while the cluster grows (the origin seldom changes).
_edits = memo.by_text(alignment.edits)


def place(members: Sequence[Member], similarity: Callable[[Member, Member], float]) -> list[Placement]:
    """Order a cluster's members from the origin and give each copy its parent, with evidence."""
    tree = Tree.of(members, similarity)
    return [tree.placements[article_id] for article_id in tree.ordered]


@dataclass
class Tree:
    """A placed cluster with what placing it computed from its members' texts (each one's header
    lines above the origin's text, its edits of it, its credits), so that a member joining it
    costs its own comparisons, not the whole cluster's again (issue #23: a column reposted 200
    times cost 92 ms an article placed from scratch).

    ``add`` gives exactly what ``Tree.of`` of all the members gives, or None where it cannot
    tell cheaply (then the caller places the cluster from scratch): when the new member credits
    a member or is named by one, names an author no byline named before, is dated where the
    others are not, or may come before the origin.
    """

    origin: Member
    #: Members by id, in id order (candidates are tried in that order), the origin among them.
    members: dict[int, Member]
    #: Member ids from the origin, as ``place`` returns them.
    ordered: list[int]
    pointed: dict[int, tuple[Member | None, str | None]]
    named: set[int]
    credited: set[int]
    byline_names: set[str]
    #: Each member's "by NAME" lines, and its attribution and first-publication phrases (if any).
    bylines: dict[int, set[str]]
    phrases: dict[int, tuple[str | None, str | None]]
    headers: dict[int, tuple[str, ...]]
    changes: dict[int, alignment.Edits]
    #: Each copy's parent and the reason, before cycles were broken.
    decided: dict[int, tuple[Member, str | None]]
    placements: dict[int, Placement]
    #: Whether ``add`` may place a new member: every member dated, no cycle broken, and the
    #: origin ahead of each member one to one (so it stays first whatever the sort met).
    growing: bool

    @classmethod
    def of(cls, members: Sequence[Member], similarity: Callable[[Member, Member], float]) -> Tree:
        """Place a cluster from scratch."""
        members = sorted(members, key=lambda m: m.article_id)
        pointed = {m.article_id: pointed_at(m, members) for m in members}
        cited = {article_id: reason for article_id, (_, reason) in pointed.items()}
        own_bylines = {m.article_id: bylines(m.text) for m in members}
        byline_names = set().union(*own_bylines.values())
        phrases = {
            m.article_id: found
            for m in members
            if (found := (attribution(m.text), first_publication(m.text))) != (None, None)
        }
        named = {
            other.article_id
            for article_id, (_, phrase) in phrases.items()
            if phrase
            for other in members
            if other.article_id != article_id and _names_member(phrase, other)
        }
        credited = {target.article_id for target, _ in pointed.values() if target is not None}
        ordered = sorted(
            members, key=functools.cmp_to_key(lambda a, b: _compare(a, b, cited, named, credited, byline_names))
        )
        origin = ordered[0]
        headers = {m.article_id: _header_above(m.text, origin.text) for m in members}
        source = _body(origin)
        changes = {
            m.article_id: alignment.NO_EDITS if body == source else _edits(source, body)
            for m in ordered[1:]
            for body in (_body(m),)
        }
        changes[origin.article_id] = alignment.NO_EDITS
        tree = cls(
            origin, {m.article_id: m for m in members}, [m.article_id for m in ordered], pointed, named, credited,
            byline_names, own_bylines, phrases, headers, changes, {}, {}, False,
        )
        for rank, member in enumerate(ordered[1:], start=1):
            tree.decided[member.article_id] = tree._parent(member, _before(member, ordered, rank))
        parents = {article_id: target for article_id, (target, _) in tree.decided.items()}
        _break_cycles(parents, origin)
        tree.placements[origin.article_id] = tree._origin_placement()
        for member in ordered[1:]:
            tree.placements[member.article_id] = tree._copy_placement(member, parents[member.article_id], similarity)
        tree.growing = (
            all(m.published for m in members)
            and all(parents[article_id] is target for article_id, (target, _) in tree.decided.items())
            and all(tree._ahead(m, cited) for m in ordered[1:])
        )
        return tree

    def add(self, member: Member, similarity: Callable[[Member, Member], float]) -> tuple[Tree, list[Placement]] | None:
        """This cluster with ``member`` joined, and the placements that changed (the new member's
        first); None when only placing the cluster from scratch tells."""
        if not self.growing or member.published is None or member.article_id in self.members:
            return None
        members = [*self.members.values(), member]
        if member.article_id < members[-2].article_id:
            members.sort(key=lambda m: m.article_id)
        own = bylines(member.text)
        names = own - self.byline_names
        phrases = (attribution(member.text), first_publication(member.text))
        if (
            pointed_at(member, members) != (None, None)
            or phrases != (None, None)
            or any(m.canonical_url == member.url for m in members if m is not member)
            or any(phrase and _names_member(phrase, member) for pair in self.phrases.values() for phrase in pair)
            or any(m.author and _name(m.author) in names for m in members)
        ):
            return None
        origin = self.origin
        tree = Tree(
            origin, {m.article_id: m for m in members}, [*self.ordered, member.article_id],
            {**self.pointed, member.article_id: (None, None)}, self.named, self.credited, self.byline_names | names,
            {**self.bylines, member.article_id: own}, self.phrases,
            {**self.headers, member.article_id: _header_above(member.text, origin.text)}, dict(self.changes),
            dict(self.decided), dict(self.placements), True,
        )
        if not tree._ahead(member, tree.cited):
            return None
        source, body = _body(origin), _body(member)
        tree.changes[member.article_id] = alignment.NO_EDITS if body == source else _edits(source, body)
        ordered = [origin, *(m for m in members if m is not origin)]
        changed = [member]
        tree.decided[member.article_id] = tree._parent(member, _before(member, ordered, len(ordered)))
        for other in ordered[1:]:
            if other is not member and tree._touched(other, member):
                decided = tree._parent(other, _before(other, ordered, len(ordered)))
                if decided != tree.decided[other.article_id]:
                    tree.decided[other.article_id] = decided
                    changed.append(other)
        parents = {article_id: target for article_id, (target, _) in tree.decided.items()}
        _break_cycles(parents, origin)
        if any(parents[article_id] is not target for article_id, (target, _) in tree.decided.items()):
            return None
        for m in changed:
            tree.placements[m.article_id] = tree._copy_placement(m, parents[m.article_id], similarity)
        placements = [tree.placements[m.article_id] for m in changed]
        evidence = tree._origin_placement()
        if evidence != tree.placements[origin.article_id]:
            tree.placements[origin.article_id] = evidence
            placements.append(evidence)
        return tree, placements

    @property
    def cited(self) -> dict[int, str | None]:
        return {article_id: reason for article_id, (_, reason) in self.pointed.items()}

    def _ahead(self, member: Member, cited: dict[int, str | None]) -> bool:
        """Whether the origin goes before ``member`` compared one to one."""
        return _compare(self.origin, member, cited, self.named, self.credited, self.byline_names) < 0

    def _touched(self, other: Member, member: Member) -> bool:
        """Whether ``member`` joining may change ``other``'s parent: it was published before it
        (an earlier copy it may have been taken from), its header lines are among ``other``'s
        (a parent whose header it kept), or its author or site is credited in them."""
        if published_order(member, other) <= 0:
            return True
        header = self.headers[member.article_id]
        if _distinctive(header) and set(header) <= set(self.headers[other.article_id]):
            return True
        text = " ".join(self.headers[other.article_id])
        authors = self.bylines[other.article_id] | {_name(self.origin.author or "")}
        return any(
            credit in text
            for credit in {_name(c) for c in (member.author, member.sitename) if c and len(c) >= 4} - authors
        )

    def _parent(self, member: Member, before: list[Member]) -> tuple[Member, str | None]:
        """The member ``member`` was copied from and why. Most specific first: a canonical link,
        then the header lines it kept from a copy, then the attribution line (which names where
        it first appeared, not its parent), then the edits it shares with an earlier copy, then dates."""
        target, reason = self.pointed[member.article_id]
        others = [m for m in self.members.values() if m is not member]
        ancestor, because = source_among(member.text, others, self.origin, self.headers, member.published)
        if target is not None and not (reason or "").startswith("canonical") and ancestor is not None:
            return ancestor, because
        if target is None:
            return (ancestor, because) if ancestor is not None else inherited(member, before, self.changes)
        return target, reason

    def _origin_placement(self) -> Placement:
        others = [m for m in self.members.values() if m is not self.origin]
        evidence = _origin_evidence(self.origin, others, self.cited, self.byline_names)
        return Placement(self.origin.article_id, "origin", evidence=evidence)

    def _copy_placement(self, member: Member, parent: Member, similarity: Callable[[Member, Member], float]) -> Placement:
        reason = self.decided[member.article_id][1]  # kept where a cycle was broken, as it always was
        cited = self.pointed[member.article_id][1]
        score = similarity(member, parent)
        evidence = [reason or ("the origin; no copy in between" if parent is self.origin else "")]
        if cited and cited != reason:
            evidence.append(cited)
        evidence.append(f"similarity {score:.2f} to its parent")
        if member.published and parent.published:
            evidence.append(f"published {_when(member)} (parent {_when(parent)})")
        return Placement(member.article_id, "copy", parent.article_id, round(score, 4), [e for e in evidence if e])


def _break_cycles(parents: dict[int, Member], origin: Member) -> None:
    """Attribution or header lines pointing in a circle: hang the circle's members on the origin."""
    for start in list(parents):
        seen = {start}
        node = parents[start]
        while node is not origin and node.article_id in parents:
            if node.article_id in seen:
                for member_id in seen:
                    parents[member_id] = origin
                break
            seen.add(node.article_id)
            node = parents[node.article_id]


def _when(member: Member) -> str:
    moment = member.published
    assert moment is not None
    return f"{moment:%Y-%m-%d}" if (moment.hour, moment.minute) == (0, 0) else f"{moment:%Y-%m-%d %H:%M} UTC"
