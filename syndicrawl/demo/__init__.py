"""Bundled demo sites: an author's blog and a repost site that copies it, served over real HTTP.

They let syndicrawl be tried, and tested, with no network: `syndicrawl.demo.server.serve_demo_sites()`
starts both on loopback addresses.
"""
