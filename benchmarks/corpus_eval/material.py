"""The material of the set, read from the shared corpus of real pages at run time (never copied in).

Each corpus page gives two things. Its main text, found with lxml alone (the paragraphs of the
element holding the most paragraph text, not trafilatura's choice, so the texts do not come
from the extractor under test), cut into base articles of a few paragraphs. And its chrome:
the page with that main area emptied, its scripts, media, metadata and outgoing links gone,
used as the template of one generated site, so every site has a real header, nav, sidebar and
footer that extraction must see past. Paragraphs found on more than one page (cookie notices,
newsletter boxes) are dropped from the texts. The languages the corpus lacks (Chinese,
Japanese, Russian, Arabic), the author bios and the site lines are in ``texts.toml``.
"""

from __future__ import annotations

import re
import tomllib
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path

import lxml.html
from lxml import etree

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "corpus" / "pages"
CORPUS_MISSING = "the shared corpus of real pages is not at {corpus}: the corpus evaluation needs it"

MAX_CHROME = 300  # characters of a template's chrome extraction may keep with the article
MIN_PARAGRAPH = 60  # characters: shorter <p> are captions, credits, buttons
CHUNK_WORDS = (170, 330)  # a base article's words, between these when the page has enough
_MARK = "corpus-eval-main"
_DROP = ("script", "noscript", "style", "iframe", "img", "picture", "source", "video", "audio", "svg", "canvas",
         "object", "embed", "form", "time", "link", "meta", "base", "template", "button", "input", "select")
_MAIN_TAGS = ("article", "main")
# Dates in the chrome (a sidebar's "12.03.2019", a footer's "© 2019") would be read as the page's date.
_DATE_LIKE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\b(?:19|20)\d{2}\b")


@dataclass(frozen=True)
class Text:
    """A base article: a title and plain-text paragraphs in one language."""

    key: str
    title: str
    paragraphs: tuple[str, ...]
    lang: str

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


@dataclass(frozen=True)
class Template:
    """A real page's chrome with a hole where its article was; `render` fills it."""

    name: str
    html: str

    def render(self, *, title: str, head: str, main: str, lang: str) -> str:
        """Return the page with `title`, extra `head` markup, the `main` article markup and `lang`."""
        page = self.html.replace("<!--corpus-eval-title-->", escape(title, quote=False), 1)
        page = page.replace("<!--corpus-eval-head-->", head, 1)
        page = page.replace("<!--corpus-eval-lang-->", lang, 1)
        return page.replace(f'<div id="{_MARK}"></div>', main, 1)


@dataclass(frozen=True)
class Page:
    """One corpus file: its main-text paragraphs and, when it makes a usable template, its chrome."""

    name: str
    lang: str
    title: str
    paragraphs: tuple[str, ...]
    template: Template | None


def _clean(text: str) -> str:
    return " ".join(text.split())


def _main_area(tree: lxml.html.HtmlElement) -> tuple[lxml.html.HtmlElement, list[str]] | None:
    """Return the element to empty (the paragraphs' container, or its enclosing article/main) and the paragraphs."""
    mass: Counter[lxml.html.HtmlElement] = Counter()
    for p in tree.iter("p"):
        text = _clean(p.text_content())
        if len(text) >= MIN_PARAGRAPH and p.getparent() is not None:
            mass[p.getparent()] += len(text)
    if not mass:
        return None
    container = mass.most_common(1)[0][0]
    paragraphs = [_clean(p.text_content()) for p in container.iter("p")]
    area = container
    for ancestor in list(container.iterancestors())[:4]:
        if ancestor.tag in _MAIN_TAGS or ancestor.get("role") == "main":
            area = ancestor
            break
    if area.tag in ("body", "html"):
        area = container
    return area, [p for p in paragraphs if len(p) >= MIN_PARAGRAPH]


def _chrome(tree: lxml.html.HtmlElement, area: lxml.html.HtmlElement, name: str) -> Template | None:
    """Empty `area`, strip what a template must not carry, and mark the holes (in place); None without a body."""
    for child in list(area):
        area.remove(child)
    area.text = None
    hole = lxml.html.Element("div", id=_MARK)
    area.append(hole)
    etree.strip_elements(tree, *_DROP, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    body, head = tree.find("body"), tree.find("head")
    if body is None or head is None:
        return None
    for heading in body.iter("h1"):
        heading.tag = "div"  # the article brings its own h1
    for element in tree.iter(etree.Element):
        for attribute in [a for a in element.attrib if a.startswith("on") or a in ("style", "srcset", "src")]:
            del element.attrib[attribute]
        if element.tag == "a":
            element.attrib.clear()
            element.set("href", "#")
        if element.text:
            element.text = _DATE_LIKE.sub("", element.text)
        if element.tail:
            element.tail = _DATE_LIKE.sub("", element.tail)
    tree.attrib.clear()
    head.clear()
    markup = lxml.html.tostring(tree, encoding="unicode", doctype="<!DOCTYPE html>")
    markup = markup.replace("<html>", '<html lang="<!--corpus-eval-lang-->">', 1)
    markup = markup.replace(
        "<head></head>",
        '<head>\n<meta charset="utf-8">\n<title><!--corpus-eval-title--></title>\n<!--corpus-eval-head-->\n</head>', 1,
    )
    return Template(name, markup) if "<!--corpus-eval-head-->" in markup else None


def _title(tree: lxml.html.HtmlElement) -> str:
    for path in ("//h1", "//title"):
        for element in tree.xpath(path):
            text = _clean(element.text_content())
            if 10 <= len(text) <= 140:
                return text
    return ""


def read_page(path: Path) -> Page | None:
    """Read one corpus file; None when it has no main area of paragraphs."""
    tree = lxml.html.fromstring(path.read_bytes())
    found = _main_area(tree)
    if found is None:
        return None
    area, paragraphs = found
    lang = (tree.get("lang") or "und").split("-")[0].lower()
    title = _title(tree)
    return Page(path.stem, lang, title, tuple(paragraphs), _chrome(tree, area, path.stem))


@cache
def corpus(directory: Path = CORPUS) -> tuple[Page, ...]:
    """Read every page of the corpus, in file-name order, without the paragraphs several pages share."""
    pages = [page for path in sorted(directory.glob("*.html")) if (page := read_page(path)) is not None]
    seen = Counter(p for page in pages for p in set(page.paragraphs))
    return tuple(
        Page(page.name, page.lang, page.title, tuple(p for p in page.paragraphs if seen[p] == 1), page.template)
        for page in pages
    )


def part_of(name: str) -> int:
    """Which half of the corpus a file belongs to (0: tune, 1: held out), fixed by a hash of its name."""
    return zlib.crc32(name.encode()) % 2


def chunks(page: Page) -> list[Text]:
    """Cut a page's paragraphs into base articles of CHUNK_WORDS words; the first keeps the page's title."""
    texts: list[Text] = []
    current: list[str] = []
    for paragraph in page.paragraphs:
        current.append(paragraph)
        if sum(len(p.split()) for p in current) >= CHUNK_WORDS[0]:
            texts.append(_text(page, len(texts), current))
            current = []
    if current and sum(len(p.split()) for p in current) >= CHUNK_WORDS[0] // 2 and texts:
        texts[-1] = _text(page, len(texts) - 1, [*texts[-1].paragraphs, *current])
    return [text for text in texts if text.words <= CHUNK_WORDS[1] * 2]


def _text(page: Page, number: int, paragraphs: list[str]) -> Text:
    words = paragraphs[0].split()
    title = page.title if number == 0 and page.title else " ".join(words[:9]).rstrip(",;:") + " …"
    return Text(f"{page.name}#{number}", title, tuple(paragraphs), page.lang)


@dataclass(frozen=True)
class Written:
    """What ``texts.toml`` holds: articles by language, author bios, and the sites' own lines."""

    articles: dict[str, tuple[Text, ...]]
    bios: tuple[str, ...]


@cache
def written() -> Written:
    """Load ``texts.toml`` (the articles in the languages the corpus lacks, and the bios)."""
    data = tomllib.loads(Path(__file__).with_name("texts.toml").read_text(encoding="utf-8"))
    articles: dict[str, list[Text]] = defaultdict(list)
    for n, entry in enumerate(data["article"]):
        paragraphs = tuple(_clean(p) for p in entry["text"].strip().split("\n\n"))
        articles[entry["lang"]].append(Text(f"written-{entry['lang']}-{n}", entry["title"], paragraphs, entry["lang"]))
    return Written({lang: tuple(texts) for lang, texts in articles.items()}, tuple(_clean(b) for b in data["bio"]))


_SAMPLE = (
    "The council met on Tuesday evening to discuss the new timetable for the harbour ferries, which has been "
    "criticised by commuters since it was introduced in the spring.",
    "Several speakers asked for an earlier first crossing on weekdays, and the harbour master promised to "
    "publish the passenger counts of the last six months before the next meeting.",
    "A decision on the winter schedule is expected in October, after the operator has presented the costs of "
    "running two additional boats during the busiest hours of the day.",
)


@cache
def usable(template: Template) -> bool:
    """Whether extraction finds all of a sample article in `template`, and little else.

    A line or two of chrome kept with the article is part of the test (boilerplate one site's
    extraction keeps); a layout that hides the article, or buries it in kilobytes of teasers
    kept on every page, would only measure the extractor.
    """
    from archive.errors import ExtractionError
    from archive.ingest.extract import extract_article

    main = '<article><h1>Ferry timetable</h1><div class="entry-content">' + "".join(f"<p>{p}</p>" for p in _SAMPLE) + "</div></article>"
    try:
        text = extract_article(template.render(title="Ferry timetable", head="", main=main, lang="en"),
                               "http://127.0.0.1/sample/").text
    except ExtractionError:
        return False
    return all(p[:60] in text for p in _SAMPLE) and len(text) <= len(" ".join(_SAMPLE)) + MAX_CHROME
