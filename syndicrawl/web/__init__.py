"""The HTTP front end: the read-only API that ``syndicrawl serve`` runs."""
