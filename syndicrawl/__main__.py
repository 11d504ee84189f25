"""``python -m syndicrawl``."""

from syndicrawl.cli import main

main()
