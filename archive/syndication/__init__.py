"""Which pages are one article, where it came from, and how to read that back.

``fingerprint`` normalises texts and shingles them; ``neardup`` is the LSH index in the
database; ``boilerplate`` learns the lines each site repeats; ``alignment`` measures how much
of one text another keeps and what a copy changed; ``matching`` links each new article to its
copies and excerpts; ``origin`` decides a cluster's origin and each copy's parent; ``chains``
reads the result back for the front ends.
"""
