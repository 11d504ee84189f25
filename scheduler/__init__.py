"""When to crawl: persistent schedules (APScheduler), adaptive feed polling, the daemon.

Flow: ``syndicrawl`` (CLI) -> scheduler -> crawler (one subprocess per crawl) -> archive.
"""
