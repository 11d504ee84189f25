"""RSS 2.0 and Atom documents shaped like the ones WordPress and Blogger send.

The two platforms differ where feed readers and crawlers notice: WordPress puts the
author in `dc:creator` and the full text in `content:encoded` (CDATA), with an excerpt as
the description; Blogger's RSS carries the full HTML, escaped, in `description` and the
author as "noreply@blogger.com (Name)". Dates follow each format: RFC 822 in RSS,
RFC 3339 in Atom (UTC for WordPress, local time with milliseconds for Blogger).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from typing import TYPE_CHECKING

from syndicrawl.demo.render import escape, excerpt

if TYPE_CHECKING:
    from syndicrawl.demo.base import Post

_BLOGGER_LABELS = "http://www.blogger.com/atom/ns#"


@dataclass(frozen=True)
class Channel:
    """What a feed says about its site; `updated` is the newest change on the site."""

    title: str
    subtitle: str
    home_url: str
    feed_url: str
    feed_id: str
    updated: datetime
    owner: str = ""
    owner_uri: str = ""


@dataclass(frozen=True)
class Entry:
    """One post in a feed, with the URLs and id the site gives it."""

    post: Post
    url: str
    guid: str
    author_uri: str = ""


def rfc822(when: datetime) -> str:
    """Format a date for RSS: "Tue, 01 Nov 2016 14:47:00 +0000"."""
    return format_datetime(when.astimezone(timezone.utc))


def _utc(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds")


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside CDATA: close the section and reopen it around the ">".
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def wordpress_rss(channel: Channel, entries: Sequence[Entry]) -> bytes:
    """Return WordPress's /feed/ document."""
    items = "".join(
        f"""
	<item>
		<title>{escape(e.post.title)}</title>
		<link>{escape(e.url)}</link>
		<comments>{escape(e.url)}#respond</comments>
		<pubDate>{rfc822(e.post.published)}</pubDate>
		<dc:creator>{_cdata(e.post.author)}</dc:creator>
{"".join(f"		<category>{_cdata(name)}</category>{chr(10)}" for name in e.post.categories)}
		<guid isPermaLink="false">{escape(e.guid)}</guid>
		<description>{_cdata(excerpt(e.post.html_body))}</description>
		<content:encoded>{_cdata(e.post.html_body)}</content:encoded>
		<slash:comments>0</slash:comments>
	</item>"""
        for e in entries
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>

<channel>
	<title>{escape(channel.title)}</title>
	<atom:link href="{escape(channel.feed_url)}" rel="self" type="application/rss+xml" />
	<link>{escape(channel.home_url)}</link>
	<description>{escape(channel.subtitle)}</description>
	<lastBuildDate>{rfc822(channel.updated)}</lastBuildDate>
	<language>en-US</language>
	<sy:updatePeriod>hourly</sy:updatePeriod>
	<sy:updateFrequency>1</sy:updateFrequency>
	<generator>https://wordpress.org/?v=4.6.1</generator>{items}
</channel>
</rss>
""".encode()


def wordpress_atom(channel: Channel, entries: Sequence[Entry]) -> bytes:
    """Return WordPress's /feed/atom/ document."""
    scheme = escape(channel.home_url)
    items = "".join(
        f"""
	<entry>
		<author>
			<name>{escape(e.post.author)}</name>
			<uri>{escape(e.author_uri)}</uri>
		</author>
		<title type="html">{_cdata(escape(e.post.title))}</title>
		<link rel="alternate" type="text/html" href="{escape(e.url)}" />
		<id>{escape(e.guid)}</id>
		<updated>{_utc(e.post.modified)}</updated>
		<published>{_utc(e.post.published)}</published>
{"".join(f'		<category scheme="{scheme}" term="{escape(name)}" />{chr(10)}' for name in e.post.categories)}
		<summary type="html">{_cdata(escape(excerpt(e.post.html_body)))}</summary>
		<content type="html" xml:base="{escape(e.url)}">{_cdata(e.post.html_body)}</content>
	</entry>"""
        for e in entries
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?><feed
  xmlns="http://www.w3.org/2005/Atom"
  xmlns:thr="http://purl.org/syndication/thread/1.0"
  xml:lang="en-US"
  >
	<title type="text">{escape(channel.title)}</title>
	<subtitle type="text">{escape(channel.subtitle)}</subtitle>
	<updated>{_utc(channel.updated)}</updated>
	<link rel="alternate" type="text/html" href="{escape(channel.home_url)}" />
	<id>{escape(channel.feed_url)}</id>
	<link rel="self" type="application/atom+xml" href="{escape(channel.feed_url)}" />
	<generator uri="https://wordpress.org/" version="4.6.1">WordPress</generator>{items}
</feed>
""".encode()


def blogger_atom(channel: Channel, entries: Sequence[Entry], total: int) -> bytes:
    """Return Blogger's /feeds/posts/default document; `total` counts every post."""
    owner = _blogger_author(channel.owner, channel.owner_uri)
    feed_url = escape(channel.feed_url)
    items = "".join(
        f"<entry><id>{escape(e.guid)}</id><published>{_local(e.post.published)}</published>"
        f"<updated>{_local(e.post.modified)}</updated>"
        + "".join(f"<category scheme='{_BLOGGER_LABELS}' term='{escape(name)}'/>" for name in e.post.categories)
        + f"<title type='text'>{escape(e.post.title)}</title>"
        f"<content type='html'>{escape(e.post.html_body)}</content>"
        f"<link rel='alternate' type='text/html' href='{escape(e.url)}' title='{escape(e.post.title)}'/>"
        f"{_blogger_author(e.post.author, e.author_uri)}</entry>"
        for e in entries
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><?xml-stylesheet href=\"http://www.blogger.com/styles/atom.css\""
        " type=\"text/css\"?><feed xmlns='http://www.w3.org/2005/Atom'"
        " xmlns:openSearch='http://a9.com/-/spec/opensearchrss/1.0/'"
        " xmlns:blogger='http://schemas.google.com/blogger/2008'>"
        f"<id>{escape(channel.feed_id)}</id><updated>{_local(channel.updated)}</updated>"
        f"<title type='text'>{escape(channel.title)}</title><subtitle type='html'>{escape(channel.subtitle)}</subtitle>"
        f"<link rel='http://schemas.google.com/g/2005#feed' type='application/atom+xml' href='{feed_url}'/>"
        f"<link rel='self' type='application/atom+xml' href='{feed_url}'/>"
        f"<link rel='alternate' type='text/html' href='{escape(channel.home_url)}'/>"
        f"{owner}<generator version='7.00' uri='http://www.blogger.com'>Blogger</generator>"
        f"<openSearch:totalResults>{total}</openSearch:totalResults><openSearch:startIndex>1</openSearch:startIndex>"
        f"<openSearch:itemsPerPage>{len(entries)}</openSearch:itemsPerPage>{items}</feed>"
    ).encode()


def blogger_rss(channel: Channel, entries: Sequence[Entry], total: int) -> bytes:
    """Return Blogger's /feeds/posts/default?alt=rss document."""
    items = "".join(
        f"<item><guid isPermaLink='false'>{escape(e.guid)}</guid><pubDate>{rfc822(e.post.published)}</pubDate>"
        f"<atom:updated>{_local(e.post.modified)}</atom:updated>"
        + "".join(f"<category domain='{_BLOGGER_LABELS}'>{escape(name)}</category>" for name in e.post.categories)
        + f"<title>{escape(e.post.title)}</title><description>{escape(e.post.html_body)}</description>"
        f"<link>{escape(e.url)}</link><author>noreply@blogger.com ({escape(e.post.author)})</author></item>"
        for e in entries
    )
    return (
        "<?xml version='1.0' encoding='UTF-8'?><rss xmlns:atom='http://www.w3.org/2005/Atom'"
        " xmlns:openSearch='http://a9.com/-/spec/opensearchrss/1.0/'"
        " xmlns:blogger='http://schemas.google.com/blogger/2008' version='2.0'><channel>"
        f"<atom:id>{escape(channel.feed_id)}</atom:id><lastBuildDate>{rfc822(channel.updated)}</lastBuildDate>"
        f"<title>{escape(channel.title)}</title><description>{escape(channel.subtitle)}</description>"
        f"<link>{escape(channel.home_url)}</link>"
        f"<managingEditor>noreply@blogger.com ({escape(channel.owner)})</managingEditor><generator>Blogger</generator>"
        f"<openSearch:totalResults>{total}</openSearch:totalResults><openSearch:startIndex>1</openSearch:startIndex>"
        f"<openSearch:itemsPerPage>{len(entries)}</openSearch:itemsPerPage>{items}</channel></rss>"
    ).encode()


def _blogger_author(name: str, uri: str) -> str:
    return f"<author><name>{escape(name)}</name><uri>{escape(uri)}</uri><email>noreply@blogger.com</email></author>"
