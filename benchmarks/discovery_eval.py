"""Discovery on sites of no known theme: article recall and non-articles stored, per listing style.

For each style of ``syndicrawl.demo.newssite.STYLES`` (a plain ``<ul>`` with a front page linking
every ``/page/N/``, cards with a numbered ``?page=N`` pager, an ``<article>`` grid with an "Ältere
Artikel" link, cards with an infinite scroll's "Load more" fallback, a list with a numbered pager)
it serves a site on 127.0.0.1 whose stories are the real pages of ``/work/shared/corpus/pages``
(news and blog markup in several languages; each story's body made unique by a trailing comment,
cycled when there are more stories than pages), with section, tag, about and privacy pages around
them. Then it runs ``syndicrawl crawl`` (the real CLI, extraction on) on a source with only the
front page and ``backfill_pages`` = the number of listing pages, and counts, from the database:

- recall: stories stored as articles (``status = 'ok'``) / stories;
- non-articles stored: other HTML pages stored as articles / other HTML pages captured (listing,
  section and promoted pages); the targets are recall >= 0.98 and at most 1 %.

It prints the crawl's CPU seconds per page (the process and its children: the archive writer and
the extractors), which, unlike wall time, holds on a shared machine.

    .venv/bin/python benchmarks/discovery_eval.py [--stories 300] [--per-page 30] [--styles plain-list,...]

Skipped, with a message, when the corpus is absent.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from lxml import html as lxml_html

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from syndicrawl.demo.newssite import SECTIONS, STYLES, NewsSite, Story  # noqa: E402
from syndicrawl.demo.server import SiteServer  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "pages"
SETTINGS = """[crawl]
download_delay = 0.0
autothrottle = false
obey_robots = false
"""


def _summary(page: bytes) -> tuple[str, str]:
    """A corpus page's headline (its <h1>, else <title>) and a teaser (its first long paragraph)."""
    tree = lxml_html.fromstring(page)
    heads = [" ".join(h.text_content().split()) for h in tree.iter("h1")] + [" ".join((tree.findtext(".//title") or "").split())]
    title = next((h for h in heads if len(h.split()) >= 3), heads[0] or "Untitled story")
    paragraphs = (" ".join(p.text_content().split()) for p in tree.iter("p"))
    return title[:120], next((p for p in paragraphs if len(p) > 80), "")[:200]


def corpus_stories(count: int) -> list[Story]:
    """``count`` stories from the corpus pages, one an hour, across the sections."""
    pages = sorted(CORPUS.glob("*.html"))
    summaries = [_summary(path.read_bytes()) for path in pages]
    start = datetime(2024, 3, 1, 9, 0, tzinfo=timezone.utc)
    stories = []
    for n in range(count):
        path = pages[n % len(pages)]
        title, teaser = summaries[n % len(pages)]
        body = path.read_bytes() + f"\n<!-- story {n} -->\n".encode()
        slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
        published = start + timedelta(hours=n)
        stories.append(Story(f"/{published:%Y/%m}/{slug}-{n}.html", f"{title} ({n})", teaser, published,
                             SECTIONS[n % len(SECTIONS)], (f"topic {n % 5}",), body))
    return stories


def crawl(style: str, stories: list[Story], per_page: int, workdir: Path) -> dict[str, float]:
    """One crawl of one site; its figures."""
    with SiteServer(lambda base: NewsSite("Corpus Courier", stories, base_url=base, style=style, per_page=per_page)) as server:
        site = server.site
        sources = workdir / f"{style}.toml"
        sources.write_text(
            f'[[source]]\nname = "{style}"\nkind = "origin"\nstart_urls = ["{server.url("/")}"]\n'
            f"backfill_pages = {len(site.pages)}\nprivate_addresses = true\n",
            encoding="utf-8",
        )
        settings = workdir / "settings.toml"
        settings.write_text(SETTINGS, encoding="utf-8")
        data = workdir / style
        command = [sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources), "--data-dir", str(data),
                   "--settings", str(settings)]
        started = time.monotonic()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _, stderr = process.communicate()
        wall = time.monotonic() - started
        if process.returncode != 0:
            raise SystemExit(f"{style}: crawl exited {process.returncode}:\n{stderr[-2000:]}")
        db = sqlite3.connect(data / "syndicrawl.sqlite3")
        rows = dict(db.execute("SELECT url, status FROM articles"))
        errors = dict(db.execute("SELECT url, error FROM articles WHERE status != 'ok'"))
        html_pages = {url for (url,) in db.execute(
            "SELECT url FROM captures WHERE status = 200 AND mime LIKE 'text/html%'"
        )}
        db.close()
    wanted = site.story_urls
    stored = {url for url, status in rows.items() if status == "ok"}
    others = html_pages - wanted
    missed = sorted(wanted - stored)
    for url in missed[:5]:
        print(f"  {style}: missed {url}: {errors.get(url, 'not fetched')}", file=sys.stderr)
    return {
        "stories": len(wanted),
        "recall": len(stored & wanted) / len(wanted),
        "others": len(others),
        "others_stored": len(stored & others),
        "pages": len(html_pages),
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stories", type=int, default=300, help="stories per site (default 300)")
    parser.add_argument("--per-page", type=int, default=30, help="stories per listing page (default 30)")
    parser.add_argument("--styles", default=",".join(STYLES), help="comma-separated styles (default: all)")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"skipped: no corpus at {CORPUS}")
        return
    stories = corpus_stories(args.stories)
    print(f"{args.stories} stories a site ({len(list(CORPUS.glob('*.html')))} corpus pages), {args.per_page} a listing page")
    print(f"{'style':<18} {'recall':>8} {'non-articles stored':>22} {'HTML pages':>11} {'wall s':>7} {'CPU s/page':>11}")
    failed = False
    with tempfile.TemporaryDirectory(prefix="discovery-eval-") as tmp:
        for style in args.styles.split(","):
            before = os.times()  # the crawl's CPU, its writer's and extractors' included, once reaped
            figures = crawl(style, stories, args.per_page, Path(tmp))
            after = os.times()
            cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
            share = figures["others_stored"] / figures["others"] if figures["others"] else 0.0
            print(f"{style:<18} {figures['recall']:>8.3f} {figures['others_stored']:>6}/{figures['others']:<4} ({share:>5.1%})"
                  f" {figures['pages']:>11} {figures['wall']:>7.1f} {cpu / max(1, figures['pages']):>11.4f}")
            failed |= figures["recall"] < 0.98 or share > 0.01
    print("targets: recall >= 0.98, non-articles stored <= 1 %: " + ("missed" if failed else "met"))


if __name__ == "__main__":
    main()
