"""Crawl throughput benchmark: how close does syndicrawl get to a bare Scrapy fetch and to the machine's limit?

Serves ``--pages`` article pages (default 2000) on 127.0.0.1 from a separate process, built from
the real pages in ``/work/shared/corpus/pages`` (each URL's body made unique by a trailing HTML
comment, so exact-payload dedup never turns a capture into a revisit), with a ``/sitemap.xml``
listing them all and a ``/robots.txt``. Then, in one run:

  (a)  a bare Scrapy SitemapSpider that only fetches (parse is a no-op), with the Scrapy settings
       syndicrawl would use (same concurrency, robots, timeouts, retries), in its own process;
  (b)  ``syndicrawl crawl`` (the real CLI) with WARC capture on and extraction off;
  (c)  ``syndicrawl crawl`` with extraction on (trafilatura in the pebble worker pool);
  (L0) ``archive.extract.extract_article(html, url, fast=True)`` alone, in this process.

For (a), (b) and (c) it prints pages/s (pages fetched / wall time of the crawl process), CPU
seconds per page (the process's user+sys plus its children's, from ``os.wait4`` and
``RUSAGE_CHILDREN``; orphans are reaped too, this process being a child subreaper) and peak
memory of the crawl process tree (ru_maxrss of the largest process, and the peak sum of RSS/PSS
over the tree sampled from /proc every 0.2 s). Then the ratios b/a (pages/s) and c/L, where
L = 2 cores / (CPU s per page of (a) + CPU s per page of L0) is the best this 2-core machine could
do, with their targets. After (b) and (c) it counts the response records in the WARC files
(warcio) and, after (c), the ``status='ok'`` rows of ``articles`` in the SQLite database.

The server's own CPU per phase is printed as well: it shares the 2 cores, so it must stay small
for the numbers to mean anything.

    .venv/bin/python benchmarks/crawl_throughput.py [--pages 2000] [--corpus DIR]
    .venv/bin/python benchmarks/crawl_throughput.py --phases a,b --profile /tmp/prof   # py-spy

``--profile DIR`` runs each crawl under ``py-spy record --subprocesses`` (if installed) and prints
where the CPU samples fall; timings of a profiled run are distorted and are not checked against
the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
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

TARGET_B_OVER_A = 0.90
TARGET_C_OVER_L = 0.85
TARGET_RSS_BYTES = 1_000_000_000

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)


# --------------------------------------------------------------------------------------------
# The site: pre-rendered bytes, shared by the server process and the checks in this process.
# --------------------------------------------------------------------------------------------


@dataclass
class Site:
    """``pages`` article pages; page ``i`` is corpus page ``i % len(corpus)`` plus a unique tail."""

    corpus: list[tuple[str, bytes, str]]  # (file name, body, charset)
    pages: int

    @classmethod
    def load(cls, corpus_dir: Path, pages: int) -> Site:
        corpus = []
        for path in sorted(corpus_dir.glob("*.html")):
            body = path.read_bytes()
            match = _CHARSET.search(body[:8192])
            charset = match.group(1).decode("ascii").lower() if match else "utf-8"
            corpus.append((path.name, body, charset))
        return cls(corpus, pages)

    def path(self, i: int) -> str:
        return f"{ARTICLE_PREFIX}{i:05d}.html"

    def tail(self, i: int) -> bytes:
        # After </html>: changes the payload digest, not what trafilatura extracts.
        return f"\n<!-- syndicrawl benchmark page {i} -->\n".encode("ascii")

    def source_of(self, i: int) -> tuple[str, bytes, str]:
        return self.corpus[i % len(self.corpus)]

    def body(self, i: int) -> bytes:
        return self.source_of(i)[1] + self.tail(i)

    def text(self, i: int) -> str:
        """The page as ``response.text`` gives it to the pipeline (decoded with the header charset)."""
        _, _, charset = self.source_of(i)
        return self.body(i).decode(charset, errors="replace")


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
        _, body, charset = site.source_of(i)
        replies[site.path(i).encode()] = reply(body, f"text/html; charset={charset}", site.tail(i))

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
    def __init__(self, corpus: Path, pages: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--corpus", str(corpus), "--pages", str(pages)],
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


def _proc_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (ppid, cpu seconds, command name) for every process."""
    table = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        name_end = raw.rfind(b")")
        fields = raw[name_end + 2 :].split()
        # fields[0] is state (field 3): ppid is field 4, utime 14, stime 15.
        table[int(entry.name)] = (
            int(fields[1]),
            (int(fields[11]) + int(fields[12])) / _TICK,
            raw[raw.find(b"(") + 1 : name_end].decode(errors="replace"),
        )
    return table


def _descendants(root: int, table: dict[int, tuple[int, float, str]]) -> list[int]:
    children = defaultdict(list)
    for pid, (ppid, _, _) in table.items():
        children[ppid].append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in bytes; PSS counts pages shared with forked workers once."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            rss = int(fh.read().split()[1]) * _PAGE
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    pss = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    return rss, pss


class TreeSampler(threading.Thread):
    """Samples the crawl process tree: peak summed RSS/PSS, peak process count, per-process CPU."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.interval = interval
        self.peak_rss = self.peak_pss = self.peak_processes = 0
        self.cpu: dict[int, float] = {}  # last CPU seen per pid
        self.names: dict[int, str] = {}
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            table = _proc_table()
            pids = _descendants(self.root, table)
            rss = pss = 0
            for pid in pids:
                r, p = _memory(pid)
                rss += r
                pss += p
                self.cpu[pid] = table[pid][1]
                self.names.setdefault(pid, table[pid][2])
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_processes = max(self.peak_processes, len(pids))
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def busy_cpu_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (user, nice, system, irq, softirq)."""
    with open("/proc/stat", "rb") as fh:
        fields = fh.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / _TICK


def reap_orphans(exclude: set[int], timeout: float = 15.0) -> None:
    """Wait for and reap processes reparented to us (we are a subreaper), except ``exclude``."""
    deadline = time.monotonic() + timeout
    me = os.getpid()
    while True:
        orphans = [pid for pid, (ppid, _, _) in _proc_table().items() if ppid == me and pid not in exclude]
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


def measure(name: str, label: str, argv: list[str], server: ServerProcess, log: Path) -> Run:
    """Run ``argv`` as a crawl process and measure it; the server's counters cover just this run."""
    reap_orphans({server.process.pid})
    server_before = server.stats()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    me_before = resource.getrusage(resource.RUSAGE_SELF)
    busy_before = busy_cpu_seconds()
    started = time.perf_counter()
    started_mono = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)
    sampler = TreeSampler(process.pid)
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
    run.cpu_main = sampler.cpu.get(process.pid, 0.0)
    run.maxrss = usage.ru_maxrss * 1024
    run.tree_rss, run.tree_pss, run.processes = sampler.peak_rss, sampler.peak_pss, sampler.peak_processes
    run.server = {**server_after, "cpu": server_after["cpu"] - server_before["cpu"]}
    run.pages = server_after["articles"]
    if server_after.get("first"):
        run.startup = server_after["first"] - started_mono
        run.tail = ended_mono - server_after["last"]
    me = (me_after.ru_utime - me_before.ru_utime) + (me_after.ru_stime - me_before.ru_stime)
    run.foreign = max(0.0, busy - run.cpu - run.server["cpu"] - me)
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


def bare_scrapy_settings(settings_file: Path, sources_file: Path) -> dict[str, Any]:
    """The Scrapy settings syndicrawl would use for the source, minus syndicrawl's own components."""
    from crawler.settings import scrapy_settings
    from syndicrawl.settings import load_settings
    from syndicrawl.sources import load_sources

    values = scrapy_settings(load_settings(settings_file), load_sources(sources_file)[0])
    for key in ("DOWNLOADER_MIDDLEWARES", "ITEM_PIPELINES"):
        values.pop(key)
    for key in [k for k in values if k.startswith("SYNDICRAWL_")]:
        values.pop(key)
    values["TELNETCONSOLE_ENABLED"] = False
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


def profiled(argv: list[str], profile_dir: Path | None, name: str) -> list[str]:
    if profile_dir is None:
        return argv
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out = profile_dir / f"{name}.txt"
    return [spy, "record", "--subprocesses", "--nonblocking", "--rate", str(PROFILE_RATE), "--format", "raw",
            "--threads", "-o", str(out), "--", *argv]  # fmt: skip


def run_l0(site: Site, count: int) -> tuple[float, dict[int, str]]:
    """CPU seconds per page of extract_article(fast=True) alone, and which corpus pages fail."""
    from archive.errors import ExtractionError
    from archive.extract import extract_article

    extract_article(site.text(0), "http://127.0.0.1/warmup.html", fast=True)  # imports, caches
    failed: dict[int, str] = {}
    cpu = 0.0
    for i in range(count):
        html = site.text(i)
        url = f"http://127.0.0.1{site.path(i)}"
        started = time.process_time()
        try:
            extract_article(html, url, fast=True)
        except ExtractionError as exc:
            failed[i % len(site.corpus)] = str(exc)
        cpu += time.process_time() - started
    return cpu / count, failed


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


def check_db(run: Run, data_dir: Path, pages: int, expected_ok: int) -> None:
    db = data_dir / "syndicrawl.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        ok = conn.execute("SELECT count(*) FROM articles WHERE status = 'ok'").fetchone()[0]
        failed = conn.execute("SELECT count(*) FROM articles WHERE status != 'ok'").fetchone()[0]
        captures = conn.execute("SELECT count(*) FROM captures WHERE url LIKE ?", (f"%{ARTICLE_PREFIX}%",)).fetchone()[0]
        errors = conn.execute("SELECT error FROM articles WHERE status != 'ok' LIMIT 3").fetchall()
    run.checks.append(("DB captures of articles == pages served", captures == pages, f"{captures} captures; served {pages}"))
    run.checks.append(
        (
            "DB articles status='ok' == pages served",
            ok == pages,
            f"{ok} ok + {failed} failed; served {pages}"
            + (f"; trafilatura alone fails on corpus pages giving {pages - expected_ok}" if expected_ok != pages else "")
            + (f"; e.g. {errors[0][0][:100]}" if errors else ""),
        )
    )
    if expected_ok != pages:
        run.checks.append(
            ("DB articles status='ok' == pages L0 extracts", ok == expected_ok, f"{ok} ok; L0 expects {expected_ok}")
        )


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
        if not count_text.isdigit() or not stack.startswith("process "):
            continue
        count = int(count_text)
        frames = stack.split(";")
        if len(frames) < 3 or "py-spy" in frames[0]:
            continue
        thread = re.sub(r"^thread \(\d+\): ", "", frames[1]).rstrip("0123456789_ ") or "?"
        frames = frames[2:]
        worker = any("multiprocessing/process.py" in f for f in frames)
        key = f"{'extractor workers' if worker else 'crawl process'} / {thread}"
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


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def report(runs: dict[str, Run], l0: float | None, profiling: bool) -> bool:
    print()
    print("=" * 100)
    print("Crawl throughput (pages/s = pages fetched / wall time of the crawl process; CPU = user+sys of its tree)")
    print("=" * 100)
    header = (
        f"{'run':<34}{'pages':>6}{'wall s':>8}{'start':>6}{'tail':>6}{'pages/s':>9}{'fetch/s':>9}{'CPU s':>8}{'CPU ms/pg':>10}"
        f"{'main ms/pg':>11}{'peak RSS':>10}{'tree RSS':>10}{'tree PSS':>10}{'srv CPU':>8}{'other':>7}"
    )
    print(header)
    print("-" * len(header))
    for run in runs.values():
        srv = run.server.get("cpu", 0.0)
        print(
            f"{run.label:<34}{run.pages:>6}{run.wall:>8.2f}{run.startup:>6.2f}{run.tail:>6.2f}{run.pages_per_s:>9.1f}{run.window_rate:>9.1f}"
            f"{run.cpu:>8.2f}{run.cpu_per_page * 1e3:>10.2f}{run.cpu_main / max(run.pages, 1) * 1e3:>11.2f}"
            f"{_mb(run.maxrss):>10}{_mb(run.tree_rss):>10}{_mb(run.tree_pss):>10}{srv / run.wall:>8.1%}"
            f"{run.foreign / (CORES * run.wall):>7.0%}"
        )
    if l0 is not None:
        print(f"{'L0  trafilatura alone (1 process)':<34}{'':>6}{'':>8}{'':>12}{1 / l0:>9.1f}{'':>9}{'':>8}{l0 * 1e3:>10.2f}")
    print(
        "  start: process start to the first article request; tail: last article request to process exit.\n"
        "  fetch/s: pages / time from the first to the last article request the server saw (excludes start-up and\n"
        "  shutdown). main ms/pg: the crawl process alone (last /proc sample before exit). peak RSS: ru_maxrss, the\n"
        "  largest single process; tree RSS/PSS: peak sum over the process tree. srv CPU: server CPU / wall (of one\n"
        f"  core). other: CPU used by processes outside this benchmark during the run, of all {CORES} cores (noise)."
    )
    for run in runs.values():
        s = run.server
        print(
            f"  {run.name}: exit {run.returncode}; server: {s.get('connections', 0)} connections, "
            f"{s.get('other', 0)} other requests, {s.get('bytes', 0) / 1e6:,.0f} MB sent; "
            f"peak {run.processes} processes; log {run.log}"
        )

    print()
    ok = True
    rows: list[tuple[str, float | None, str, bool | None]] = []
    a, b, c = runs.get("a"), runs.get("b"), runs.get("c")
    if a and b:
        ratio = b.pages_per_s / a.pages_per_s
        rows.append(("b/a pages/s (capture vs bare Scrapy)", ratio, f">= {TARGET_B_OVER_A:.2f}", ratio >= TARGET_B_OVER_A))
        rows.append(("b/a CPU per page", b.cpu_per_page / a.cpu_per_page, "(info)", None))
    if a and c and l0 is not None:
        best = CORES / (a.cpu_per_page + l0)
        ratio = c.pages_per_s / best
        rows.append((f"L = {CORES} cores / (CPU/pg a + L0) pages/s", best, "(bound)", None))
        rows.append(("c/L pages/s (full pipeline vs bound)", ratio, f">= {TARGET_C_OVER_L:.2f}", ratio >= TARGET_C_OVER_L))
        rows.append(("c CPU per page / (a + L0)", c.cpu_per_page / (a.cpu_per_page + l0), "(info)", None))
    for run in runs.values():
        rows.append((f"{run.name} peak tree RSS (GB)", run.tree_rss / 1e9, "< 1.00", run.tree_rss < TARGET_RSS_BYTES))
    print(f"{'ratio':<44}{'value':>10}  {'target':<10}{'':>6}")
    print("-" * 72)
    for name, value, target, passed in rows:
        verdict = "" if passed is None else ("PASS" if passed else "FAIL")
        print(f"{name:<44}{value:>10.3f}  {target:<10}{verdict:>6}")
        ok = ok and passed is not False
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
    parser.add_argument("--l0-pages", type=int, default=0, help="pages for L0 (default: every corpus page twice)")
    parser.add_argument("--work-dir", type=Path, help="keep data directories and logs here (default: a temp dir, removed)")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="run the crawls under py-spy, raw profiles in DIR")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if not args.corpus.is_dir() or not any(args.corpus.glob("*.html")):
        print(f"corpus directory {args.corpus} is absent (or has no *.html); give --corpus DIR. Nothing to benchmark.")
        return 0
    site = Site.load(args.corpus, args.pages)
    if args.serve:
        serve(site)
        return 0

    phases = {p.strip().lower() for p in args.phases.split(",") if p.strip()}
    become_subreaper()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="syndicrawl-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    print(
        f"{args.pages} pages from {len(site.corpus)} corpus pages "
        f"({sum(len(b) for _, b, _ in site.corpus) / len(site.corpus) / 1024:.0f} KiB mean), "
        f"concurrency {args.concurrency}, {args.workers} extractor workers, {os.cpu_count()} CPUs; work dir {work}"
    )

    l0 = None
    expected_ok = args.pages
    if "l0" in phases or "c" in phases:
        count = args.l0_pages or 2 * len(site.corpus)
        busy, wall = busy_cpu_seconds(), time.perf_counter()
        l0, failed = run_l0(site, count)
        busy, wall = busy_cpu_seconds() - busy, time.perf_counter() - wall
        l0_foreign = max(0.0, busy - l0 * count) / (CORES * wall)
        expected_ok = sum(1 for i in range(args.pages) if i % len(site.corpus) not in failed)
        print(
            f"L0: trafilatura alone, {count} pages: {l0 * 1e3:.2f} ms CPU/page; {len(failed)} corpus pages fail "
            f"extraction; other load {l0_foreign:.0%} of {CORES} cores"
        )
        for index, error in sorted(failed.items()):
            print(f"    {site.corpus[index][0]}: {error.split(': ', 1)[-1][:100]}")

    server = ServerProcess(args.corpus, args.pages)
    runs: dict[str, Run] = {}
    try:
        sources, capture_settings = write_config(work, server.base, args, extract=False)
        _, extract_settings = write_config(work, server.base, args, extract=True)
        if "a" in phases:
            script = work / "bare_spider.py"
            script.write_text(BARE_SPIDER)
            settings = json.dumps(bare_scrapy_settings(capture_settings, sources))
            argv = profiled([sys.executable, str(script), settings, f"{server.base}/sitemap.xml"], args.profile, "a")
            print("(a) bare Scrapy ...", flush=True)
            runs["a"] = run = measure("a", "(a) bare Scrapy, fetch only", argv, server, work / "a.log")
            print(f"    {run.pages} pages in {run.wall:.2f} s: {run.log.read_text().strip().splitlines()[-1:]}")
            if run.pages != args.pages:
                run.checks.append(("pages fetched == pages served", False, f"{run.pages} of {args.pages}"))
        for name, settings_file, label in (
            ("b", capture_settings, "(b) syndicrawl, WARC, no extraction"),
            ("c", extract_settings, "(c) syndicrawl, WARC + extraction"),
        ):
            if name not in phases:
                continue
            data_dir = work / f"data-{name}"
            shutil.rmtree(data_dir, ignore_errors=True)
            argv = syndicrawl_argv() + [
                "crawl", "--config", str(sources), "--settings", str(settings_file), "--data-dir", str(data_dir),
            ]  # fmt: skip
            print(f"{label} ...", flush=True)
            runs[name] = run = measure(name, label, profiled(argv, args.profile, name), server, work / f"{name}.log")
            print(f"    {run.pages} pages in {run.wall:.2f} s, exit {run.returncode}; verifying ...", flush=True)
            check_warcs(run, data_dir, run.pages)
            if run.pages != args.pages:
                run.checks.append(("pages fetched == pages in sitemap", False, f"{run.pages} of {args.pages}"))
            if name == "c":
                check_db(run, data_dir, run.pages, expected_ok if run.pages == args.pages else run.pages)
            if args.work_dir is None:
                shutil.rmtree(data_dir, ignore_errors=True)
    finally:
        server.stop()

    ok = report(runs, l0, bool(args.profile))
    if args.profile:
        for name in runs:
            print(f"\nWhere ({name})'s CPU samples fall ({args.profile / (name + '.txt')}):")
            print(summarize_profile(args.profile / f"{name}.txt", runs[name].pages))
    if args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
