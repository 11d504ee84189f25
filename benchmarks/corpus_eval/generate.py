"""Generate one seed of the corpus set: eleven sites on real page templates, their posts and the truth.

A cluster is a base text's origin and its copies; its `case` says which behaviour of real
repost sites it stands for (see `CASES`). Excerpts, the notes of one author that share a long
bio, and roundups are singletons. Hard-negative pairs (`Dataset.negatives`) must never be put
together: a two-part series, articles quoting one press release, short notes sharing a bio,
a roundup and the articles it quotes.

Texts come from the corpus half of the seed's part (see `material.part_of`) and, within a part,
every seed takes its own share of them and of ``texts.toml``, so two seeds never share a text
(both seeds of a part are crawled together) and the held-out seeds share nothing with the tune
seeds: neither a text nor a site template.

Truth, per page (`Page`): `cluster` is the base text's key for its origin and copies, the
page's own id for singletons; `origin` is the page id of the first publication (a singleton's
own id); `parent` is the page a copy or excerpt was made from; `relation` is origin, copy,
excerpt or unique.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import cached_property, partial
from html import escape, unescape

from benchmarks.corpus_eval import material
from benchmarks.corpus_eval.material import Text
from benchmarks.corpus_eval.sites import ROBOTS_DISALLOW, Article, Role, TemplateSite, source_entry, url_resolver
from benchmarks.syndication_eval.run import SiteSpec

SEEDS = {"tune": (1, 2), "heldout": (3, 4)}
_START = datetime(2021, 2, 1, 7, 0, tzinfo=timezone.utc)
_STEP = timedelta(hours=29)

#: Cluster cases: the behaviour each stands for.
CASES = {
    "plain": "origin on an author blog or news site, 2-3 copies by the aggregators, some copied from a copy",
    "aggregator-staff": '"DATE in News by SITE Staff" and "by AUTHOR" on top, every link stripped with its text',
    "archived-column": "a magazine column the author archives on his Blogger blog, backdated, citing the magazine",
    "copy-line": "a copy cut to 0.61-0.665 of the source's words (still a copy: the rule is 60%)",
    "light-edit": "new title, straightened quotes, one copy sent in windows-1252",
    "chain-dated": "origin (news site) -> author blog -> aggregator, nobody cites: only the pages' dates decide",
    "chain-undated": "the same chain on undated themes: dates only in the feed and the sitemap's lastmod",
    "aggregator-relay": "origin -> aggregator (links stripped) -> light edit without credit, parent the aggregator",
    "undated-origin": "origin on a theme without dates, dated copies",
    "updated-origin": "origin updated days after its copies (page, meta and sitemap show the update)",
    "cite-read-more": 'a same-day copy on an author blog ending "Read more at URL"',
    "cite-originally": 'a same-day copy on an author blog ending "This article originally appeared at URL"',
    "cite-source": 'a same-day copy on an author blog ending "Source: SITE NAME"',
    "cite-canonical": "a same-day copy on an author blog with a cross-domain <link rel=canonical> to the origin",
    "short": "a news brief under 45 words, reposted",
    "boilerplate-bio": "origin's bio in <div class=author-bio> (dropped by extraction), kept as <p> by the copy",
    "lang-zh": "a Chinese article, reposted", "lang-ja": "a Japanese article, reposted",
    "lang-ru": "a Russian article, reposted", "lang-ar": "an Arabic article, reposted",
    "series": "hard negative: an author's two-part series (each part reposted)",
    "press-release": "hard negative: articles on three sites quoting the same press release",
}
SINGLETON_CASES = {
    "excerpt-half": 'a scraper\'s first 35-50% of the words and "Read more at URL"',
    "excerpt-line": "an excerpt of 0.545-0.59 of the words (still an excerpt)",
    "short-bio": "hard negative: short notes of one author sharing a long bio",
    "roundup": "hard negative: a roundup quoting the first lines of several articles",
}


@dataclass(frozen=True)
class Plan:
    """How many clusters of each case one seed gets ("plain" takes what texts are left), and singletons."""

    clusters: dict[str, int]
    plain: int | None  # None: every text left over
    excerpt_half: int
    excerpt_line: int
    notes: int
    roundups: int


FULL = Plan({"aggregator-staff": 5, "archived-column": 4, "copy-line": 4, "light-edit": 4, "chain-dated": 4,
             "chain-undated": 4, "aggregator-relay": 4, "undated-origin": 4, "updated-origin": 4,
             "cite-read-more": 3, "cite-originally": 3, "cite-source": 3, "cite-canonical": 3, "short": 5,
             "boilerplate-bio": 4, "series": 2, "press-release": 3},
            plain=None, excerpt_half=8, excerpt_line=5, notes=6, roundups=2)
SMALL = Plan({case: 1 for case in FULL.clusters} | {"series": 1, "press-release": 2},
             plain=2, excerpt_half=1, excerpt_line=1, notes=3, roundups=1)
LANGS = ("zh", "ja", "ru", "ar")

# (name, title, kind, permalink, dated, UTC offset, encoding): served in this order, so a site
# citing another's URL comes after it.
_CAST = (
    ("lantern", "The Lantern Review", "origin", "wordpress", True, 1, "utf-8"),
    ("quill", "Quill & Ink", "origin", "notes", False, -5, "utf-8"),
    ("courier", "The Courier", "unknown", "news", True, 0, "utf-8"),
    ("columnist", "{columnist}'s Column", "origin", "blogger", True, 0, "utf-8"),
    ("pinboard", "{notes}'s Pinboard", "origin", "wordpress", True, 2, "utf-8"),
    ("notebook", "Field Notebook", "origin", "wordpress", True, 1, "utf-8"),
    ("staffwire", "Staffwire", "repost", "wordpress", True, -5, "utf-8"),
    ("mirror", "Mirror Post", "repost", "postname", False, -6, "utf-8"),
    ("digest", "Weekly Digest", "repost", "numeric", True, -7, "windows-1252"),
    ("relay", "Relay News", "unknown", "story", True, 3, "utf-8"),
    ("scraper", "NewsFeedr", "unknown", "postname", True, 0, "utf-8"),
)
_WRITERS = ("Clara Jensen", "Paul Herrmann", "Ines Duarte", "Felix Amsel", "Nora Lindt", "Jakob Stern",
            "Mira Solberg", "Theo Vance", "Alma Reyes", "Victor Hale", "Greta Nowak", "Oskar Brink")
_TITLE_EDITS = (
    lambda title: f"Must read: {title}",
    lambda title: f"{title} (updated)",
    lambda title: title.upper(),
    lambda title: f"{title} – what you need to know",
)
_CURLY = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'", "«": '"', "»": '"',
                        "–": "-", "—": "-", "…": "..."})
STRIPS_LINKS = ("staffwire", "mirror")
_LINK = re.compile(r"<a\b[^>]*>.*?</a>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Page:
    """One generated page and the truth about it (see the module docstring)."""

    id: str
    site: str
    post: Article
    cluster: str
    relation: str
    origin: str
    parent: str | None
    case: str


@dataclass(frozen=True)
class Dataset:
    """Sites in serving order, pages with their truth, and hard-negative pairs (page id, page id, trap)."""

    roles: tuple[Role, ...]
    pages: tuple[Page, ...]
    negatives: tuple[tuple[str, str, str], ...]

    def posts(self, site: str) -> list[Article]:
        return [page.post for page in self.pages if page.site == site]

    @cached_property
    def by_id(self) -> dict[str, Page]:
        return {page.id: page for page in self.pages}

    def sites(self) -> list[SiteSpec]:
        """How to serve and crawl each site; each resolves the URLs it cites from the sites served before it."""
        bases: dict[str, str] = {}
        numbered = {}
        for role in self.roles:
            numbered.update({page.id: (role, page.post, n)
                             for n, page in enumerate(p for p in self.pages if p.site == role.name)})
        url_of = url_resolver(numbered, bases)

        def build(role: Role, base: str) -> TemplateSite:
            bases[role.name] = base
            return TemplateSite(role, self.posts(role.name), base, url_of)

        return [SiteSpec(role.name, partial(build, role), partial(source_entry, role), ROBOTS_DISALLOW)
                for role in self.roles]


def plain(html: str) -> str:
    """The text of an HTML paragraph, whitespace collapsed (citation tokens count as one word)."""
    return " ".join(unescape(_TAG.sub(" ", html)).split())


def measure(paragraphs: tuple[str, ...] | list[str]) -> int:
    """A text's length: words, or characters for languages written without spaces."""
    text = " ".join(plain(p) for p in paragraphs)
    cjk = sum(1 for ch in text if "\u3040" <= ch <= "\u9fff")
    return cjk + len([w for w in text.split() if not any("\u3040" <= ch <= "\u9fff" for ch in w)])


def strip_links(html: str) -> str:
    """Drop every link together with its text, as aggregators do ("reached at <a>mail</a>." -> "reached at.")."""
    text = _LINK.sub("", html)
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(text.split()))


def straighten(html: str) -> str:
    """Straight quotes and dashes, outside tags."""
    return re.sub(r"[^<>]+(?=<|$)", lambda m: m.group().translate(_CURLY), html)


def cut(paragraphs: tuple[str, ...], share: float) -> list[str]:
    """The first `share` of the text (by `measure`), cut inside a paragraph if need be, links kept out."""
    budget = round(share * measure(paragraphs))
    kept: list[str] = []
    for paragraph in paragraphs:
        size = measure([paragraph])
        if size <= budget:
            kept.append(paragraph)
            budget -= size
            continue
        if budget > 0:
            words = plain(paragraph).split()
            if len(words) > 1:
                kept.append(escape(" ".join(words[:budget]), quote=False))
            else:  # written without spaces: cut characters
                kept.append(escape(plain(paragraph)[:budget], quote=False))
        break
    return kept


@dataclass
class _Seed:
    """Accumulates the pages of one seed."""

    seed: int
    rng: random.Random
    roles: dict[str, Role]
    author: str  # the lantern's columnist, whose bio the lantern shows
    bio: str
    notes_author: str
    notes_bio: str
    writers: tuple[str, ...]
    pages: dict[str, Page] = field(default_factory=dict)
    negatives: list[tuple[str, str, str]] = field(default_factory=list)
    slugs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    def site(self, name: str) -> str:
        return f"{name}-{self.seed}"

    def add(self, site: str, article: Article, *, cluster: str | None, relation: str, origin: str | None,
            parent: str | None, case: str) -> str:
        """Publish `article` on `site` (a base name); return the page id."""
        name = self.site(site)
        stem = re.sub(r"[^a-z0-9]+", "-", article.title.lower()).strip("-")[:50].strip("-") or "post"
        slug = stem
        for n in itertools.count(2):
            if slug not in self.slugs[name]:
                break
            slug = f"{stem}-{n}"
        self.slugs[name].add(slug)
        page_id = f"{name}/{slug}"
        article = replace(article, slug=slug, published=article.published.replace(second=0, microsecond=0))
        self.pages[page_id] = Page(page_id, name, article, cluster or page_id, relation, origin or page_id, parent,
                                   case)
        return page_id

    def article(self, page_id: str) -> Article:
        return self.pages[page_id].post

    def when(self, page_id: str) -> datetime:
        return self.pages[page_id].post.published

    # -- what each kind of site does to a text ------------------------------------------------

    def origin(self, site: str, text: Text, when: datetime, case: str, *, author: str | None = None,
               links: int = 2, extra: tuple[str, ...] = (), updated: datetime | None = None) -> str:
        """Publish `text` first: the lantern signs with its columnist and his bio; authors link their sources."""
        paragraphs = [escape(p, quote=False) for p in text.paragraphs]
        for _ in range(links):
            at = self.rng.randrange(len(paragraphs))
            paragraphs[at] = self._link_words(paragraphs[at])
        if extra:
            middle = len(paragraphs) // 2
            paragraphs[middle:middle] = extra
        bio: tuple[str, ...] = ()
        if site == "lantern":
            author = self.author
            mail = f"{author.split()[0].lower()}@lantern.example"
            paragraphs.append(f'{escape(author)} writes every week. He can be reached at <a href="mailto:{mail}">{mail}</a>.')
            bio = (escape(self.bio),)
        author = author or self.rng.choice(self.writers[2:])  # the news site's staff
        article = Article("", text.title, author, when, tuple(paragraphs), text.lang, updated, bio)
        return self.add(site, article, cluster=text.key, relation="origin", origin=None, parent=None, case=case)

    def _link_words(self, paragraph: str) -> str:
        words = paragraph.split(" ")
        if len(words) < 8 or "<a" in paragraph:
            return paragraph
        start = self.rng.randrange(1, len(words) - 4)
        linked = " ".join(words[start : start + 3])
        href = f"https://sources.example.org/{self.rng.randrange(10**6)}"
        return " ".join([*words[:start], f'<a href="{href}">{linked}</a>', *words[start + 3 :]])

    def copy(self, site: str, parent: str, when: datetime, *, top: tuple[str, ...] = (), bottom: tuple[str, ...] = (),
             title: str | None = None, straight: bool = False, keep: float | None = None,
             with_bio: bool = False, canonical: str | None = None) -> str:
        """Repost `parent` on `site` with that site's habits; `keep` cuts it to a share of the parent's text."""
        source, page = self.article(parent), self.pages[parent]
        paragraphs = list(source.paragraphs)
        if keep is not None:
            paragraphs = cut(source.paragraphs, keep)
        if site in STRIPS_LINKS:
            paragraphs = [p for p in map(strip_links, paragraphs) if plain(p)]
        # Each aggregator's own lines on top, which copies and excerpts of its copy inherit.
        local = when.astimezone(self.roles[self.site(site)].tz)
        header = {
            "staffwire": [f"{local:%B} {local.day}, {local.year} in News by Staffwire Staff",
                          f"by {escape(source.author)}"],
            "mirror": ["Republished by Mirror Post", f"by {escape(source.author)}"],
            "digest": ["From the Weekly Digest reading list"],
        }.get(site, [])
        paragraphs = [*header, *paragraphs]
        if with_bio:
            paragraphs += [f"About the author: {source.bio[0]}" if source.bio else ""]
        if straight:
            paragraphs = [straighten(p) for p in paragraphs]
        paragraphs = [*top, *paragraphs, *bottom]
        article = Article("", title or source.title, source.author, when, tuple(p for p in paragraphs if p),
                          source.lang, canonical=canonical)
        return self.add(site, article, cluster=page.cluster, relation="copy", origin=page.origin, parent=parent,
                        case=page.case)

    def later(self, page_id: str, low: float, high: float) -> datetime:
        return self.when(page_id) + timedelta(hours=self.rng.uniform(low, high))

    def copies(self, origin: str, hosts: list[str], chain: float = 0.3) -> list[str]:
        """Reposts of `origin` on `hosts`, each from the origin or (with chance `chain`) an earlier copy.

        The truth must be what the texts show: a copy is never made from a relay's light edit
        (nearly the origin's text), and once one aggregator has stripped the origin's links, a
        second one copies that copy (stripping them from the origin again would give the same text).
        """
        members = [origin]
        for host in hosts:
            earlier = [m for m in members[1:] if not self.pages[m].site.startswith("relay")]
            stripped = [m for m in earlier if self.pages[m].site.rsplit("-", 1)[0] in STRIPS_LINKS]
            if host in STRIPS_LINKS and stripped:
                parent = self.rng.choice(stripped)
            else:
                parent = self.rng.choice(earlier) if earlier and self.rng.random() < chain else origin
            straight = host == "relay" or self.rng.random() < 0.2
            title = self.rng.choice(_TITLE_EDITS)(self.article(parent).title) if host == "relay" else None
            bottom = ()
            if host == "digest" and self.rng.random() < 0.5:
                bottom = (f"Source: {escape(self.roles[self.pages[parent].site].title)}",)
            members.append(self.copy(host, parent, self.later(parent, 2, 40), title=title, straight=straight,
                                     bottom=bottom))
        return members


def _cast(seed: int, templates: list[material.Template], columnist: str, notes_author: str) -> tuple[Role, ...]:
    return tuple(
        Role(f"{name}-{seed}", title.format(columnist=columnist, notes=notes_author), kind, permalink, dated, offset,
             template, encoding)
        for (name, title, kind, permalink, dated, offset, encoding), template in zip(_CAST, templates, strict=True)
    )


def _short(text: Text) -> Text:
    """A news brief: the text's opening, 25-44 words (or 60-90 characters without spaces)."""
    words = " ".join(text.paragraphs).split()
    return replace(text, paragraphs=(" ".join(words[:38]).rstrip(",;:") + ".",))


def generate(part: str, seed: int, plan: Plan, corpus_dir=material.CORPUS) -> Dataset:
    """Build the dataset of `seed`, one of the seeds of `part` ("tune" or "heldout")."""
    seeds = SEEDS[part]
    index = seeds.index(seed)
    every = [s for p in SEEDS.values() for s in p]
    rng = random.Random(seed)
    half = 0 if part == "tune" else 1
    pages = [page for page in material.corpus(corpus_dir) if material.part_of(page.name) == half]
    texts = [text for page in pages for text in material.chunks(page)]
    texts = [text for n, text in enumerate(texts) if n % len(seeds) == index]
    templates = sorted((page.template for page in pages if page.template and material.usable(page.template)),
                       key=lambda t: t.name)
    rng.shuffle(templates)
    templates = templates[index :: len(seeds)][: len(_CAST)]
    written = material.written()
    bio, notes_bio = written.bios[2 * every.index(seed)], written.bios[2 * every.index(seed) + 1]
    author, notes_author = " ".join(bio.split()[:2]), " ".join(notes_bio.split()[:2])
    writers = tuple(rng.sample(_WRITERS, 6))  # the blog without dates, the columnist, the news site's staff
    roles = _cast(seed, templates, writers[1], notes_author)
    gen = _Seed(seed, rng, {role.name: role for role in roles}, author, bio, notes_author, notes_bio, writers)
    _build(gen, plan, texts, {lang: written.articles[lang][every.index(seed)] for lang in LANGS})
    return Dataset(roles, tuple(gen.pages.values()), tuple(gen.negatives))


def _build(gen: _Seed, plan: Plan, texts: list[Text], foreign: dict[str, Text]) -> None:
    rng = gen.rng
    rng.shuffle(texts)
    by_page: dict[str, list[Text]] = defaultdict(list)
    for text in texts:
        by_page[text.key.split("#")[0]].append(text)
    # A series is two consecutive parts of one page.
    series = [tuple(sorted(group, key=lambda t: int(t.key.split("#")[1]))[:2])
              for _, group in sorted(by_page.items()) if len(group) >= 2][: plan.clusters["series"]]
    used = {t.key for pair in series for t in pair}
    rest = [t for t in texts if t.key not in used]
    release = " ".join(" ".join(rest[0].paragraphs).split()[:90])
    notes, rest = rest[1 : 1 + plan.notes], rest[1 + plan.notes :]
    cases = [case for case, count in plan.clusters.items() if case != "series" for _ in range(count)]
    cases += ["plain"] * (len(rest) - len(cases) if plan.plain is None else plan.plain)
    if len(cases) > len(rest):
        raise ValueError(f"seed {gen.seed}: {len(rest)} texts for {len(cases)} clusters")
    jobs: list[tuple[str, Text | tuple[Text, ...]]] = list(zip(cases, rest, strict=False))  # texts to spare
    jobs += [(f"lang-{lang}", text) for lang, text in foreign.items()] + [("series", pair) for pair in series]
    rng.shuffle(jobs)
    members: dict[str, list[str]] = {}
    releases: list[str] = []
    for n, (case, payload) in enumerate(jobs):
        t0 = _START + n * _STEP + timedelta(hours=rng.uniform(0, 4))
        if isinstance(payload, tuple):
            members.update(_series(gen, *payload, t0))
            continue
        members[payload.key] = _CLUSTER[case.split("-")[0] if case.startswith("lang-") else case](
            gen, payload, t0, case, release)
        if case == "press-release":
            releases.append(members[payload.key][0])
    gen.negatives += [(a, b, "press-release") for a, b in itertools.combinations(releases, 2)]
    span = len(jobs) * _STEP
    pinned = []
    for text in map(_short, notes):
        body = (escape(text.paragraphs[0], quote=False), f"About me: {escape(gen.notes_bio)}")
        article = Article("", text.title, gen.notes_author, _START + span * rng.random(), body, text.lang)
        pinned.append(gen.add("pinboard", article, cluster=None, relation="unique", origin=None, parent=None,
                              case="short-bio"))
    gen.negatives += [(a, b, "short-bio") for a, b in itertools.pairwise(pinned)]
    _excerpts(gen, plan, members)
    _roundups(gen, plan)


def _plain(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    origin = gen.origin(gen.rng.choice(("lantern", "courier")), text, t0, case)
    return gen.copies(origin, gen.rng.sample(["staffwire", "mirror", "digest", "relay"], gen.rng.choice((2, 2, 3))))


def _aggregator_staff(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    origin = gen.origin("lantern", text, t0, case, links=3)
    members = [origin, gen.copy("staffwire", origin, gen.later(origin, 3, 30))]
    if gen.rng.random() < 0.5:
        members.append(gen.copy("digest", origin, gen.later(origin, 5, 40)))
    return members


def _archived_column(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    courier = gen.roles[gen.site("courier")]
    local = t0.astimezone(courier.tz).replace(hour=10, minute=gen.rng.randint(0, 59))
    column = gen.origin("courier", text, local, case, author=gen.writers[1])
    cited = f"This column first appeared in {escape(courier.title)} on {local:%B} {local.day}, {local.year}."
    backdated = local.replace(hour=6, minute=gen.rng.randint(0, 59))
    return [column, gen.copy("columnist", column, backdated, top=(cited,)),
            gen.copy("staffwire", column, gen.later(column, 20, 50))]


def _copy_line(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    origin = gen.origin(gen.rng.choice(("lantern", "courier")), text, t0, case)
    return [origin, gen.copy("relay", origin, gen.later(origin, 3, 30), keep=gen.rng.uniform(0.61, 0.665))]


def _light_edit(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    origin = gen.origin(gen.rng.choice(("lantern", "courier")), text, t0, case)
    title = gen.article(origin).title
    return [origin,
            gen.copy("digest", origin, gen.later(origin, 3, 30), title=gen.rng.choice(_TITLE_EDITS)(title), straight=True),
            gen.copy("relay", origin, gen.later(origin, 3, 30), title=gen.rng.choice(_TITLE_EDITS)(title))]


def _chain(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    blog, aggregator = ("notebook", "staffwire") if case == "chain-dated" else ("quill", "mirror")
    origin = gen.origin("courier", text, t0, case)
    intro = gen.rng.choice(("Worth passing on: a piece that deserves more readers.",
                            "I could not have put it better myself, so here it is in full."))
    middle = gen.copy(blog, origin, gen.later(origin, 40, 60), top=(intro,))
    return [origin, middle, gen.copy(aggregator, middle, gen.later(middle, 20, 40))]


def _aggregator_relay(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    origin = gen.origin("lantern", text, t0, case, links=4)
    aggregated = gen.copy("staffwire", origin, gen.later(origin, 3, 30))
    relay = gen.copy("relay", aggregated, gen.later(aggregated, 3, 30), straight=True,
                     title=gen.rng.choice(_TITLE_EDITS)(gen.article(aggregated).title))
    # The light edit drops the aggregator's dateline but keeps its byline line and its cuts.
    post = gen.article(relay)
    gen.pages[relay] = replace(gen.pages[relay], post=replace(post, paragraphs=post.paragraphs[1:]))
    return [origin, aggregated, relay]


def _undated_origin(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    origin = gen.origin("quill", text, t0, case, author=gen.writers[0])
    return [origin, gen.copy("staffwire", origin, gen.later(origin, 5, 30)),
            gen.copy("digest", origin, gen.later(origin, 5, 30))]


def _updated_origin(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    updated = t0 + timedelta(days=gen.rng.uniform(4, 8))
    origin = gen.origin("lantern", text, t0, case, updated=updated)
    return gen.copies(origin, gen.rng.sample(["staffwire", "mirror", "digest"], 2), chain=0)


def _cite(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    courier = gen.roles[gen.site("courier")]
    local = t0.astimezone(courier.tz).replace(hour=gen.rng.randint(7, 11))
    origin = gen.origin("courier", text, local, case)
    link = f'<a href="{{{{url:{origin}}}}}">{{{{url:{origin}}}}}</a>'
    bottom = {
        "cite-read-more": (f"Read more at {link}",),
        "cite-originally": (f"This article originally appeared at {link}",),
        "cite-source": (f"Source: {escape(courier.title)}",),
        "cite-canonical": (),
    }[case]
    blog = gen.copy("notebook", origin, gen.later(origin, 1, 6), bottom=bottom,
                    canonical=origin if case == "cite-canonical" else None)
    return [origin, blog, gen.copy("staffwire", origin, gen.later(origin, 30, 60))]


def _short_case(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    origin = gen.origin("courier", _short(text), t0, case, links=0)
    return [origin, gen.copy("staffwire", origin, gen.later(origin, 2, 20)),
            gen.copy("digest", origin, gen.later(origin, 2, 20), bottom=(f"Source: {escape(gen.roles[gen.site('courier')].title)}",))]


def _boilerplate_bio(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    origin = gen.origin("lantern", text, t0, case)
    # One copy only: a second one with the bio would share it with the first, not with the origin's text.
    return [origin, gen.copy(gen.rng.choice(("digest", "staffwire")), origin, gen.later(origin, 3, 30), with_bio=True)]


def _lang(gen: _Seed, text: Text, t0: datetime, case: str, _: str) -> list[str]:
    origin = gen.origin(gen.rng.choice(("lantern", "courier")), text, t0, case, links=0)
    return gen.copies(origin, ["staffwire", "digest", "relay"], chain=0.3)


def _press_release(gen: _Seed, text: Text, t0: datetime, case: str, release: str) -> list[str]:
    site = ("lantern", "courier", "quill")[sum(1 for p in gen.pages.values() if p.case == case and p.relation == "origin") % 3]
    quoted = (f"In a statement released on Monday, the organisers wrote: “{escape(release, quote=False)}”",)
    origin = gen.origin(site, text, t0, case, extra=quoted)
    return [origin, gen.copy(gen.rng.choice(("staffwire", "digest")), origin, gen.later(origin, 3, 30))]


def _series(gen: _Seed, first: Text, second: Text, t0: datetime) -> dict[str, list[str]]:
    opening = re.split(r"(?<=[.!?])\s", first.paragraphs[0], maxsplit=1)[0]
    part1 = replace(first, title=f"{first.title} (part 1 of 2)")
    part2 = replace(second, title=f"{first.title} (part 2 of 2)",
                    paragraphs=(f"In the first part I began with this: {opening}", *second.paragraphs))
    one = gen.origin("lantern", part1, t0, "series")
    two = gen.origin("lantern", part2, t0 + timedelta(days=gen.rng.uniform(2, 4)), "series")
    copies_one = [gen.copy("staffwire", one, gen.later(one, 3, 20))]
    copies_two = [gen.copy("staffwire", two, gen.later(two, 3, 20))]
    gen.negatives += [(one, two, "series"), (copies_one[0], copies_two[0], "series")]
    return {first.key: [one, *copies_one], second.key: [two, *copies_two]}


_CLUSTER = {
    "plain": _plain, "aggregator-staff": _aggregator_staff, "archived-column": _archived_column,
    "copy-line": _copy_line, "light-edit": _light_edit, "chain-dated": _chain, "chain-undated": _chain,
    "aggregator-relay": _aggregator_relay, "undated-origin": _undated_origin, "updated-origin": _updated_origin,
    "cite-read-more": _cite, "cite-originally": _cite, "cite-source": _cite, "cite-canonical": _cite,
    "short": _short_case, "boilerplate-bio": _boilerplate_bio, "lang": _lang, "press-release": _press_release,
}


def _excerpts(gen: _Seed, plan: Plan, members: dict[str, list[str]]) -> None:
    """The scraper's excerpts, each of one member of a corpus-text cluster, ending "Read more at URL".

    Links are unwrapped, their words kept, and a source is never a relay's light edit: the excerpt
    must be closest to its source (a tie with the origin's own text goes to the origin).
    """
    eligible = sorted(key for key, ids in members.items()
                      if gen.pages[ids[0]].case in ("plain", "aggregator-staff", "updated-origin", "light-edit"))
    shares = [("excerpt-half", 0.35, 0.5)] * plan.excerpt_half + [("excerpt-line", 0.545, 0.59)] * plan.excerpt_line
    for key, (case, low, high) in zip(gen.rng.sample(eligible, len(shares)), shares, strict=True):
        source = gen.rng.choice([m for m in members[key] if not gen.pages[m].site.startswith("relay")])
        link = f'<a href="{{{{url:{source}}}}}">{{{{url:{source}}}}}</a>'
        body = tuple(escape(plain(p), quote=False) for p in cut(gen.article(source).paragraphs, gen.rng.uniform(low, high)))
        article = replace(gen.article(source), paragraphs=(*body, f"Read more at {link}"), bio=(), updated=None,
                          canonical=None, published=gen.later(source, 2, 30))
        gen.add("scraper", article, cluster=None, relation="excerpt", origin=None, parent=source, case=case)


def _roundups(gen: _Seed, plan: Plan) -> None:
    """The courier's roundups, each quoting the opening words of three of its articles."""
    courier = sorted((p for p in gen.pages.values() if p.site == gen.site("courier") and p.relation == "origin"
                      and p.case not in ("short",) and not p.case.startswith("lang-")),
                     key=lambda p: p.post.published)
    size = 3 if plan.roundups > 1 else 2
    stride = max(len(courier) // (plan.roundups + 1), size)
    for number in range(1, plan.roundups + 1):
        items = courier[number * stride - size : number * stride]
        lines = ["A selection of what we published this week, in case you missed it."]
        for item in items:
            opening = " ".join(plain(item.post.paragraphs[0]).split()[:25])
            lines.append(f"<strong>{escape(item.post.title)}</strong>: {escape(opening, quote=False)} …")
        lines.append("Every article is free to read. The Courier is funded by its readers.")
        when = max(item.post.published for item in items) + timedelta(hours=gen.rng.uniform(2, 20))
        article = Article("", f"The week in review, no. {number}", "The Courier", when, tuple(lines), "en")
        roundup = gen.add("courier", article, cluster=None, relation="unique", origin=None, parent=None, case="roundup")
        gen.negatives += [(roundup, item.id, "roundup") for item in items]


def part_dataset(part: str, plan: Plan = FULL, corpus_dir=material.CORPUS) -> Dataset:
    """Both seeds of `part` in one dataset (their sites side by side), as one crawl serves them."""
    sets = [generate(part, seed, plan, corpus_dir) for seed in SEEDS[part]]
    return Dataset(tuple(r for s in sets for r in s.roles), tuple(p for s in sets for p in s.pages),
                   tuple(n for s in sets for n in s.negatives))


def summary(dataset: Dataset) -> str:
    """Describe `dataset`: pages per seed and relation, clusters and singletons per case, negatives per trap."""
    pages = dataset.pages
    seeds = Counter(page.site.rsplit("-", 1)[1] for page in pages)
    lines = [
        f"{len(pages)} pages on {len(dataset.roles)} sites (" + ", ".join(f"seed {s}: {n}" for s, n in sorted(seeds.items())) + ")",
        "relations: " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(p.relation for p in pages).items())),
        "cases (clusters or singletons / pages): " + ", ".join(
            f"{case} {len({p.cluster for p in pages if p.case == case})}/{n}"
            for case, n in sorted(Counter(p.case for p in pages).items())),
        "hard-negative pairs: " + ", ".join(
            f"{k} {v}" for k, v in sorted(Counter(trap for _, _, trap in dataset.negatives).items())),
    ]
    return "\n".join(lines)
