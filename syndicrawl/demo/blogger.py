"""A Blogger ("blogspot") site with the Simple template, rendered from posts.

It has Blogger's URL layout: permalinks /YYYY/MM/slug.html, a home page whose older
posts are reached through /search?updated-max=TIMESTAMP&max-results=N (the timestamp of
the last post shown), label pages /search/label/NAME, the Atom feed at
/feeds/posts/default and RSS at ?alt=rss, robots.txt and a sitemap. Pages carry the
chrome real blogs have: header, profile block, archive list, comment form.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from itertools import groupby
from urllib.parse import quote, unquote

from syndicrawl.demo.base import GeneratedSite, Post, Reply, Resource
from syndicrawl.demo.feeds import Channel, Entry, blogger_atom, blogger_rss
from syndicrawl.demo.render import clock, escape, excerpt, fill, long_date, newest_first
from syndicrawl.demo.sitemaps import robots_txt, urlset

_HTML = "text/html; charset=UTF-8"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FEED = "/feeds/posts/default"
_LABEL = "/search/label/"


def _digits(text: str, count: int) -> str:
    """Return a stable `count`-digit id for `text`, like Blogger's numeric blog and post ids."""
    return str(int(hashlib.sha1(text.encode()).hexdigest(), 16) % 10**count).zfill(count)


def _search_path(label: str | None) -> str:
    """Return the path of the listing a pager link continues: all posts or one label."""
    return "/search" if label is None else _LABEL + quote(label)


def _status(message: str) -> str:
    return f'<div class="status-msg-wrap"><div class="status-msg-body">{message}</div></div>'


class BloggerSite(GeneratedSite):
    """A Blogger blog at `base_url`; fixed pages are rendered at construction."""

    def __init__(
        self,
        name: str,
        posts: Sequence[Post],
        *,
        base_url: str,
        tagline: str = "",
        per_page: int = 5,
        feed_items: int = 5,
        robots_disallow: Sequence[str] = (),
    ) -> None:
        super().__init__(base_url)
        if per_page < 1:
            raise ValueError(f"per_page must be at least 1, got {per_page}")
        self.name = name
        self.tagline = tagline
        self.per_page = per_page
        self.posts = newest_first(posts)
        if len({post.published for post in self.posts}) != len(self.posts):
            raise ValueError(f"{name}: two posts share a publication time; the updated-max pager cannot separate them")
        # The blog's owner is whoever wrote most of it: the profile block shows them.
        self.owner = Counter(post.author for post in self.posts).most_common(1)[0][0] if self.posts else name
        self.blog_id = _digits(name, 19)
        self._updated = max((post.modified for post in self.posts), default=_EPOCH)
        self._archive = self._render_archive()

        for n, post in enumerate(self.posts):
            newer = self.posts[n - 1] if n > 0 else None
            older = self.posts[n + 1] if n + 1 < len(self.posts) else None
            if self.path(post) in self.resources:
                raise ValueError(f"{name}: two posts of the same month share the slug {post.slug!r}")
            self.resources[self.path(post)] = self._post_page(post, newer, older)
        self.resources["/"] = self._listing(self.posts, None, per_page, f"{self.base_url}/")
        missing = _status("Sorry, the page you were looking for in this blog does not exist.")
        self.not_found = Resource(self._page(escape(name), f"{self.base_url}/", missing, ""), _HTML, status=404)
        self._add_documents(feed_items, robots_disallow)

    def path(self, post: Post) -> str:
        """Return the permalink path of `post`: /YYYY/MM/slug.html."""
        return f"/{post.published:%Y/%m}/{post.slug}.html"

    def permalink(self, post: Post) -> str:
        """Return the absolute URL of `post`."""
        return self.base_url + self.path(post)

    def resolve(self, path: str, query: Mapping[str, list[str]]) -> Resource | Reply | None:
        """Serve the pages that depend on the query: RSS, search and label listings."""
        if path == _FEED and query.get("alt") == ["rss"]:
            return self._rss
        if path == "/search" or path.startswith(_LABEL):
            label = unquote(path.removeprefix(_LABEL)) if path.startswith(_LABEL) else None
            return self._search(label, query)
        return super().resolve(path, query)

    def _search(self, label: str | None, query: Mapping[str, list[str]]) -> Resource:
        """Render a listing of posts older than `updated-max`, optionally with one label."""
        posts = [post for post in self.posts if label is None or label in post.categories]
        try:
            max_results = int(query.get("max-results", [str(self.per_page)])[0])
            # parse_qs turns an unencoded "+" of a UTC offset into a space; put it back.
            before = query.get("updated-max", [""])[0].replace(" ", "+")
            until = datetime.fromisoformat(before) if before else None
        except ValueError:
            return self.not_found
        if max_results < 1 or (until is not None and until.utcoffset() is None) or (label is not None and not posts):
            return self.not_found
        if until is not None:
            posts = [post for post in posts if post.published < until]
        return self._listing(posts, label, max_results, self.base_url + _search_path(label))

    def _listing(self, posts: Sequence[Post], label: str | None, max_results: int, canonical: str) -> Resource:
        """Render one page of post summaries with Blogger's "Older Posts" pager."""
        shown = posts[:max_results]
        parts = [self._post_html(post, full=False) for post in shown] or [_status("No posts.")]
        if label is not None:
            home = f'<a href="{escape(self.base_url)}/">Show all posts</a>'
            parts.insert(0, _status(f"Showing posts with label <b>{escape(label)}</b>. {home}"))
        pager = f'<a class="home-link" href="{escape(self.base_url)}/">Home</a>'
        if len(posts) > max_results:
            stamp = quote(shown[-1].published.isoformat(), safe=":")
            older = f"{self.base_url}{_search_path(label)}?updated-max={stamp}&max-results={max_results}"
            pager = (
                f'<span id="blog-pager-older-link"><a class="blog-pager-older-link" href="{escape(older)}"'
                f' id="Blog1_blog-pager-older-link" title="Older Posts">Older Posts</a></span>\n{pager}'
            )
        modified = max((post.modified for post in shown), default=self._updated)
        title = escape(self.name) if label is None else f"{escape(self.name)}: {escape(label)}"
        return Resource(self._page(title, canonical, "\n".join(parts), pager), _HTML, modified)

    def _post_page(self, post: Post, newer: Post | None, older: Post | None) -> Resource:
        """Render the item page of `post`, whose pager steps to the neighbouring posts."""
        pager = f'<a class="home-link" href="{escape(self.base_url)}/">Home</a>'
        if newer is not None:
            pager = (
                '<span id="blog-pager-newer-link"><a class="blog-pager-newer-link"'
                f' href="{escape(self.permalink(newer))}" id="Blog1_blog-pager-newer-link" title="Newer Post">'
                f"Newer Post</a></span>\n{pager}"
            )
        if older is not None:
            pager += (
                '\n<span id="blog-pager-older-link"><a class="blog-pager-older-link"'
                f' href="{escape(self.permalink(older))}" id="Blog1_blog-pager-older-link" title="Older Post">'
                "Older Post</a></span>"
            )
        url = escape(self.permalink(post))
        head = (
            f'<meta content="{url}" property="og:url">\n<meta content="{escape(post.title)}" property="og:title">\n'
            f'<meta content="{escape(excerpt(post.html_body, 30))}" property="og:description">'
        )
        title = f"{escape(self.name)}: {escape(post.title)}"
        page = self._page(title, self.permalink(post), self._post_html(post, full=True), pager, head, "item-view")
        return Resource(page, _HTML, post.modified)

    def _post_html(self, post: Post, *, full: bool) -> str:
        """Render one post: the whole of it on its item page, a summary in listings."""
        url = escape(self.permalink(post))
        post_id = self._post_id(post)
        title = escape(post.title)
        if full:
            body = post.html_body
        else:
            title = f'<a href="{url}">{title}</a>'
            body = (
                f"<p>{escape(excerpt(post.html_body, 60))}</p>\n"
                f'<div class="jump-link"><a href="{url}#more" title="{escape(post.title)}">Read more &#187;</a></div>'
            )
        labels = ", ".join(
            f'<a href="{escape(self.base_url + _search_path(name))}" rel="tag">{escape(name)}</a>'
            for name in post.categories
        )
        return fill(
            "blogger-post.html",
            date_header=f"{post.published:%A}, {long_date(post.published)}",
            published_iso=post.published.isoformat(timespec="milliseconds"),
            url=url,
            post_id=post_id,
            title_html=title,
            body=body,
            profile_url=escape(self._profile_url(post.author)),
            author=escape(post.author),
            time=clock(post.published),
            labels=f"Labels: {labels}" if labels else "",
            comments=fill("blogger-comments.html", blog_id=self.blog_id, post_id=post_id) if full else "",
        )

    def _post_id(self, post: Post) -> str:
        return _digits(f"{self.blog_id}/{post.slug}", 19)

    def _profile_url(self, author: str) -> str:
        return f"https://www.blogger.com/profile/{_digits(author, 20)}"

    def _render_archive(self) -> str:
        """Render the Blog Archive widget: years, months and the titles under them."""
        lines = []
        for year, in_year in groupby(self.posts, key=lambda post: post.published.year):
            year_posts = list(in_year)
            lines.append(
                f'<li class="archivedate expanded"><span class="post-count-link">{year}</span>'
                f' <span class="post-count" dir="ltr">({len(year_posts)})</span>\n<ul class="hierarchy">'
            )
            for _, in_month in groupby(year_posts, key=lambda post: post.published.month):
                month_posts = list(in_month)
                lines.append(
                    f'<li class="archivedate"><span class="post-count-link">{month_posts[0].published:%B}</span>'
                    f' <span class="post-count" dir="ltr">({len(month_posts)})</span>\n<ul class="posts">'
                )
                lines += [
                    f'<li><a href="{escape(self.permalink(post))}">{escape(post.title)}</a></li>'
                    for post in month_posts
                ]
                lines.append("</ul></li>")
            lines.append("</ul></li>")
        return "\n".join(lines)

    def _page(
        self, title: str, canonical: str, posts: str, pager: str, head_extra: str = "", body_class: str = ""
    ) -> bytes:
        return fill(
            "blogger-page.html",
            doc_title=title,
            canonical=escape(canonical),
            site_name=escape(self.name),
            tagline=escape(self.tagline),
            base=escape(self.base_url),
            blog_id=self.blog_id,
            head_extra=head_extra,
            body_class=body_class,
            posts=posts,
            pager=pager,
            owner=escape(self.owner),
            profile_url=escape(self._profile_url(self.owner)),
            archive=self._archive,
        ).encode()

    def _add_documents(self, feed_items: int, robots_disallow: Sequence[str]) -> None:
        """Add the Atom feed (RSS is kept apart: it shares the feed's path), sitemap and robots.txt."""
        channel = Channel(
            self.name,
            self.tagline,
            f"{self.base_url}/",
            self.base_url + _FEED,
            f"tag:blogger.com,1999:blog-{self.blog_id}",
            self._updated,
            self.owner,
            self._profile_url(self.owner),
        )
        entries = [
            Entry(
                post,
                self.permalink(post),
                f"tag:blogger.com,1999:blog-{self.blog_id}.post-{self._post_id(post)}",
                self._profile_url(post.author),
            )
            for post in self.posts[:feed_items]
        ]
        total = len(self.posts)
        atom = blogger_atom(channel, entries, total)
        self.resources[_FEED] = Resource(atom, "application/atom+xml; charset=UTF-8", self._updated)
        self._rss = Resource(blogger_rss(channel, entries, total), "application/rss+xml; charset=UTF-8", self._updated)
        sitemap = urlset([(self.permalink(post), post.modified) for post in self.posts])
        self.resources["/sitemap.xml"] = Resource(sitemap, "application/xml; charset=UTF-8", self._updated)
        robots = robots_txt(robots_disallow, f"{self.base_url}/sitemap.xml")
        self.resources["/robots.txt"] = Resource(robots, "text/plain; charset=UTF-8")
