"""``python -m syndicrawl``."""

from syndicrawl import main

main()
