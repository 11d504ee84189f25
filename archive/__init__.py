"""The archive: WARC files, the metadata database and article extraction.

Nothing here imports Scrapy, APScheduler or the CLI: the crawler writes through this
package and the CLI reads through it.
"""
