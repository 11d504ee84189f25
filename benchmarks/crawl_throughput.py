"""Crawl throughput benchmark: how close does syndicrawl get to a bare Scrapy fetch and to the machine's limit?

Serves ``--pages`` article pages (default 2000) on 127.0.0.1 from a separate process, built from
the real pages in ``/work/shared/corpus/pages`` (each URL's body made unique by a trailing HTML
comment, so exact-payload dedup never turns a capture into a revisit), with a ``/sitemap.xml``
listing them all and a ``/robots.txt``. Then, in one run:

  (a)  a bare Scrapy SitemapSpider that only fetches (parse is a no-op), with the Scrapy settings
       syndicrawl would use (same concurrency, robots, timeouts, retries), in its own process;
  (b)  ``syndicrawl crawl`` (the real CLI) with WARC capture on and extraction off;
  (c)  ``syndicrawl crawl`` with extraction on (trafilatura in the pebble worker pool);
  (L0) ``archive.ingest.extract.extract_article(html, url, fast=True)`` alone, in this process, on the
       same pages before (c) and after each run of (c); L uses the mean, as the machine's speed
       drifts (by up to 45% within a minute on the machine of session 6). Then, as a diagnostic,
       L0 in two processes at once ("on both cores"), against the L0 alone just before it.

(a) and (b) last seconds each, and the machine's speed drifts by up to 20% from one to the next:
they run ``--rounds`` times (default 3), alternating, and their figures pool the rounds (pages and
seconds summed; b/a of each round is printed too). (c) runs ``--c-rounds`` times (default 2),
pooled the same way.

For (a), (b) and (c) it prints pages/s (pages fetched / wall time of the crawl process), CPU
seconds per page (the process's user+sys plus its children's, from ``os.wait4`` and
``RUSAGE_CHILDREN``; orphans are reaped too, this process being a child subreaper) and peak
memory of the crawl process tree (ru_maxrss of the largest process, and the peak sum of RSS over
the tree sampled from /proc every 0.2 s, of PSS every 2 s). Then the ratios b/a (pages/s) and c/L, where
L = 2 cores / (CPU s per page of (a) + CPU s per page of L0) is the best this 2-core machine could
do, with their targets. After (b) and (c) it counts the response records in the WARC files
(warcio) and, after (c), the ``status='ok'`` rows of ``articles`` in the SQLite database.

The server's own CPU per phase is printed as well: it shares the 2 cores, so it must stay small
for the numbers to mean anything.

    .venv/bin/python benchmarks/crawl_throughput.py [--pages 2000] [--corpus DIR]
    .venv/bin/python benchmarks/crawl_throughput.py --phases a,b --profile /tmp/prof   # py-spy

Before each phase it waits (``--quiet-timeout``, default 60 s) until other processes use less than
15% of the cores, and it prints how much CPU they used during each run ("other load"): on a shared
2-core machine that noise shifts the wall-clock ratios, while the CPU-per-page figures hold.

``--profile DIR`` runs each crawl under ``py-spy record`` (``.venv/bin/pip install py-spy``) and
prints, per thread, where the CPU samples fall (self time by package, top functions). Only the crawl
process is sampled unless ``--profile-workers``. A profiled run is slower; its timings are no
measurement. ``--cli CMD`` runs another entry point for (b) and (c), e.g. a wrapper that patches
product code, to measure a proposed fix before making it.
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import ctypes
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import string
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "pages"
ARTICLE_PREFIX = "/articles/"
STATS_PATH = "/__bench/stats"
CORES = 2
PROFILE_RATE = 200  # py-spy samples per second
ROLES = ("crawl process", "archive writer", "extractor workers")  # by depth in the process tree
PROCESS_FRAMES = re.compile(r'(?:process \d+:"[^"]*";)+')  # the head of a py-spy raw stack
QUIET_LOAD = 0.15  # before each phase, wait until others use less than this share of the cores ...
QUIET = {"timeout": 30.0}  # ... for at most this many seconds (--quiet-timeout)

TARGET_B_OVER_A = 0.90
TARGET_C_OVER_L = 0.85
TARGET_RSS_BYTES = 1_000_000_000

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# The site: pre-rendered bytes, shared by the server process and the checks in this process.
# --------------------------------------------------------------------------------------------


_MARKUP = re.compile(
    r"(<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>|&#?\w+;)", re.IGNORECASE | re.DOTALL
)


def _letter_permutation(variant: int) -> dict[int, int]:
    """A fixed permutation of the Latin letters for each variant (0: none), same for both cases."""
    letters = list(string.ascii_lowercase)
    if variant:
        random.Random(variant).shuffle(letters)
    table = {ord(a): ord(b) for a, b in zip(string.ascii_lowercase, letters)}
    table.update({ord(a.upper()): ord(b.upper()) for a, b in zip(string.ascii_lowercase, letters)})
    return table


@dataclass
class Site:
    """``pages`` article pages; page ``i`` is corpus page ``i % len(corpus)`` plus a unique tail.

    Unless ``duplicate_text``, the text of page ``i`` (not its markup, scripts, styles, comments or
    entities) also has its Latin letters permuted by variant ``i // len(corpus)``: every page is a
    distinct article, the same size and structure as the real one, so neither exact-payload dedup
    nor near-duplicate (syndication) matching sees copies. With ``duplicate_text`` each article
    appears ``pages / len(corpus)`` times: a syndication cluster per corpus page.
    """

    corpus: list[tuple[str, bytes, str]]  # (file name, body, charset)
    pages: int
    duplicate_text: bool = False
    _tokens: dict[int, list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, corpus_dir: Path, pages: int, duplicate_text: bool = False) -> Site:
        corpus = []
        for path in sorted(corpus_dir.glob("*.html")):
            body = path.read_bytes()
            match = _CHARSET.search(body[:8192])
            charset = match.group(1).decode("ascii").lower() if match else "utf-8"
            try:
                codecs.lookup(charset)
            except LookupError:
                charset = "utf-8"
            corpus.append((path.name, body, charset))
        return cls(corpus, pages, duplicate_text)

    def path(self, i: int) -> str:
        return f"{ARTICLE_PREFIX}{i:05d}.html"

    def tail(self, i: int) -> bytes:
        # After </html>: changes the payload digest, not what trafilatura extracts.
        return f"\n<!-- syndicrawl benchmark page {i} -->\n".encode("ascii")

    def source_of(self, i: int) -> tuple[str, bytes, str]:
        return self.corpus[i % len(self.corpus)]

    def variant(self, i: int) -> int:
        return 0 if self.duplicate_text else i // len(self.corpus)

    def content(self, i: int) -> bytes:
        """The corpus page's bytes, its text letters permuted for variant > 0 (markup unchanged)."""
        index = i % len(self.corpus)
        _, body, charset = self.corpus[index]
        variant = self.variant(i)
        if not variant:
            return body
        tokens = self._tokens.get(index)
        if tokens is None:
            tokens = self._tokens[index] = _MARKUP.split(body.decode(charset, errors="surrogateescape"))
        table = _letter_permutation(variant)
        # split() with one group: even items are text, odd items the markup that separated them.
        return "".join(t.translate(table) if n % 2 == 0 else t for n, t in enumerate(tokens)).encode(
            charset, errors="surrogateescape"
        )

    def body(self, i: int) -> bytes:
        return self.content(i) + self.tail(i)

    def text(self, i: int) -> str:
        """The page as ``response.text`` gives it to the pipeline (decoded with the header charset)."""
        return self.body(i).decode(self.source_of(i)[2], errors="replace")


# --------------------------------------------------------------------------------------------
# The server (``--serve``): asyncio, HTTP/1.1 keep-alive, everything pre-rendered.
# --------------------------------------------------------------------------------------------


class _Counters:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.articles = 0
        self.other = 0
        self.connections = 0
        self.first: float | None = None
        self.last: float | None = None
        self.bytes = 0


def serve(site: Site) -> None:
    counters = _Counters()
    replies: dict[bytes, list[bytes]] = {}
    date = formatdate(1477958400, usegmt=True)

    def reply(body: bytes, content_type: str, *extra: bytes, status: bytes = b"200 OK") -> list[bytes]:
        length = len(body) + sum(len(e) for e in extra)
        head = (
            f"HTTP/1.1 {status.decode()}\r\nServer: bench\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\nLast-Modified: {date}\r\n\r\n"
        ).encode("ascii")
        return [head, body, *extra]

    for i in range(site.pages):
        charset = site.source_of(i)[2]
        replies[site.path(i).encode()] = reply(site.content(i), f"text/html; charset={charset}", site.tail(i))

    loop = asyncio.new_event_loop()

    class Protocol(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]
            self.buffer = b""
            counters.connections += 1

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
                lines = head.split(b"\r\n")
                try:
                    method, target, _ = lines[0].split(b" ", 2)
                except ValueError:
                    self.transport.close()
                    return
                path = target.split(b"?", 1)[0]
                parts = replies.get(path)
                if path.startswith(ARTICLE_PREFIX.encode()) and parts is not None:
                    now = time.monotonic()
                    counters.articles += 1
                    counters.first = counters.first or now
                    counters.last = now
                elif path == STATS_PATH.encode():
                    parts = self.stats()
                else:
                    counters.other += 1
                if parts is None:
                    parts = reply(b"not found\n", "text/plain", status=b"404 Not Found")
                if method == b"HEAD":
                    parts = parts[:1]
                self.transport.writelines(parts)
                counters.bytes += sum(map(len, parts))
                if any(line.lower().replace(b" ", b"") == b"connection:close" for line in lines[1:]):
                    self.transport.close()
                    return

        def stats(self) -> list[bytes]:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            window = (counters.last - counters.first) if counters.first and counters.last else 0.0
            payload = {
                "cpu": usage.ru_utime + usage.ru_stime,
                "articles": counters.articles,
                "other": counters.other,
                "connections": counters.connections - 1,  # not this one
                "window": window,
                "first": counters.first,  # CLOCK_MONOTONIC: comparable across processes
                "last": counters.last,
                "bytes": counters.bytes,
                "maxrss": usage.ru_maxrss * 1024,
            }
            counters.reset()
            return reply(json.dumps(payload).encode(), "application/json")

    server = loop.run_until_complete(loop.create_server(Protocol, "127.0.0.1", 0, backlog=512))
    port = server.sockets[0].getsockname()[1]
    # Robots and sitemap need the port, so they are rendered after binding.
    robots = f"User-agent: *\nDisallow: /private/\nSitemap: http://127.0.0.1:{port}/sitemap.xml\n".encode()
    urls = "".join(
        f"<url><loc>http://127.0.0.1:{port}{site.path(i)}</loc><lastmod>2016-11-01</lastmod></url>\n"
        for i in range(site.pages)
    )
    sitemap = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n{urls}</urlset>\n'
    ).encode()
    replies[b"/robots.txt"] = reply(robots, "text/plain")
    replies[b"/sitemap.xml"] = reply(sitemap, "application/xml")
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.add_signal_handler(signal.SIGINT, loop.stop)
    print(port, flush=True)
    loop.run_forever()


class ServerProcess:
    def __init__(self, corpus: Path, pages: int, duplicate_text: bool) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--corpus", str(corpus), "--pages", str(pages)]
            + (["--duplicate-text"] if duplicate_text else []),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            raise SystemExit(f"the benchmark server did not start (got {line!r})")
        self.port = int(line)
        self.base = f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict[str, Any]:
        """The server's figures since the previous call (counters reset) and its total CPU so far."""
        with urllib.request.urlopen(self.base + STATS_PATH, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --------------------------------------------------------------------------------------------
# Measuring a crawl process: wall time, CPU of the whole tree, memory of the tree.
# --------------------------------------------------------------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")
PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Orphaned grandchildren (extractor workers outliving the crawler) are reparented to us,
    so their CPU reaches RUSAGE_CHILDREN when we reap them instead of being lost to init."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _children(pid: int) -> list[int]:
    """``pid``'s child processes, from each of its threads' ``children`` file (Linux 3.5+)."""
    found = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                found.extend(int(child) for child in fh.read().split())
        except OSError:
            continue
    return found


def _descendants(root: int) -> dict[int, int]:
    """``root`` and every process below it, each with its parent (``root``'s: 0); reads only
    the tree's own /proc entries."""
    found, todo = {}, [(root, 0)]
    while todo:
        pid, parent = todo.pop()
        found[pid] = parent
        todo.extend((child, pid) for child in _children(pid))
    return found


def _cpu(pid: int, tid: int | None = None) -> float | None:
    """CPU seconds (user + sys) of a process, or of one of its threads; None once it is gone."""
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    fields = raw[raw.rfind(b")") + 2 :].split()  # fields[0] is state (field 3): utime is 14, stime 15
    return (int(fields[11]) + int(fields[12])) / _TICK


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _pss(pid: int) -> int:
    """PSS in bytes: pages shared with forked workers count once. The kernel walks the page
    tables for it (4 ms for a 150 MB process), so it is read less often than RSS: the sampler took
    1.4-1.9% of the cores in (c) reading it every second, 0.9% every 2 s."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


class TreeSampler(threading.Thread):
    """Samples the crawl process tree: peak summed RSS/PSS, peak process count, per-process CPU.

    It shares the 2 cores with the crawl, so it reads only the tree's own /proc files: scanning
    all of /proc and every process's PSS five times a second took 2.7% of the cores from (c).
    """

    def __init__(self, root: int, interval: float = 0.2, pss_every: int = 10, *, wrapped: bool = False) -> None:
        super().__init__(daemon=True)
        self.root = root
        # Under py-spy the crawl process is the wrapper's child: the per-process figures are about it.
        self.crawl_pid: int | None = None if wrapped else root
        self.interval = interval
        self.pss_every = pss_every
        self.peak_rss = self.peak_pss = self.peak_processes = 0
        self.cpu: dict[int, float] = {}  # last CPU seen per pid
        self.writers: set[int] = set()  # the crawl process's children: its archive writer
        self.main_thread_cpu = 0.0  # last CPU seen of the crawl process's main (reactor) thread
        self._halt = threading.Event()

    def run(self) -> None:
        samples = 0
        while not self._halt.is_set():
            tree = _descendants(self.root)
            if self.crawl_pid is None:
                self.crawl_pid = next((pid for pid, parent in tree.items() if parent == self.root), None)
            self.writers.update(pid for pid, parent in tree.items() if parent == self.crawl_pid)
            pids = list(tree)
            for pid in pids:
                cpu = _cpu(pid)
                if cpu is not None:
                    self.cpu[pid] = cpu
            self.peak_rss = max(self.peak_rss, sum(map(_rss, pids)))
            if samples % self.pss_every == 0:
                self.peak_pss = max(self.peak_pss, sum(map(_pss, pids)))
            self.peak_processes = max(self.peak_processes, len(pids))
            if self.crawl_pid is not None:  # the main thread's tid is the pid
                self.main_thread_cpu = _cpu(self.crawl_pid, self.crawl_pid) or self.main_thread_cpu
            samples += 1
            self._halt.wait(self.interval)

    @property
    def writer_cpu(self) -> float:
        return sum(self.cpu.get(pid, 0.0) for pid in self.writers)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def busy_cpu_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (user, nice, system, irq, softirq)."""
    with open("/proc/stat", "rb") as fh:
        fields = fh.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / _TICK


def wait_for_quiet(limit: float, timeout: float) -> float:
    """Wait until other processes use less than ``limit`` of all cores over a second; return the last load seen.

    Other work on the machine competes for the same 2 cores and skews wall-clock ratios.
    """
    deadline = time.monotonic() + timeout
    while True:
        busy, started = busy_cpu_seconds(), time.monotonic()
        time.sleep(1.0)
        load = (busy_cpu_seconds() - busy) / (CORES * (time.monotonic() - started))
        if load < limit or time.monotonic() > deadline:
            if load >= limit:
                print(f"    (the machine is busy: {load:.0%} of {CORES} cores used by others; measuring anyway)")
            return load


def reap_orphans(exclude: set[int], timeout: float = 15.0) -> None:
    """Wait for and reap processes reparented to us (we are a subreaper), except ``exclude``."""
    deadline = time.monotonic() + timeout
    me = os.getpid()
    while True:
        orphans = [pid for pid in _children(me) if pid not in exclude]
        if not orphans:
            return
        for pid in orphans:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if not done and time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
        time.sleep(0.05)


@dataclass
class Run:
    name: str
    label: str
    returncode: int = 0
    wall: float = 0.0
    cpu: float = 0.0  # whole tree: user + sys
    cpu_main: float = 0.0  # the crawl process itself, last /proc sample (approximate)
    cpu_main_thread: float = 0.0  # its main (reactor) thread
    cpu_writer: float = 0.0  # its child, the archive writer process, last /proc sample (approximate)
    maxrss: int = 0  # ru_maxrss: the largest single process of the tree
    tree_rss: int = 0
    tree_pss: int = 0
    processes: int = 0
    server: dict[str, Any] = field(default_factory=dict)
    pages: int = 0
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    log: Path | None = None
    startup: float = 0.0  # process start to the first article request
    tail: float = 0.0  # last article request to process exit (responses, drain, close)
    foreign: float = 0.0  # CPU seconds used by processes outside the benchmark during the run
    own_cpu: float = 0.0  # CPU seconds this benchmark process used during the run (its sampler)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall if self.wall else 0.0

    @property
    def cpu_per_page(self) -> float:
        return self.cpu / self.pages if self.pages else float("nan")

    @property
    def window_rate(self) -> float:
        window = self.server.get("window") or 0.0
        return self.pages / window if window else 0.0

    @classmethod
    def pooled(cls, rounds: list[Run]) -> Run:
        """The rounds of one phase as one run: times, pages and CPU summed (so rates are pooled),
        start and tail averaged, memory at its peak, every check kept."""
        last = rounds[-1]
        run = cls(last.name, last.label + (f", {len(rounds)} rounds" if len(rounds) > 1 else ""), log=last.log)
        run.returncode = next((r.returncode for r in rounds if r.returncode), 0)
        for name in ("wall", "cpu", "cpu_main", "cpu_main_thread", "cpu_writer", "pages", "foreign", "own_cpu"):
            setattr(run, name, sum(getattr(r, name) for r in rounds))
        for name in ("startup", "tail"):
            setattr(run, name, sum(getattr(r, name) for r in rounds) / len(rounds))
        for name in ("maxrss", "tree_rss", "tree_pss", "processes"):
            setattr(run, name, max(getattr(r, name) for r in rounds))
        run.server = {
            key: sum(r.server.get(key, 0) for r in rounds) for key in ("cpu", "window", "connections", "other", "bytes")
        }
        run.checks = [check for r in rounds for check in r.checks]
        return run


def measure(name: str, label: str, argv: list[str], server: ServerProcess, log: Path, *, wrapped: bool = False) -> Run:
    """Run ``argv`` as a crawl process and measure it; the server's counters cover just this run."""
    reap_orphans({server.process.pid})
    wait_for_quiet(QUIET_LOAD, QUIET["timeout"])
    server_before = server.stats()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    me_before = resource.getrusage(resource.RUSAGE_SELF)
    busy_before = busy_cpu_seconds()
    started = time.perf_counter()
    started_mono = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    sampler = TreeSampler(process.pid, wrapped=wrapped)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    ended_mono = time.monotonic()
    process.returncode = os.waitstatus_to_exitcode(status)
    sampler.stop()
    reap_orphans({server.process.pid})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    me_after = resource.getrusage(resource.RUSAGE_SELF)
    busy = busy_cpu_seconds() - busy_before
    server_after = server.stats()
    run = Run(name, label, log=log)
    run.returncode = process.returncode
    run.wall = wall
    run.cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    run.cpu_main = sampler.cpu.get(sampler.crawl_pid or 0, 0.0)
    run.cpu_main_thread = sampler.main_thread_cpu
    run.cpu_writer = sampler.writer_cpu
    run.maxrss = usage.ru_maxrss * 1024
    run.tree_rss, run.tree_pss, run.processes = sampler.peak_rss, sampler.peak_pss, sampler.peak_processes
    run.server = {**server_after, "cpu": server_after["cpu"] - server_before["cpu"]}
    run.pages = server_after["articles"]
    if server_after.get("first"):
        run.startup = server_after["first"] - started_mono
        run.tail = ended_mono - server_after["last"]
    run.own_cpu = (me_after.ru_utime - me_before.ru_utime) + (me_after.ru_stime - me_before.ru_stime)
    run.foreign = max(0.0, busy - run.cpu - run.server["cpu"] - run.own_cpu)
    return run


# --------------------------------------------------------------------------------------------
# The phases.
# --------------------------------------------------------------------------------------------

BARE_SPIDER = '''
"""(a) A bare Scrapy spider: reads the sitemap, fetches every page, parse is a no-op."""
import json, sys
from scrapy.crawler import CrawlerProcess
from scrapy.spiders import SitemapSpider

settings = json.loads(sys.argv[1])

class Bench(SitemapSpider):
    name = "bench"
    sitemap_urls = [sys.argv[2]]

    def parse(self, response):
        self.crawler.stats.inc_value("bench/pages")

process = CrawlerProcess(settings)
crawler = process.create_crawler(Bench)
process.crawl(crawler)
process.start()
stats = crawler.stats.get_stats()
print(json.dumps({k: stats.get(k) for k in ("bench/pages", "finish_reason", "downloader/response_count")}))
'''


def _names_syndicrawl_class(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("crawler.", "archive."))


def bare_scrapy_settings(settings_file: Path, sources_file: Path) -> dict[str, Any]:
    """The Scrapy settings syndicrawl would use for the source, minus syndicrawl's own components."""
    from crawler.settings import scrapy_settings
    from syndicrawl.settings import load_settings
    from syndicrawl.sources import load_sources

    values = scrapy_settings(load_settings(settings_file), load_sources(sources_file)[0])
    # syndicrawl's own settings, and settings naming one of its classes (STATS_CLASS): Scrapy's defaults.
    for key in [k for k, v in values.items() if k.startswith("SYNDICRAWL_") or _names_syndicrawl_class(v)]:
        values.pop(key)
    # Component lists: Scrapy's defaults (syndicrawl trims the ``*_BASE`` lists, adds its own and
    # replaces some of Scrapy's, as its robots.txt middleware), so (a) runs bare Scrapy's.
    for key, components in list(values.items()):
        if key.endswith("_BASE"):
            values.pop(key)
        elif key.endswith(("_MIDDLEWARES", "_PIPELINES", "EXTENSIONS")) and isinstance(components, dict):
            kept = {name: order for name, order in components.items() if name.startswith("scrapy.") and order is not None}
            if kept:
                values[key] = kept
            else:
                values.pop(key)
    # What syndicrawl never runs either, switched off as a Scrapy user would: by its settings.
    values["TELNETCONSOLE_ENABLED"] = False
    values["REMOTE_CONTROL_ENABLED"] = False
    values["COOKIES_ENABLED"] = False
    return values


def write_config(work: Path, base: str, args: argparse.Namespace, extract: bool) -> tuple[Path, Path]:
    sources = work / "sources.toml"
    sources.write_text(
        textwrap.dedent(
            f"""\
            [[source]]
            name = "bench"
            kind = "origin"
            sitemaps = ["{base}/sitemap.xml"]
            private_addresses = true
            """
        )
    )
    settings = work / ("settings-extract.toml" if extract else "settings-capture.toml")
    settings.write_text(
        textwrap.dedent(
            f"""\
            [crawl]
            download_delay = 0.0
            autothrottle = false
            concurrent_requests = {args.concurrency}
            concurrent_requests_per_domain = {args.concurrency}
            obey_robots = true
            [extract]
            enabled = {"true" if extract else "false"}
            workers = {args.workers}
            """
        )
    )
    return sources, settings


def syndicrawl_argv() -> list[str]:
    script = Path(sys.executable).with_name("syndicrawl")
    return [str(script)] if script.exists() else [sys.executable, "-m", "syndicrawl"]


def profiled(argv: list[str], profile_dir: Path | None, name: str, workers: bool) -> list[str]:
    """``argv`` under py-spy: the crawl process only (its threads), or with ``workers`` its children too.

    Sampling the extractor workers as well costs a lot of CPU on 2 cores and distorts the run;
    their cost is what L0 measures, so by default only the crawl process is sampled.
    """
    if profile_dir is None:
        return argv
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    out = profile_dir / f"{name}.txt"
    options = ["--subprocesses"] if workers else []
    return [spy, "record", *options, "--nonblocking", "--rate", str(PROFILE_RATE), "--format", "raw",
            "--threads", "-o", str(out), "--", *argv]  # fmt: skip


def measure_l0(site: Site, count: int, when: str) -> tuple[float, dict[int, str]]:
    """``run_l0`` on a quiet machine, printed with the CPU other processes used meanwhile."""
    wait_for_quiet(QUIET_LOAD, QUIET["timeout"])
    busy, wall = busy_cpu_seconds(), time.perf_counter()
    l0, failed = run_l0(site, count)
    busy, wall = busy_cpu_seconds() - busy, time.perf_counter() - wall
    foreign = max(0.0, busy - l0 * count) / (CORES * wall)
    print(
        f"L0 {when}: trafilatura alone, {count} pages: {l0 * 1e3:.2f} ms CPU/page; extraction fails on "
        f"{len(failed)}; other load {foreign:.0%} of {CORES} cores"
    )
    return l0, failed


def measure_l0_pair(site: Site, count: int, alone: float) -> float:
    """``run_l0`` in two processes at once, one per core, right after L0 ``alone``: what a core
    extracts while the other is busy too, as in (c). Returns the ratio to ``alone``: a
    diagnostic of the machine; L itself uses L0 alone."""
    import multiprocessing

    wait_for_quiet(QUIET_LOAD, QUIET["timeout"])
    context = multiprocessing.get_context("fork")  # the children share this process's site
    results = context.SimpleQueue()
    children = [context.Process(target=lambda: results.put(run_l0(site, count)[0])) for _ in range(CORES)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    pair = sum(results.get() for _ in children) / len(children)
    print(f"L0 on both cores at once: {pair * 1e3:.2f} ms CPU/page ({pair / alone:.3f} x L0 alone just before)")
    return pair / alone


def run_l0(site: Site, count: int) -> tuple[float, dict[int, str]]:
    """CPU seconds per page of extract_article(fast=True) alone, on ``count`` pages spread over the
    site (every corpus page and text variant in proportion), and the pages it fails on."""
    from archive.errors import ExtractionError
    from archive.ingest.extract import extract_article

    extract_article(site.text(0), "http://127.0.0.1/warmup.html", fast=True)  # imports, caches
    failed: dict[int, str] = {}
    cpu = 0.0
    sample = sorted({j * site.pages // count for j in range(count)})
    for i in sample:
        html = site.text(i)
        url = f"http://127.0.0.1{site.path(i)}"
        started = time.process_time()
        try:
            extract_article(html, url, fast=True)
        except ExtractionError as exc:
            failed[i] = str(exc)
        cpu += time.process_time() - started
    return cpu / len(sample), failed


def count_warc_responses(warc_dir: Path) -> tuple[Counter[str], set[str], list[Path]]:
    """Record types of article URLs, the distinct article URLs with a response, and the files."""
    from warcio.archiveiterator import ArchiveIterator

    types: Counter[str] = Counter()
    urls: set[str] = set()
    files = sorted(warc_dir.glob("*.warc.gz*"))
    for path in files:
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                if ARTICLE_PREFIX not in uri:
                    continue
                types[record.rec_type] += 1
                if record.rec_type == "response":
                    urls.add(uri)
    return types, urls, files


def check_warcs(run: Run, data_dir: Path, pages: int) -> None:
    types, urls, files = count_warc_responses(data_dir / "warcs")
    open_files = [f.name for f in files if f.name.endswith(".open")]
    run.checks.append(
        (
            "WARC response records == pages served",
            types["response"] == pages == len(urls) and not types["revisit"] and not open_files,
            f"{types['response']} responses ({len(urls)} distinct URLs), {types['revisit']} revisits, "
            f"{types['metadata']} metadata, in {len(files)} file(s){', OPEN: ' + ', '.join(open_files) if open_files else ''}"
            f"; served {pages}",
        )
    )


def check_db(run: Run, data_dir: Path, pages: int, l0_failed: dict[int, str]) -> None:
    db = data_dir / "syndicrawl.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        ok = conn.execute("SELECT count(*) FROM articles WHERE status = 'ok'").fetchone()[0]
        failed = conn.execute("SELECT count(*) FROM articles WHERE status != 'ok'").fetchone()[0]
        captures = conn.execute("SELECT count(*) FROM captures WHERE url LIKE ?", (f"%{ARTICLE_PREFIX}%",)).fetchone()[0]
        errors = conn.execute("SELECT error FROM articles WHERE status != 'ok' LIMIT 1").fetchall()
    run.checks.append(("DB captures of articles == pages served", captures == pages, f"{captures} captures; served {pages}"))
    detail = f"{ok} ok + {failed} failed; served {pages}"
    if errors:
        detail += f"; e.g. {errors[0][0][:100]}"
    if l0_failed:
        detail += f" (trafilatura alone failed on {len(l0_failed)} of the pages L0 sampled)"
    run.checks.append(("DB articles status='ok' == pages served", ok == pages, detail))


# --------------------------------------------------------------------------------------------
# py-spy raw output: where the samples fall.
# --------------------------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _frame(frame: str) -> tuple[str, str]:
    """("function (file)", package) of a py-spy frame "function (path/file.py:line)"."""
    match = _FRAME.match(frame)
    if not match:
        return frame, "?"
    path = match["file"]
    top = path.split("/", 1)[0]
    if path.startswith("<frozen") or top in {"importlib", "pkgutil"}:
        top = "imports"
    elif "/" not in path:
        top = f"stdlib {path}" if path.endswith(".py") else path
    return f"{match['func']} ({path})", top


def summarize_profile(path: Path, pages: int, top: int = 18) -> str:
    """Per process role and thread: share of CPU samples, self time by package, top functions."""
    if not path.exists():
        return f"  (no profile at {path})"
    groups: Counter[str] = Counter()
    by_package: dict[str, Counter[str]] = defaultdict(Counter)
    self_counts: dict[str, Counter[str]] = defaultdict(Counter)
    incl_counts: dict[str, Counter[str]] = defaultdict(Counter)
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit() or not stack.startswith(("process ", "thread ")):
            continue
        count = int(count_text)
        # "process PID:"cmd"" frames (a forked worker repeats its parent's; a command line may hold
        # ";", as the writer's ``-c`` does), then "thread (TID): name" and the Python frames.
        heads = PROCESS_FRAMES.match(stack)
        if heads is not None and "py-spy" in heads.group(0):
            continue
        # Without --subprocesses py-spy names no process: the stacks are the crawl process's.
        processes = heads.group(0).count("process ") if heads is not None else 1
        frames = stack[heads.end() if heads is not None else 0 :].split(";")
        if len(frames) < 2 or not frames[0].startswith("thread "):
            continue
        thread = re.sub(r"^thread \(\d+\): ", "", frames[0]).rstrip("0123456789_ ") or "?"
        frames = frames[1:]
        key = f"{ROLES[min(processes, len(ROLES)) - 1]} / {thread}"
        total += count
        groups[key] += count
        names = [_frame(f) for f in frames]
        self_counts[key][names[-1][0]] += count
        by_package[key][names[-1][1]] += count
        for name in {n for n, _ in names}:
            incl_counts[key][name] += count
    if not total:
        return "  (no samples)"
    ms = 1000 / PROFILE_RATE / max(pages, 1)  # one sample, in ms of CPU per page

    lines = [
        f"  {total} CPU-busy samples at {PROFILE_RATE} Hz = {total * ms:.2f} ms CPU/page over {pages} pages;"
        " each line: share of all samples, ms CPU/page"
    ]
    for key, count in groups.most_common():
        lines.append(f"  [{key}] {count / total:.1%} {count * ms:.2f} ms/page")
        packages = ", ".join(f"{name} {c * ms:.2f}" for name, c in by_package[key].most_common(12))
        lines.append(f"    self ms/page by package: {packages}")
        lines.append("    self:")
        lines.extend(f"      {c / total:6.1%} {c * ms:6.2f}  {name}" for name, c in self_counts[key].most_common(top))
        lines.append("    inclusive:")
        lines.extend(
            f"      {c / total:6.1%} {c * ms:6.2f}  {name}" for name, c in incl_counts[key].most_common(top + 10)
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------------------------


def table(header: list[str], rows: list[list[Any]]) -> None:
    cells = [header, *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for n, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            print("-" * (sum(widths) + 2 * (len(widths) - 1)))


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def report(runs: dict[str, Run], l0: float | None, profiling: bool, pair_ratio: float | None = None) -> bool:
    per_page = lambda run, seconds: f"{seconds / max(run.pages, 1) * 1e3:.2f}"  # noqa: E731
    print()
    print("=" * 112)
    print("Crawl throughput: pages/s = pages fetched / wall time of the crawl process")
    print("=" * 112)
    table(
        ["run", "pages", "wall s", "start s", "tail s", "pages/s", "fetch/s", "srv CPU", "bench CPU", "other load"],
        [
            [
                run.label, run.pages, f"{run.wall:.2f}", f"{run.startup:.2f}", f"{run.tail:.2f}",
                f"{run.pages_per_s:.1f}", f"{run.window_rate:.1f}", f"{run.server.get('cpu', 0.0) / run.wall:.1%}",
                f"{run.own_cpu / run.wall:.1%}", f"{run.foreign / (CORES * run.wall):.0%}",
            ]
            for run in runs.values()
        ]
        + ([["L0  trafilatura alone, 1 process", "", "", "", "", f"{1 / l0:.1f}", "", "", "", ""]] if l0 else []),
    )  # fmt: skip
    print(
        "  start: process start to the first article request; tail: last article request to process exit.\n"
        "  fetch/s: pages / time from the first to the last article request (the server's view, no start/tail).\n"
        "  srv CPU: the server's CPU / wall (of one core); bench CPU: this benchmark's own (its /proc sampler);\n"
        "  other load: CPU of processes outside this benchmark\n"
        f"  during the run, share of all {CORES} cores (noise: it competes for the same cores)."
    )
    print()
    table(
        ["run", "CPU s", "CPU ms/pg", "crawl proc", "reactor thr", "writer", "workers", "ru_maxrss", "tree RSS", "tree PSS", "procs"],
        [
            [
                run.label, f"{run.cpu:.2f}", per_page(run, run.cpu), per_page(run, run.cpu_main),
                per_page(run, run.cpu_main_thread), per_page(run, run.cpu_writer),
                per_page(run, run.cpu - run.cpu_main - run.cpu_writer), _mb(run.maxrss), _mb(run.tree_rss), _mb(run.tree_pss), run.processes,
            ]
            for run in runs.values()
        ]
        + ([["L0  trafilatura alone, 1 process", "", f"{l0 * 1e3:.2f}", "", "", "", "", "", "", "", ""]] if l0 else []),
    )  # fmt: skip
    print(
        "  CPU: user+sys of the crawl process and all its children (os.wait4 / RUSAGE_CHILDREN). Per page (ms):\n"
        "  crawl proc = the crawl process itself (reactor thr: its main thread); writer = its child, the archive writer\n"
        "  process (both from their last /proc sample, 0.2 s before exit at worst); workers = the rest, the writer's\n"
        "  extractor workers.\n"
        "  ru_maxrss: the largest single process; tree RSS/PSS: peak sum over the process tree (RSS sampled every 0.2 s, PSS every 2 s)."
    )
    for run in runs.values():
        s = run.server
        print(
            f"  {run.name}: exit {run.returncode}; server: {s.get('connections', 0)} connections, "
            f"{s.get('other', 0)} other requests, {s.get('bytes', 0) / 1e6:,.0f} MB sent; log {run.log}"
        )
    print()
    ok = True
    rows: list[tuple[str, float, str, bool | None]] = []
    a, b, c = runs.get("a"), runs.get("b"), runs.get("c")
    for run in (a, b):
        if run:
            rows.append((f"{run.name}: cores busy (CPU s / wall s)", run.cpu / run.wall, "", None))
    if a and b:
        ratio = b.pages_per_s / a.pages_per_s
        rows.append(("b/a pages/s (capture vs bare Scrapy)", ratio, f">= {TARGET_B_OVER_A:.2f}", ratio >= TARGET_B_OVER_A))
        # Both are one process bound to one core (the GIL): what b/a is without noise.
        rows.append(("  b/a by CPU: a CPU/pg / b CPU/pg", a.cpu_per_page / b.cpu_per_page, "", None))
    if a and c and l0 is not None:
        best = CORES / (a.cpu_per_page + l0)
        ratio = c.pages_per_s / best
        rows.append((f"L = {CORES} cores / (a CPU/pg + L0 CPU/pg), pages/s", best, "", None))
        rows.append(("c/L pages/s (full pipeline vs machine bound)", ratio, f">= {TARGET_C_OVER_L:.2f}", ratio >= TARGET_C_OVER_L))
        # The bound with only the cores the server and other processes left to (c).
        free = CORES - (c.foreign + c.server.get("cpu", 0.0)) / c.wall
        rows.append((f"  c/L' (L' = L x {free:.2f}/{CORES}: cores left by others)", ratio * CORES / free, "", None))
        rows.append(("  c cores busy (CPU s / wall s)", c.cpu / c.wall, f"of {free:.2f}", None))
        # What c/L would be with every core busy: the CPU c spends per page against the bound's.
        rows.append(("  c/L by CPU: (a + L0) CPU/pg / c CPU/pg", (a.cpu_per_page + l0) / c.cpu_per_page, "", None))
        if pair_ratio is not None:
            # The bound with L0 as extracted on both cores at once: what the machine loses when
            # its two cores are busy together, apart from what (c) adds.
            rows.append(("  L0 on both cores at once / L0 alone", pair_ratio, "", None))
            l2 = CORES / (a.cpu_per_page + l0 * pair_ratio)
            rows.append(("  c/L2 (L2 = 2 cores / (a + L0 x that))", c.pages_per_s / l2, "", None))
    for run in runs.values():
        rows.append((f"{run.name}: peak RSS of the process tree, GB", run.tree_rss / 1e9, "< 1.00", run.tree_rss < TARGET_RSS_BYTES))
    table(
        ["figure", "value", "target", ""],
        [[name, f"{value:.3f}", target, "" if passed is None else ("PASS" if passed else "FAIL")] for name, value, target, passed in rows],
    )
    ok = all(passed is not False for *_, passed in rows)
    print()
    print("Checks")
    print("-" * 72)
    for run in runs.values():
        for name, passed, detail in run.checks:
            print(f"{'PASS' if passed else 'FAIL'}  {run.name}: {name}: {detail}")
            ok = ok and passed
    if profiling:
        print("\n(profiled run: timings include py-spy's overhead; targets are not meaningful)")
    return ok


# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000, help="article pages to serve (default 2000)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"directory of real HTML pages (default {CORPUS})")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent requests, also per domain (default 32)")
    parser.add_argument("--workers", type=int, default=2, help="extractor worker processes in (c) (default 2)")
    parser.add_argument("--phases", default="l0,a,b,c", help="comma-separated subset of l0,a,b,c (default all)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of (a) and of (b), alternating (default 3)")
    parser.add_argument("--c-rounds", type=int, default=2, help="runs of (c), each followed by L0 (default 2)")
    parser.add_argument("--l0-pages", type=int, default=0, help="pages for L0 (default: every corpus page twice)")
    parser.add_argument("--work-dir", type=Path, help="keep data directories and logs here (default: a temp dir, removed)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="run the crawls under py-spy, raw profiles in DIR")
    parser.add_argument(
        "--quiet-timeout", type=float, default=QUIET["timeout"],
        help=f"seconds to wait before each phase for other processes to use < {QUIET_LOAD * 100:.0f}%% of the cores "
        "(default %(default)s)",
    )  # fmt: skip
    parser.add_argument("--profile-workers", action="store_true", help="with --profile, sample the extractor workers too")
    parser.add_argument(
        "--cli",
        help="command running syndicrawl for (b) and (c), split on spaces (default: the syndicrawl script next to "
        "this Python); e.g. a wrapper that patches product code to try a fix",
    )
    parser.add_argument(
        "--duplicate-text",
        action="store_true",
        help="serve each corpus article's text unchanged on pages/109 URLs (syndication clusters of that size) "
        "instead of a distinct text per page",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if not args.corpus.is_dir() or not any(args.corpus.glob("*.html")):
        print(f"corpus directory {args.corpus} is absent (or has no *.html); give --corpus DIR. Nothing to benchmark.")
        return 0
    site = Site.load(args.corpus, args.pages, args.duplicate_text)
    if args.serve:
        serve(site)
        return 0

    QUIET["timeout"] = args.quiet_timeout
    phases = {p.strip().lower() for p in args.phases.split(",") if p.strip()}
    become_subreaper()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="syndicrawl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(
        f"{args.pages} pages from {len(site.corpus)} corpus pages "
        f"({sum(len(b) for _, b, _ in site.corpus) / len(site.corpus) / 1024:.0f} KiB mean), "
        f"concurrency {args.concurrency}, {args.workers} extractor workers, {os.cpu_count()} CPUs; "
        + (
            f"each article's text on ~{args.pages / len(site.corpus):.0f} URLs (--duplicate-text)"
            if args.duplicate_text
            else "a distinct text per page"
        )
        + f"; work dir {work}"
    )

    l0s: list[float] = []  # L0 measurements: before the crawls, or around each (c)
    l0_failed: dict[int, str] = {}
    count = min(args.pages, args.l0_pages or 2 * len(site.corpus))

    def sample_l0(when: str) -> None:
        nonlocal l0_failed
        l0, l0_failed = measure_l0(site, count, when)
        l0s.append(l0)
        for i, error in sorted(l0_failed.items())[:5]:
            print(f"    {site.path(i)} ({site.source_of(i)[0]}): {error.split(': ', 1)[-1][:100]}")

    if "l0" in phases and "c" not in phases:
        sample_l0("alone")

    server = ServerProcess(args.corpus, args.pages, args.duplicate_text)
    rounds: dict[str, list[Run]] = defaultdict(list)
    pair_ratio: float | None = None
    try:
        sources, capture_settings = write_config(work, server.base, args, extract=False)
        _, extract_settings = write_config(work, server.base, args, extract=True)
        bare_argv = []
        if "a" in phases:
            script = work / "bare_spider.py"
            script.write_text(BARE_SPIDER)
            bare = bare_scrapy_settings(capture_settings, sources)
            shown = ("CONCURRENT_REQUESTS", "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_DELAY", "AUTOTHROTTLE_ENABLED",
                     "ROBOTSTXT_OBEY", "DOWNLOAD_TIMEOUT", "RETRY_TIMES", "COOKIES_ENABLED", "CONCURRENT_ITEMS")  # fmt: skip
            print("(a) Scrapy settings: " + ", ".join(f"{k}={bare.get(k, '(default)')}" for k in shown))
            bare_argv = [sys.executable, str(script), json.dumps(bare), f"{server.base}/sitemap.xml"]

        def run_bare() -> None:
            print("(a) bare Scrapy ...", flush=True)
            argv = profiled(bare_argv, args.profile, "a", False)
            run = measure("a", "(a) bare Scrapy, fetch only", argv, server, work / "a.log", wrapped=bool(args.profile))
            print(f"    {run.pages} pages in {run.wall:.2f} s: {run.log.read_text().strip().splitlines()[-1:]}")
            if run.pages != args.pages:
                run.checks.append(("pages fetched == pages served", False, f"{run.pages} of {args.pages}"))
            rounds["a"].append(run)

        def run_syndicrawl(name: str, settings_file: Path, label: str) -> None:
            data_dir = work / f"data-{name}"
            shutil.rmtree(data_dir, ignore_errors=True)
            argv = (args.cli.split() if args.cli else syndicrawl_argv()) + [
                "crawl", "--config", str(sources), "--settings", str(settings_file), "--data-dir", str(data_dir),
            ]  # fmt: skip
            print(f"{label} ...", flush=True)
            run = measure(
                name, label, profiled(argv, args.profile, name, args.profile_workers), server, work / f"{name}.log",
                wrapped=bool(args.profile),
            )  # fmt: skip
            print(f"    {run.pages} pages in {run.wall:.2f} s, exit {run.returncode}; verifying ...", flush=True)
            check_warcs(run, data_dir, run.pages)
            if run.pages != args.pages:
                run.checks.append(("pages fetched == pages in sitemap", False, f"{run.pages} of {args.pages}"))
            if name == "c":
                check_db(run, data_dir, run.pages, l0_failed)
            if args.work_dir is None:
                shutil.rmtree(data_dir, ignore_errors=True)
            rounds[name].append(run)

        # (a) and (b) take seconds each, while the machine's speed drifts by up to 20% from one to
        # the next: they alternate, and b/a pools the rounds.
        for _ in range(1 if args.profile else args.rounds):
            if "a" in phases:
                run_bare()
            if "b" in phases:
                run_syndicrawl("b", capture_settings, "(b) syndicrawl, WARC, no extraction")
        if len(rounds.get("a", ())) > 1 and len(rounds.get("b", ())) == len(rounds["a"]):
            ratios = [b.pages_per_s / a.pages_per_s for a, b in zip(rounds["a"], rounds["b"], strict=True)]
            print("b/a by round: " + ", ".join(f"{ratio:.3f}" for ratio in ratios))
        if "c" in phases:
            # The machine's speed drifts, by up to 45% within a minute here: (c) runs
            # ``--c-rounds`` times, each between two measures of L0 on the same pages.
            sample_l0("before (c)")
            for n in range(1, (1 if args.profile else args.c_rounds) + 1):
                run_syndicrawl("c", extract_settings, "(c) syndicrawl, WARC + extraction")
                sample_l0(f"after (c) #{n}")
            pair_ratio = measure_l0_pair(site, count, l0s[-1])
    finally:
        server.stop()
    runs = {name: Run.pooled(phase) for name, phase in rounds.items()}
    c_rounds = rounds.get("c", [])
    # Each round of (c) against the L0 measured on both sides of it; L uses their mean.
    brackets = [(l0s[n] + l0s[n + 1]) / 2 for n in range(len(c_rounds))] if c_rounds and len(l0s) > len(c_rounds) else l0s
    l0 = sum(brackets) / len(brackets) if brackets else None
    if len(l0s) > 1:
        print(f"L0 used: {l0 * 1e3:.2f} ms CPU/page, the mean over the rounds of (c) of the L0 before and after each")
    if len(c_rounds) > 1 and "a" in runs:
        ratios = [c.pages_per_s * (runs["a"].cpu_per_page + bracket) / CORES for c, bracket in zip(c_rounds, brackets)]
        print("c/L by round: " + ", ".join(f"{ratio:.3f}" for ratio in ratios))
    ok = report(runs, l0, bool(args.profile), pair_ratio)
    if args.profile:
        for name in runs:
            print(f"\nWhere ({name})'s CPU samples fall ({args.profile / (name + '.txt')}):")
            print(summarize_profile(args.profile / f"{name}.txt", runs[name].pages))
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
