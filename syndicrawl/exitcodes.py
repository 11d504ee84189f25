"""Exit codes of the ``syndicrawl`` command, one meaning each (README, "Exit codes").

Scripts, ``timeout`` and the scheduler daemon tell outcomes apart by these alone, so none is
shared: click's usage error keeps 2, and a crawl that ran to its end with failed sources is
not one that was interrupted.
"""

#: One ``Error:`` line: nothing was done, or it stopped (click.ClickException's code).
ERROR = 1
#: A usage error: an unknown option, a missing argument (click.UsageError's code).
USAGE = 2
#: ``crawl``: a source is being crawled by another process; nothing was crawled.
LOCKED = 3
#: Ran to its end, but part of it failed: ``crawl``, a source failed (its feeds, sitemaps and
#: start pages could not be fetched, or its crawl could not start); ``import``, records were skipped.
PARTLY_FAILED = 4
#: ``crawl``: stopped by Ctrl-C or SIGTERM before its end; what was fetched is stored.
INTERRUPTED = 5
#: ``doctor``: problems were found and are still there (``--dry-run``, or a repair failed).
UNHEALTHY = 6
#: ``crawl``: its lock could not be renewed within ``lock_ttl`` (or was taken), so it stopped at
#: once, lest another crawl of the source run beside it; the next crawl repairs what it left.
LOCK_LOST = 7
