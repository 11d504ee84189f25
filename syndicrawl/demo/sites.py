"""Site generators: WordPress-like and Blogger-like blogs built from article data.

Crawler, archive and syndication tests need sites that behave like the platforms the
crawler meets (feeds, archives, sitemaps, robots.txt, conditional GET, gzip), with
articles we control. Pages contain absolute links, so a site is built for a known
`base_url`: hand `SiteServer` a factory, e.g.
``SiteServer(lambda base: wordpress_site("RBN", posts, base_url=base))``.
"""

from __future__ import annotations

from syndicrawl.demo.articles import load_demo
from syndicrawl.demo.base import Post, Reply, Site
from syndicrawl.demo.blogger import BloggerSite
from syndicrawl.demo.wordpress import WordPressSite

__all__ = ["BloggerSite", "Post", "Reply", "Site", "WordPressSite", "blogger_site", "demo_posts", "wordpress_site"]


#: Factories by the names tests and the evaluation use; the classes take the same arguments.
wordpress_site = WordPressSite
blogger_site = BloggerSite


def demo_posts() -> tuple[list[Post], list[Post]]:
    """Return (the author's blog posts, the RBN site's posts) of the bundled demo."""
    blog, rbn = load_demo()
    return blog.posts, rbn.posts
