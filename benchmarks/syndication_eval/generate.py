"""Generate the syndication dev set: the posts of every site and the truth about every page.

Each base article becomes a cluster: its origin (the first publication) and 2-4 copies on
other sites, some copied from a copy (chains). Origins sit where real ones do, including the
traps: a blog whose theme shows no date, a magazine column its author later archives on his
own blog backdated to the day it first appeared (citing where it did), a copy whose date
looks a day earlier than the origin's only because of time zones, a repost site's own
article copied by others. A scraper posts excerpts. Hard negatives are pages that must stay
apart: an author's two-part series, short notes sharing one long bio, articles quoting the
same long statement, and roundup posts quoting the first lines of several articles.

Ground truth, per page (`Page`): `cluster` is the base article's key for its origin and
copies, and the page's own id for excerpts and unique pages (singletons); `origin` is the
page id of the cluster's first publication (an excerpt's or unique page's own id); `parent`
is the page a copy or excerpt was made from (None for origins and uniques); `relation` is
origin, copy, excerpt or unique. Everything is drawn from one seeded RNG: same seed, same set.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cached_property
from html import escape
from pathlib import Path
from typing import Literal

from benchmarks.syndication_eval import bases as base_texts
from benchmarks.syndication_eval.bases import BaseArticle
from benchmarks.syndication_eval.edits import Habits, Version, excerpt, link_words, repost
from benchmarks.syndication_eval.sites import ORIGIN_BLOGS, REPOST_HOSTS, Role, roles
from syndicrawl.demo.base import Post
from syndicrawl.demo.render import long_date, plain_text, slugify

Relation = Literal["origin", "copy", "excerpt", "unique"]
CORPUS_MISSING = "corpus not found at {corpus}: skipping the real pages, the full set uses the demo content only"
SEED = 2016
_START = datetime(2016, 9, 5, 8, 0, tzinfo=timezone.utc)
_STEP = timedelta(hours=31)
_STAFF_WRITERS = ("Dale Ferris", "Margaret Lowe", "Karen Whitfield")
# Demo texts on one subject by one author: published side by side, never to be merged.
_ALEPPO = ("demo-us-supported-terrorists-fail-to-break", "demo-aleppo-and-the-information-war",
           "demo-russia-pauses-aleppo-operations")


@dataclass(frozen=True)
class Page:
    """One generated page and the truth about it (see the module docstring)."""

    id: str
    site: str
    post: Post
    cluster: str
    relation: Relation
    origin: str
    parent: str | None
    case: str


@dataclass(frozen=True)
class Dataset:
    """The sites (in serving order), every page with its truth, and the hard-negative pairs (a, b, trap)."""

    roles: tuple[Role, ...]
    pages: tuple[Page, ...]
    negatives: tuple[tuple[str, str, str], ...]

    def posts(self, site: str) -> list[Post]:
        return [page.post for page in self.pages if page.site == site]

    @cached_property
    def by_id(self) -> dict[str, Page]:
        return {page.id: page for page in self.pages}


@dataclass(frozen=True)
class Plan:
    """How many of each case to generate."""

    copies: tuple[int, ...]  # drawn from, per cluster
    chain: float  # chance that a copy (after the first) is made from an earlier copy
    excerpts: int
    timezone: int
    undated: int
    column: int
    repost_origin: int
    quotes: int  # quotations, each quoted by `quoting` articles
    quoting: int
    notes: int
    roundups: int  # each quoting `roundup_items` articles
    roundup_items: int


SMALL = Plan(copies=(2, 2, 3), chain=0.4, excerpts=2, timezone=1, undated=1, column=1, repost_origin=1,
             quotes=1, quoting=2, notes=3, roundups=1, roundup_items=2)
FULL = Plan(copies=(2, 3, 3, 4), chain=0.3, excerpts=15, timezone=3, undated=7, column=6, repost_origin=6,
            quotes=2, quoting=3, notes=6, roundups=2, roundup_items=3)


class _Generator:
    """Accumulates pages site by site, keeping slugs and publication times unique per site."""

    def __init__(self, cast: tuple[Role, ...], rng: random.Random) -> None:
        self.roles = {role.name: role for role in cast}
        self.rng = rng
        self.pages: dict[str, Page] = {}
        self.versions: dict[str, Version] = {}
        self.negatives: list[tuple[str, str, str]] = []
        self._slugs: dict[str, set[str]] = defaultdict(set)
        self._times: dict[str, set[datetime]] = defaultdict(set)

    def add(self, site: str, version: Version, when: datetime, byline: str, *, cluster: str | None,
            relation: Relation, origin: str | None, parent: str | None, case: str) -> str:
        """Publish `version` on `site`; return the page id ("site/slug")."""
        role = self.roles[site]
        slug = stem = slugify(version.title)[:60].strip("-") or "post"
        for n in itertools.count(2):
            if slug not in self._slugs[site]:
                break
            slug = f"{stem}-{n}"
        self._slugs[site].add(slug)
        when = when.replace(second=0, microsecond=0)
        while when in self._times[site]:  # Blogger's pager needs distinct times
            when += timedelta(minutes=1)
        self._times[site].add(when)
        body = "".join(f"<p>{paragraph}</p>\n" for paragraph in version.paragraphs)
        category = "Commentary" if role.kind == "origin" else "News"
        post = Post(slug, version.title, byline, when.astimezone(role.tz), None, body, (category,))
        page_id = f"{site}/{slug}"
        self.pages[page_id] = Page(page_id, site, post, cluster or page_id, relation, origin or page_id, parent, case)
        self.versions[page_id] = version
        return page_id

    def when(self, page_id: str) -> datetime:
        return self.pages[page_id].post.published

    def cluster(self, base: BaseArticle, case: str, site: str, t0: datetime, plan: Plan,
                quote: str | None) -> list[str]:
        """Publish `base` at its origin and its copies; return the page ids, origin first."""
        rng = self.rng
        role = self.roles[site]
        paragraphs = list(base.paragraphs)
        if quote is not None:
            paragraphs.insert(len(paragraphs) // 2, quote)
        if rng.random() < 0.5:
            at = rng.randrange(len(paragraphs))
            paragraphs[at] = link_words(paragraphs[at], rng, f"https://sources.example/{base.key}")
        author = rng.choice(_STAFF_WRITERS) if case == "repost-origin" else role.staff
        version = Version(base.title, (*paragraphs, *role.footer), author, footer=len(role.footer))
        origin = self.add(site, version, t0, author, cluster=base.key, relation="origin", origin=None,
                          parent=None, case=case)
        members = [origin]
        hosts = [host for host in REPOST_HOSTS if host != site]
        rng.shuffle(hosts)
        count = rng.choice(plan.copies)
        if case == "backdated-column":
            members.append(self._archived_column(origin, base.key))
            count -= 1
        if case == "timezone":
            # A US site copies it within the hour: its date is the day before the origin's date.
            hosts.sort(key=lambda host: self.roles[host].utc_offset >= -5 or self.roles[host].undated)
        for n, host in enumerate(hosts[:count]):
            earlier = members[1:]
            parent = rng.choice(earlier) if earlier and rng.random() < plan.chain else origin
            if case == "timezone" and n == 0:
                when = self.when(origin) + timedelta(minutes=rng.randint(12, 30))
            else:
                # Never before the origin: an archived column shows an earlier date than it was posted.
                when = max(self.when(parent), self.when(origin)) + timedelta(hours=rng.uniform(1.5, 60))
            copy = self._repost(parent, host)
            members.append(self.add(host, copy, when, self.roles[host].staff, cluster=base.key, relation="copy",
                                    origin=origin, parent=parent, case=case))
        return members

    def _repost(self, parent: str, host: str) -> Version:
        page, role = self.pages[parent], self.roles[host]
        source = self.roles[page.site]
        made = self.versions[parent]
        fill = {"author": escape(made.author), "source": escape(source.title), "title": escape(made.title)}
        scraped = ""
        if page.relation == "copy" and source.platform == "wordpress" and self.rng.random() < 0.7:
            # Copied from a WordPress page, the byline line above the text comes along.
            scraped = f"{page.post.categories[0]} by {escape(source.staff)}"
            if not source.undated:
                scraped = f"{long_date(page.post.published)} in {scraped}"
        habits = Habits(role.header.format(**fill), role.credit.format(**fill), role.note, role.strips_links,
                        scraped)
        return repost(made, self.versions[page.origin], habits, self.rng)

    def _archived_column(self, column: str, key: str) -> str:
        """The columnist archives his column on his own blog, dated earlier the same day, citing the magazine."""
        page, made = self.pages[column], self.versions[column]
        blog = self.roles["brandt"]
        when = page.post.published.replace(hour=6, minute=self.rng.randint(0, 59))
        magazine = escape(self.roles[page.site].title)
        line = f"This column first appeared in {magazine} on {long_date(page.post.published)}."
        body = (line, *made.paragraphs[: len(made.paragraphs) - made.footer], *blog.footer)
        archived = Version(made.title, body, made.author, top=1, footer=len(blog.footer))
        return self.add("brandt", archived, when, made.author, cluster=key, relation="copy", origin=column,
                        parent=column, case="backdated-column")

    def excerpt(self, source: str, when: datetime) -> str:
        made = self.versions[source]
        read_more = f"Read more at {escape(self.roles[self.pages[source].site].title)}"
        return self.add("scraper", excerpt(made, read_more), when, "NewsFeedr", cluster=None, relation="excerpt",
                        origin=None, parent=source, case="excerpt")

    def note(self, note: BaseArticle, when: datetime) -> str:
        role = self.roles["okonkwo"]
        version = Version(note.title, (*note.paragraphs, *role.footer), role.staff, footer=len(role.footer))
        return self.add("okonkwo", version, when, role.staff, cluster=None, relation="unique", origin=None,
                        parent=None, case="boilerplate")

    def roundup(self, items: list[str], number: int) -> str:
        """A Republic Wire roundup quoting the opening words of `items` (an index page, not a copy)."""
        lines = ["Here is a selection of what we published this week on Republic Wire, in case you missed it."]
        for item in items:
            made = self.versions[item]
            opening = next(text for text in map(plain_text, made.paragraphs) if len(text.split()) >= 20)
            lines.append(f"<strong>{escape(made.title)}</strong>: {escape(' '.join(opening.split()[:25]))} …")
        lines.append("Comments are open on every article. Republic Wire is funded by its readers.")
        when = max(self.when(item) for item in items) + timedelta(hours=self.rng.uniform(2, 20))
        version = Version(f"Weekly Roundup No. {number}", tuple(lines), "RW Staff")
        return self.add("rwire", version, when, "RW Staff", cluster=None, relation="unique", origin=None,
                        parent=None, case="index")


def _local(when: datetime, role: Role, hour: int, minute: int) -> datetime:
    """The time `hour:minute` in `role`'s zone on the local day of `when`."""
    return when.astimezone(role.tz).replace(hour=hour, minute=minute)


def generate(articles: list[BaseArticle], groups: list[tuple[str, ...]], plan: Plan, seed: int = SEED) -> Dataset:
    """Build a dataset from `articles`; each of `groups` is published by one author on one blog."""
    extra = base_texts.extras()
    cast = roles(base_texts.demo_footer(), extra.bio)
    rng = random.Random(seed)
    gen = _Generator(cast, rng)
    grouped = {key for group in groups for key in group}
    order = list(articles)
    rng.shuffle(order)
    special = (["timezone"] * plan.timezone + ["undated-origin"] * plan.undated + ["backdated-column"] * plan.column
               + ["repost-origin"] * plan.repost_origin)
    free = [base.key for base in order if base.key not in grouped]
    cases = dict(zip(free, special, strict=False))
    site_of = {key: {"timezone": "dubois", "undated-origin": "notes", "backdated-column": "ledger"}.get(case, "")
               for key, case in cases.items()}
    blogs = itertools.cycle(ORIGIN_BLOGS)
    for group in groups:
        blog = next(blogs)
        site_of.update({key: blog for key in group})
    for base in order:
        if not site_of.get(base.key):
            case = cases.get(base.key, "plain")
            site_of[base.key] = rng.choice(("rwire", "digest")) if case == "repost-origin" else next(blogs)
    quotes: dict[str, str] = {}
    plain = [base.key for base in order if cases.get(base.key, "plain") == "plain" and base.key not in grouped]
    for quote in extra.quotes[: plan.quotes]:
        chosen: list[str] = []
        for key in plain:
            if key not in quotes and site_of[key] not in {site_of[k] for k in chosen}:
                chosen.append(key)
            if len(chosen) == plan.quoting:
                break
        quotes.update({key: quote for key in chosen})
    # Time zone traps come last, where their pages are still in every feed.
    order.sort(key=lambda base: cases.get(base.key) == "timezone")
    members: dict[str, list[str]] = {}
    for n, base in enumerate(order):
        case = cases.get(base.key, "plain")
        role = gen.roles[site_of[base.key]]
        t0 = _START + n * _STEP + timedelta(hours=rng.uniform(0, 6))
        if case == "timezone":
            t0 = _local(t0, role, 0, rng.randint(5, 25))
        elif case == "backdated-column":
            t0 = _local(t0, role, 10, 0) + timedelta(minutes=rng.randint(0, 119))
        members[base.key] = gen.cluster(base, case, site_of[base.key], t0, plan, quotes.get(base.key))
    _negatives(gen, groups, quotes, members)
    span = len(order) * _STEP
    notes = [gen.note(note, _START + span * rng.random()) for note in extra.notes[: plan.notes]]
    gen.negatives += [(a, b, "boilerplate") for a, b in itertools.pairwise(notes)]
    for key in rng.sample(sorted(members), plan.excerpts):
        source = members[key][0] if rng.random() < 0.5 else rng.choice(members[key][1:])
        gen.excerpt(source, gen.when(source) + timedelta(hours=rng.uniform(2, 30)))
    _roundups(gen, plan)
    return Dataset(cast, tuple(gen.pages.values()), tuple(gen.negatives))


def _negatives(gen: _Generator, groups: list[tuple[str, ...]], quotes: dict[str, str],
               members: dict[str, list[str]]) -> None:
    """Record the same-author and same-quote pairs (between origins)."""
    for group in groups:
        gen.negatives += [(members[a][0], members[b][0], "same-author") for a, b in itertools.pairwise(group)]
    by_quote: dict[str, list[str]] = defaultdict(list)
    for key, quote in quotes.items():
        by_quote[quote].append(members[key][0])
    for origins in by_quote.values():
        gen.negatives += [(a, b, "quote") for a, b in itertools.combinations(origins, 2)]


def _roundups(gen: _Generator, plan: Plan) -> None:
    """Publish the roundups, each quoting consecutive Republic Wire articles."""
    pages = sorted((p for p in gen.pages.values() if p.site == "rwire" and p.relation in ("origin", "copy")),
                   key=lambda page: page.post.published)
    stride = max(len(pages) // (plan.roundups + 1), plan.roundup_items)
    for number in range(1, plan.roundups + 1):
        items = [page.id for page in pages[number * stride - plan.roundup_items : number * stride]]
        roundup = gen.roundup(items, number)
        gen.negatives += [(roundup, item, "index") for item in items]


def small_dataset(seed: int = SEED) -> Dataset:
    """The test-suite set: 12 clusters from the demo content (always available)."""
    return generate(base_texts.demo_bases()[:12], [_ALEPPO], SMALL, seed)


def full_dataset(corpus: Path | None = base_texts.CORPUS, seed: int = SEED, splits: int = 6) -> Dataset:
    """The full set: the corpus pages (the longest few split into two-part series) plus the demo content.

    Without the corpus directory the full plan runs on the demo content alone.
    """
    articles = base_texts.demo_bases()
    groups: list[tuple[str, ...]] = [_ALEPPO]
    if corpus is not None and corpus.is_dir():
        corpus_articles = base_texts.corpus_bases(corpus)
        long = sorted((a for a in corpus_articles if a.word_count >= 1000 and len(a.paragraphs) >= 8),
                      key=lambda a: (-a.word_count, a.key))[:splits]
        for base in long:
            parts = base_texts.split(base)
            groups.append(tuple(part.key for part in parts))
            articles.extend(parts)
        articles.extend(a for a in corpus_articles if a not in long)
    return generate(articles, groups, FULL, seed)


def summary(dataset: Dataset) -> str:
    """Describe the case types and counts of `dataset`, one line each."""
    pages = dataset.pages
    chains = sum(1 for p in pages if p.relation == "copy" and dataset.by_id[str(p.parent)].relation == "copy")
    lines = [
        f"{len(pages)} pages on {len(dataset.roles)} sites, "
        f"{len({p.cluster for p in pages if p.relation == 'origin'})} clusters",
        "relations: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(p.relation for p in pages).items())),
        "cluster cases: " + ", ".join(
            f"{k} {v}" for k, v in sorted(Counter(p.case for p in pages if p.relation == "origin").items())),
        f"copies of copies (chains): {chains}",
        "hard-negative pairs: " + ", ".join(
            f"{k} {v}" for k, v in sorted(Counter(trap for _, _, trap in dataset.negatives).items())),
        "pages per site: " + ", ".join(f"{r.name} {len(dataset.posts(r.name))}" for r in dataset.roles),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Describe the generated syndication dev set.")
    parser.add_argument("--small", action="store_true", help="the test-suite set (demo content only)")
    parser.add_argument("--corpus", type=Path, default=base_texts.CORPUS, help="directory of real HTML pages")
    args = parser.parse_args()
    if not args.small and not args.corpus.is_dir():
        print(CORPUS_MISSING.format(corpus=args.corpus), file=sys.stderr)
    print(summary(small_dataset() if args.small else full_dataset(args.corpus)))


if __name__ == "__main__":
    main()
