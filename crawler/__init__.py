"""The crawler: Scrapy spiders, the WARC capture middleware and the archiving pipeline."""
