"""A WordPress 4.6 site with a Twenty Sixteen-like theme, rendered from posts.

It has WordPress's URL layout: "day and name" permalinks (/YYYY/MM/DD/slug/), home,
category and author archives paged at .../page/N/ with "Older posts" links, /?p=ID
shortlinks, /feed/ and /feed/atom/, a Yoast-style sitemap index pointing at a gzip file,
and robots.txt. Each page carries the chrome real sites have (header, menu, sidebar with
recent posts, footer boilerplate, comment form), so extractors must find the article.
"""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone

from syndicrawl.demo.base import GeneratedSite, Post, Reply, Resource, redirect
from syndicrawl.demo.feeds import Channel, Entry, wordpress_atom, wordpress_rss
from syndicrawl.demo.render import escape, excerpt, fill, long_date, newest_first, paginate, slugify
from syndicrawl.demo.sitemaps import robots_txt, sitemap_index, urlset

_HTML = "text/html; charset=UTF-8"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_NOT_FOUND = """<section class="error-404 not-found">
<header class="page-header"><h1 class="page-title">Oops! That page can&rsquo;t be found.</h1></header>
<div class="page-content"><p>It looks like nothing was found at this location. Maybe try a search?</p></div>
</section>"""


def _archive_path(prefix: str, number: int) -> str:
    """Return the path of page `number` of an archive: PREFIX/ then PREFIX/page/2/ on."""
    return f"{prefix}/" + (f"page/{number}/" if number > 1 else "")


def _categories(post: Post) -> tuple[str, ...]:
    # WordPress files a post without categories under "Uncategorized".
    return post.categories or ("Uncategorized",)


class WordPressSite(GeneratedSite):
    """A WordPress blog at `base_url`, every page rendered at construction."""

    def __init__(
        self,
        name: str,
        posts: Sequence[Post],
        *,
        base_url: str,
        tagline: str = "",
        per_page: int = 5,
        feed_items: int = 5,
        robots_disallow: Sequence[str] = ("/wp-admin/",),
    ) -> None:
        super().__init__(base_url)
        self.name = name
        self.tagline = tagline
        self.posts = newest_first(posts)
        # WordPress numbers posts in the order they were written.
        self.post_ids = {post.slug: 100 + 3 * n for n, post in enumerate(reversed(self.posts))}
        if len(self.post_ids) != len(self.posts):
            raise ValueError(f"{name}: two posts share a slug; WordPress slugs are unique")
        self._by_id = {self.post_ids[post.slug]: post for post in self.posts}
        self._updated = max((post.modified for post in self.posts), default=_EPOCH)
        self.categories = sorted({name for post in self.posts for name in _categories(post)})
        self._chrome = self._render_chrome()

        self._add_archive("", "", self.posts, per_page)
        for category in self.categories:
            chosen = [post for post in self.posts if category in _categories(post)]
            self._add_archive(f"/category/{slugify(category)}", f"Category: {category}", chosen, per_page)
        for author in sorted({post.author for post in self.posts}):
            chosen = [post for post in self.posts if post.author == author]
            self._add_archive(f"/author/{slugify(author)}", f"Author: {author}", chosen, per_page)
        for n, post in enumerate(self.posts):
            newer = self.posts[n - 1] if n > 0 else None
            older = self.posts[n + 1] if n + 1 < len(self.posts) else None
            self.resources[self.path(post)] = self._entry(post, newer, older)
        self._add_documents(feed_items, robots_disallow)
        missing = self._page(f"Page not found &#8211; {escape(name)}", _NOT_FOUND, "", "error404")
        self.not_found = Resource(missing, _HTML, status=404)

    def path(self, post: Post) -> str:
        """Return the permalink path of `post`: /YYYY/MM/DD/slug/."""
        return f"/{post.published:%Y/%m/%d}/{post.slug}/"

    def permalink(self, post: Post) -> str:
        """Return the absolute URL of `post`."""
        return self.base_url + self.path(post)

    def resolve(self, path: str, query: Mapping[str, list[str]]) -> Resource | Reply | None:
        """Serve /?p=ID shortlinks as WordPress does: a 301 to the permalink."""
        if path == "/" and "p" in query:
            wanted = query["p"][0]
            post = self._by_id.get(int(wanted)) if wanted.isdigit() else None
            return redirect(301, self.permalink(post)) if post else self.not_found
        return super().resolve(path, query)

    def _render_chrome(self) -> dict[str, str]:
        """Render the menu and sidebar lists, identical on every page."""
        links = [f'<a href="{escape(self._category_url(name))}">{escape(name)}</a>' for name in self.categories]
        return {
            "menu": "\n".join(f'<li class="menu-item menu-item-type-taxonomy">{link}</li>' for link in links[:5]),
            "categories": "\n".join(f'<li class="cat-item">{link}</li>' for link in links),
            "recent": "\n".join(
                f'<li><a href="{escape(self.permalink(post))}">{escape(post.title)}</a></li>' for post in self.posts[:5]
            ),
        }

    def _page(self, doc_title: str, main: str, head_extra: str, body_class: str) -> bytes:
        return fill(
            "wordpress-page.html",
            doc_title=doc_title,
            site_name=escape(self.name),
            tagline=escape(self.tagline),
            base=escape(self.base_url),
            head_extra=head_extra,
            body_class=body_class,
            main=main,
            **self._chrome,
        ).encode()

    def _category_url(self, category: str) -> str:
        return f"{self.base_url}/category/{slugify(category)}/"

    def _meta(self, post: Post) -> str:
        """Render the byline; its text reads like "November 1, 2016 in News by RBN Staff"."""
        # Twenty Sixteen marks an unedited post's only date as both published and updated.
        kind = "entry-date published" if post.updated else "entry-date published updated"
        published = f'<time class="{kind}" datetime="{post.published.isoformat()}">{long_date(post.published)}</time>'
        updated = ""
        if post.updated is not None:
            updated = (
                f' <span class="updated-on">(updated <time class="updated" datetime="{post.updated.isoformat()}">'
                f"{long_date(post.updated)}</time>)</span>"
            )
        return (
            f'<span class="posted-on"><a href="{escape(self.permalink(post))}" rel="bookmark">{published}</a></span>'
            f' in <span class="cat-links">{self._category_links(post)}</span>'
            ' by <span class="byline"><span class="author vcard">'
            f'<a class="url fn n" href="{escape(self._author_url(post.author))}">{escape(post.author)}</a>'
            f"</span></span>{updated}"
        )

    def _author_url(self, author: str) -> str:
        return f"{self.base_url}/author/{slugify(author)}/"

    def _classes(self, post: Post) -> str:
        return " ".join(f"category-{slugify(name)}" for name in _categories(post))

    def _category_links(self, post: Post) -> str:
        return ", ".join(
            f'<a href="{escape(self._category_url(name))}" rel="category tag">{escape(name)}</a>'
            for name in _categories(post)
        )

    def _summary(self, post: Post) -> str:
        return fill(
            "wordpress-summary.html",
            post_id=str(self.post_ids[post.slug]),
            classes=self._classes(post),
            url=escape(self.permalink(post)),
            title=escape(post.title),
            meta=self._meta(post),
            excerpt=escape(excerpt(post.html_body)),
        )

    def _add_archive(self, prefix: str, heading: str, posts: Sequence[Post], per_page: int) -> None:
        """Add the pages of one archive (home, a category, an author), newest first."""
        pages = paginate(posts, per_page)
        urls = [escape(self.base_url + _archive_path(prefix, number)) for number in range(1, len(pages) + 1)]
        for index, chunk in enumerate(pages):
            head = [f'<link rel="canonical" href="{urls[index]}">']
            nav = []
            if index + 1 < len(pages):
                head.append(f'<link rel="next" href="{urls[index + 1]}">')
                nav.append(f'<div class="nav-previous"><a href="{urls[index + 1]}">Older posts</a></div>')
            if index > 0:
                head.append(f'<link rel="prev" href="{urls[index - 1]}">')
                nav.append(f'<div class="nav-next"><a href="{urls[index - 1]}">Newer posts</a></div>')
            main = [self._summary(post) for post in chunk]
            if heading:
                main.insert(0, f'<header class="page-header"><h1 class="page-title">{escape(heading)}</h1></header>')
            main.append(
                '<nav class="navigation posts-navigation" role="navigation">'
                f'<h2 class="screen-reader-text">Posts navigation</h2><div class="nav-links">{"".join(nav)}</div></nav>'
            )
            # "RBN – News, views and reposts" on the home page, "News – Page 2 – RBN" further on.
            parts = (heading, f"Page {index + 1}" if index else "", self.name, "" if heading or index else self.tagline)
            title = " &#8211; ".join(escape(part) for part in parts if part)
            body_class = "archive" if heading else "home blog"
            modified = max((post.modified for post in chunk), default=self._updated)
            page = self._page(title, "\n".join(main), "\n".join(head), body_class)
            self.resources[_archive_path(prefix, index + 1)] = Resource(page, _HTML, modified)

    def _entry(self, post: Post, newer: Post | None, older: Post | None) -> Resource:
        """Render the single-post page of `post`."""
        url = self.permalink(post)
        post_id = self.post_ids[post.slug]
        adjacent = ""
        if older is not None:
            adjacent += (
                f'<div class="nav-previous"><a href="{escape(self.permalink(older))}" rel="prev">'
                '<span class="meta-nav">Previous</span> '
                f'<span class="post-title">{escape(older.title)}</span></a></div>'
            )
        if newer is not None:
            adjacent += (
                f'<div class="nav-next"><a href="{escape(self.permalink(newer))}" rel="next">'
                f'<span class="meta-nav">Next</span> <span class="post-title">{escape(newer.title)}</span></a></div>'
            )
        main = fill(
            "wordpress-entry.html",
            post_id=str(post_id),
            classes=self._classes(post),
            title=escape(post.title),
            meta=self._meta(post),
            body=post.html_body,
            category_links=self._category_links(post),
            url=escape(url),
            adjacent=adjacent,
            base=escape(self.base_url),
        )
        head = [
            f'<link rel="canonical" href="{escape(url)}">',
            f'<link rel="shortlink" href="{escape(self.base_url)}/?p={post_id}">',
            '<meta property="og:type" content="article">',
            f'<meta property="og:title" content="{escape(post.title)}">',
            f'<meta property="og:url" content="{escape(url)}">',
            f'<meta property="og:site_name" content="{escape(self.name)}">',
            f'<meta property="article:published_time" content="{post.published.isoformat()}">',
            f'<meta property="article:modified_time" content="{post.modified.isoformat()}">',
        ] + [f'<meta property="article:section" content="{escape(name)}">' for name in _categories(post)]
        title = f"{escape(post.title)} &#8211; {escape(self.name)}"
        body_class = f"post-template-default single single-post postid-{post_id} single-format-standard"
        return Resource(self._page(title, main, "\n".join(head), body_class), _HTML, post.modified)

    def _add_documents(self, feed_items: int, robots_disallow: Sequence[str]) -> None:
        """Add the feeds, sitemaps and robots.txt."""
        entries = [
            Entry(
                post,
                self.permalink(post),
                f"{self.base_url}/?p={self.post_ids[post.slug]}",
                self._author_url(post.author),
            )
            for post in self.posts[:feed_items]
        ]
        for path, render, content_type in (
            ("/feed/", wordpress_rss, "application/rss+xml; charset=UTF-8"),
            ("/feed/atom/", wordpress_atom, "application/atom+xml; charset=UTF-8"),
        ):
            url = self.base_url + path
            channel = Channel(self.name, self.tagline, self.base_url, url, url, self._updated)
            self.resources[path] = Resource(render(channel, entries), content_type, self._updated)
        posts_sitemap = urlset([(self.permalink(post), post.modified) for post in self.posts])
        self.resources["/post-sitemap.xml.gz"] = Resource(
            gzip.compress(posts_sitemap, mtime=0), "application/x-gzip", self._updated
        )
        index = sitemap_index([(f"{self.base_url}/post-sitemap.xml.gz", self._updated)])
        self.resources["/sitemap.xml"] = Resource(index, "application/xml; charset=UTF-8", self._updated)
        robots = robots_txt(robots_disallow, f"{self.base_url}/sitemap.xml")
        self.resources["/robots.txt"] = Resource(robots, "text/plain; charset=UTF-8")
