"""Reading captures back: by URL and time (``snapshots``, ``cdx``) for the CLI and the web
front end, and as a WACZ package for other tools (``wacz``)."""
