"""A crawl of one huge feed (#17.13): its memory, how long it parses, how many entries it follows.

Serves on 127.0.0.1 (a thread of this process) an RSS feed of ``--entries`` entries (default
100,000, one a day, oldest first) and its articles (distinct text each), and runs the real
``syndicrawl crawl`` on it with no delay and extraction on (two workers). The total PSS of the
crawl's processes (the crawl process, its archive writer, the extractors: summed from
``/proc/PID/smaps_rollup`` every 0.25 s) is sampled throughout; a crawl still running after
``--timeout`` seconds is sent SIGTERM (it stops, storing what it fetched). The same is done, in
the same run, for a feed of ``--baseline`` entries (default 50), and the ratio printed.

    .venv/bin/python benchmarks/feed_bounds.py [--entries 100000] [--baseline 50] [--timeout 600]
    .venv/bin/python benchmarks/feed_bounds.py --code /tmp/before   # another checkout's code (git archive)

It prints per run: peak total PSS and each process's share at that moment, seconds from the
feed's answer to its first entry requested (the parse, off the reactor or not), entries
requested, the crawl's wall time and exit code, and its warning lines about the feed.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's packages

from benchmarks.crawl_throughput import _descendants, _pss  # noqa: E402
from syndicrawl.demo.base import Reply  # noqa: E402
from syndicrawl.demo.server import SiteServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_PSS_BYTES = 500_000_000
HTML = (("Content-Type", "text/html; charset=utf-8"),)
WORDS = [a + b for a in ("ba", "co", "di", "fe", "ga", "hu", "ki", "lo", "ma", "ne", "pi", "ro", "su", "ta", "vu")
         for b in ("n", "l", "rt", "sk", "m", "nd", "p", "st", "ck", "r")]


def rss(base: str, count: int, path: str = "/post") -> bytes:
    """RSS 2.0 with ``count`` entries, one a day, listed oldest first (the newest are last)."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    items = "".join(
        f"<item><title>Post {n}</title><link>{base}{path}/{n}/</link>"
        f"<pubDate>{format_datetime(start + timedelta(days=n))}</pubDate></item>\n"
        for n in range(1, count + 1)
    )
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'.encode()


def article(n: str) -> bytes:
    """An article page whose text is its own (pages alike would be syndication's clusters, another load)."""
    words = random.Random(n).choices(WORDS, k=160)
    paragraphs = "".join(f"<p>{' '.join(words[i:i + 40]).capitalize()}.</p>" for i in range(0, 160, 40))
    return (f"<!DOCTYPE html><html><head><title>Post {n}</title></head><body><article><h1>Post {n}</h1>"
            f"{paragraphs}</article></body></html>").encode()


class TimedSite:
    """Fixed replies by path, articles under /post/ and /steady/; every request logged with its time."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.replies: dict[str, Reply] = {"/robots.txt": Reply(200, (("Content-Type", "text/plain"),), b"")}
        self.lock = threading.Lock()
        self.log: list[tuple[float, str]] = []

    def route(self, path: str, headers: Mapping[str, str]) -> Reply:
        with self.lock:
            self.log.append((time.monotonic(), path))
        if path in self.replies:
            return self.replies[path]
        if path.startswith(("/post/", "/steady/")):
            return Reply(200, HTML, article(path.strip("/").rsplit("/", 1)[-1]))
        return Reply(404, (("Content-Type", "text/plain"),), b"not found\n")

    def times(self, prefix: str) -> list[float]:
        with self.lock:
            return [at for at, path in self.log if path.startswith(prefix)]

    def paths(self, prefix: str) -> list[str]:
        with self.lock:
            return [path for _, path in self.log if path.startswith(prefix)]

    def clear(self) -> None:
        with self.lock:
            self.log.clear()


@dataclass
class Run:
    entries: int
    feed: str = ""
    seconds: float = 0.0
    returncode: int | None = None
    peak_pss: int = 0
    peak_shares: list[int] = field(default_factory=list)  # each process's PSS at the peak, by pid order
    parse_seconds: float | None = None
    requested: int = 0
    warnings: list[str] = field(default_factory=list)


def measure(entries: int, code: Path, timeout: float, work: Path, settings: str = "") -> Run:
    """Crawl a feed of ``entries`` entries with the code in ``code``; ``settings``: more [crawl] lines."""
    run = Run(entries)
    with SiteServer(TimedSite) as server:
        server.site.replies["/feed.xml"] = Reply(200, (("Content-Type", "application/rss+xml"),),
                                                 rss(server.base_url, entries))
        work.mkdir(parents=True)
        run.feed = server.url("/feed.xml")
        sources = work / "sources.toml"
        loopback = "private_addresses = true\n" if _knows(code, "private_addresses") else ""
        sources.write_text(f'[[source]]\nname = "big"\nkind = "origin"\nfeeds = ["{run.feed}"]\n{loopback}',
                           encoding="utf-8")
        config = work / "settings.toml"
        config.write_text(f"[crawl]\ndownload_delay = 0.0\nautothrottle = false\n{settings}", encoding="utf-8")
        command = [sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources),
                   "--data-dir", str(work / "data"), "--settings", str(config)]
        started = time.monotonic()
        crawl = subprocess.Popen(command, cwd=code, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stopped = False
        while crawl.poll() is None:
            shares = [_pss(pid) for pid in sorted(_descendants(crawl.pid))]
            if sum(shares) > run.peak_pss:
                run.peak_pss, run.peak_shares = sum(shares), shares
            if not stopped and time.monotonic() - started > timeout:
                crawl.send_signal(signal.SIGTERM)
                stopped = True
            time.sleep(0.25)
        _, stderr = crawl.communicate()
        run.seconds, run.returncode = time.monotonic() - started, crawl.returncode
        answered, posts = server.site.times("/feed.xml"), server.site.times("/post/")
        run.requested = len(posts)
        run.parse_seconds = min(posts) - answered[0] if answered and posts else None
        run.warnings = [line.split(" WARNING ", 1)[1] for line in stderr.splitlines() if " WARNING " in line][:5]
    return run


def _knows(code: Path, setting: str) -> bool:
    """Whether the code in ``code`` has a sources-file key (an older checkout refuses unknown keys)."""
    return setting in (code / "syndicrawl" / "sources.py").read_text(encoding="utf-8")


def report(run: Run) -> str:
    parse = f"{run.parse_seconds:.1f} s" if run.parse_seconds is not None else "-"
    shares = " + ".join(f"{share / 1e6:.0f}" for share in run.peak_shares)
    lines = [
        f"feed of {run.entries:,} entries: peak PSS {run.peak_pss / 1e6:.0f} MB ({shares} MB by process), "
        f"feed answered -> first entry requested {parse}, {run.requested:,} entries requested, "
        f"crawl {run.seconds:.0f} s, exit {run.returncode}",
    ]
    lines += [f"    {line}" for line in run.warnings]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--baseline", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=600.0, help="SIGTERM to a crawl still running after this")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose syndicrawl is run")
    args = parser.parse_args()
    runs = []
    with tempfile.TemporaryDirectory(prefix="feed-bounds-") as tmp:
        for entries in (args.baseline, args.entries):
            runs.append(measure(entries, args.code, args.timeout, Path(tmp) / str(entries)))
            print(report(runs[-1]), flush=True)
    baseline, big = runs
    print(f"ratio of peak PSS, {big.entries:,} entries / {baseline.entries:,}: {big.peak_pss / baseline.peak_pss:.2f}; "
          f"target < {TARGET_PSS_BYTES / 1e6:.0f} MB: {'met' if big.peak_pss < TARGET_PSS_BYTES else 'NOT met'}")


if __name__ == "__main__":
    main()
