"""The demo's stealth edit: after the crawl, the blog changes one post without saying so.

News sites soften a headline and cut a paragraph after publication, with no "Updated:" note
and no new modification time (NewsDiffs' finds). The demo serves such a version of one post
on a second crawl of the blog, so ``syndicrawl revisions --changed-since`` has one to find.
The post has no copy on RBN: the demo's chains stay as they were.
"""

from __future__ import annotations

import re
from dataclasses import replace

from syndicrawl.demo.blogger import BloggerSite

SLUG = "aleppo-and-the-information-war"
TITLE = "Aleppo and the Media"
#: The paragraph cut (0-based): the one on Iraq in 2003 and Libya in 2011.
DROPPED = 5

_PARAGRAPH = re.compile(r"<p>.*?</p>\s*", re.DOTALL)


def edited(site: BloggerSite) -> BloggerSite:
    """The same blog with ``SLUG`` retitled and its paragraph ``DROPPED`` removed, dates unchanged."""
    posts = []
    for post in site.posts:
        if post.slug == SLUG:
            paragraphs = _PARAGRAPH.findall(post.html_body)
            body = post.html_body.replace(paragraphs[DROPPED], "", 1)
            post = replace(post, title=TITLE, html_body=body)
        posts.append(post)
    return BloggerSite(site.name, posts, base_url=site.base_url, tagline=site.tagline)
