"""Turning fetched or imported pages into WARC records, catalog rows and articles.

``service`` is the writer process the crawl talks to; ``store`` writes one page's records
and rows; ``extract`` turns HTML into an article; ``importer`` reads existing WARC files in.
"""
