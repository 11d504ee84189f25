"""Spiders. One generic spider crawls any configured source."""
