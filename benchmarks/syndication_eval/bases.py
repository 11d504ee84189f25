"""Base articles, the texts every generated case starts from, and the extra texts of the hard negatives.

Two sources: the real pages in the shared corpus (text extracted exactly as the crawler
would, so the benchmark runs on real prose in several languages) and the demo content
shipped with syndicrawl (small and always present, for the test suite). The extra texts
(a long author bio, short notes, long quotations) live in ``texts.toml`` beside this file.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from html import escape
from importlib import resources
from pathlib import Path

from archive.errors import ExtractionError
from archive.ingest.extract import extract_article
from benchmarks.syndication_eval.text import html_text, words

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "pages"
MIN_WORDS = 300

_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.DOTALL)


@dataclass(frozen=True)
class BaseArticle:
    """One article's own text: a title and paragraphs of HTML (escaped text, perhaps links)."""

    key: str
    title: str
    paragraphs: tuple[str, ...]

    @property
    def word_count(self) -> int:
        return len(words(html_text(self.paragraphs)))


@dataclass(frozen=True)
class Extras:
    """Texts of the hard negatives: see ``texts.toml``."""

    bio: tuple[str, ...]
    notes: tuple[BaseArticle, ...]
    quotes: tuple[str, ...]


def _escaped(lines: list[str]) -> tuple[str, ...]:
    return tuple(escape(line, quote=False) for line in lines if line.strip())


def corpus_bases(directory: Path, min_words: int = MIN_WORDS) -> list[BaseArticle]:
    """Return the corpus pages whose extracted text has at least `min_words` words, by file name."""
    bases = []
    for path in sorted(directory.glob("*.html")):
        try:
            article = extract_article(path.read_bytes(), f"https://{path.stem}/")
        except ExtractionError:
            continue  # a page without an article is no base for copies
        base = BaseArticle(f"corpus-{path.stem}", article.title or path.stem, _escaped(article.text.split("\n")))
        if base.word_count >= min_words:
            bases.append(base)
    return bases


def demo_bases() -> list[BaseArticle]:
    """Return the demo blog's and the demo RBN site's own articles (not RBN's copies)."""
    content = resources.files("syndicrawl.demo").joinpath("content")
    bases = []
    for index_name in ("blog.toml", "rbn.toml"):
        index = tomllib.loads(content.joinpath(index_name).read_text(encoding="utf-8"))
        for entry in index["posts"]:
            if "body" in entry:
                body = content.joinpath(entry["body"]).read_text(encoding="utf-8")
                paragraphs = tuple(p.strip() for p in _PARAGRAPH.findall(body))
                bases.append(BaseArticle(f"demo-{entry['slug']}", entry["title"], paragraphs))
    return bases


def demo_footer() -> tuple[str, ...]:
    """Return the demo author's bio, with the links reposts strip ("He can be reached at")."""
    footer = resources.files("syndicrawl.demo").joinpath("content", "blog-footer.html").read_text(encoding="utf-8")
    return tuple(p.strip() for p in _PARAGRAPH.findall(footer))


def extras() -> Extras:
    """Load ``texts.toml``."""
    data = tomllib.loads(Path(__file__).with_name("texts.toml").read_text(encoding="utf-8"))
    notes = tuple(BaseArticle(note["key"], note["title"], _escaped(note["text"])) for note in data["notes"])
    return Extras(_escaped(data["bio"]), notes, tuple(escape(q["text"], quote=False) for q in data["quotes"]))


def split(base: BaseArticle) -> tuple[BaseArticle, BaseArticle]:
    """Cut a long article into two articles on the same topic, as a columnist's two-part series.

    The second part opens by recalling the first part's opening sentence, as such series do:
    the two share a little text but are different articles (a hard negative).
    """
    half = len(base.paragraphs) // 2
    first, second = base.paragraphs[:half], base.paragraphs[half:]
    opening = re.split(r"(?<=[.!?])\s", first[0], maxsplit=1)[0]
    recap = f"In the first part of this series I started from a simple observation: {opening}"
    return (
        BaseArticle(f"{base.key}-part-1", f"{base.title} (Part 1)", first),
        BaseArticle(f"{base.key}-part-2", f"{base.title} (Part 2)", (recap, *second)),
    )
