"""The demo corpus: the author's blog and the RBN repost site, loaded from `content/`.

`blog.toml` and `rbn.toml` index the posts; bodies are HTML fragments beside them. The
user's example is kept verbatim as a text file and served as RBN's copy. RBN's other
copies of blog posts are derived here the way RBN made them (a "by AUTHOR" line on
top, every link removed together with its text, sometimes the bio cut), so each text is
stored once and the copies cannot drift from their originals.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from syndicrawl.demo.base import Post
from syndicrawl.demo.render import escape

# Our own fragments only: no nested anchors, so a non-greedy match is exact.
_LINK = re.compile(r"\s*<a\b[^>]*>.*?</a>", re.DOTALL)


@dataclass(frozen=True)
class SiteContent:
    """One demo site: its name, tagline and posts."""

    name: str
    tagline: str
    posts: list[Post]


def _read(name: str) -> str:
    return resources.files("syndicrawl.demo").joinpath("content", name).read_text(encoding="utf-8")


def _index(name: str) -> dict[str, Any]:
    return tomllib.loads(_read(name))


def _post(index: dict[str, Any], entry: dict[str, Any], title: str, body: str) -> Post:
    return Post(
        slug=entry["slug"],
        title=title,
        author=entry.get("author", index["author"]),
        published=entry["published"],
        updated=entry.get("updated"),
        html_body=body,
        categories=tuple(entry.get("categories", ())),
    )


def strip_links(html: str) -> str:
    """Remove every link with its text, as RBN's copies lose "He can be reached at <a>...</a>"."""
    return _LINK.sub("", html)


def text_to_html(lines: list[str]) -> str:
    """Turn captured text, one paragraph a line, back into paragraphs."""
    return "".join(f"<p>{escape(line, quote=False)}</p>\n" for line in lines if line.strip())


def load_demo() -> tuple[SiteContent, SiteContent]:
    """Load (the author's blog, the RBN site) from the packaged content."""
    blog = _index("blog.toml")
    footer = _read(blog["footer"])
    originals: dict[str, tuple[Post, str]] = {}
    for entry in blog["posts"]:
        body = _read(entry["body"])
        originals[entry["slug"]] = (_post(blog, entry, entry["title"], body + footer), body)

    rbn = _index("rbn.toml")
    copies = []
    for entry in rbn["posts"]:
        if "text" in entry:
            title, _meta_line, *paragraphs = _read(entry["text"]).split("\n")
            copies.append(_post(rbn, entry, title, text_to_html(paragraphs)))
        elif "repost_of" in entry:
            original, without_bio = originals[entry["repost_of"]]
            copied = without_bio if entry.get("cut_footer") else original.html_body
            body = f"<p>by {escape(original.author)}</p>\n{strip_links(copied)}"
            copies.append(_post(rbn, entry, original.title, body))
        else:
            copies.append(_post(rbn, entry, entry["title"], _read(entry["body"])))
    blog_site = SiteContent(blog["name"], blog["tagline"], [post for post, _ in originals.values()])
    return blog_site, SiteContent(rbn["name"], rbn["tagline"], copies)
