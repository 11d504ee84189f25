"""syndicrawl: crawl news feeds and repost sites into WARC archives and find syndicated copies."""

__version__ = "0.1.0"
