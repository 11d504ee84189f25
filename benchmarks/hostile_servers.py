"""Hostile servers (#17): a real crawl of sources that each misbehave one way, beside good ones.

Serves on 127.0.0.1 (an asyncio server on a thread of this process, raw sockets so that a reply
can trickle or never end) one path per behaviour, each the only feed (or start page) of its own
source: a gzip bomb (``--bomb`` bytes of zeros, about a thousandth of that on the wire), an
endless chunked body, a body sent at 1 byte a second, a redirect loop, a page of ``--links``
article links, a feed of ``--entries`` entries, a 0-byte 200 and a feed in a charset that does
not exist; beside them ``--good`` small good feeds. It runs the real ``python -m syndicrawl
crawl`` on them, sampling the total PSS of the crawl's processes (``/proc/PID/smaps_rollup`` of
the process tree) every 0.2 s, and then once more on the good sources alone, the baseline.

    .venv/bin/python benchmarks/hostile_servers.py [--bomb 1e9] [--links 10000] [--entries 100000]

It prints one row per source: seconds from its first request to the last line naming it (its
resolution), the line(s) the crawl printed for it, the bytes of its WARC files, and the totals:
peak PSS (target < 500 MB) against the baseline's, wall time, exit code (4: a source failed).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's packages

from archive.db.embedded import DB_FILENAME  # noqa: E402
from benchmarks.crawl_throughput import _descendants, _pss  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET_PSS_BYTES = 500_000_000
SAMPLE_SECONDS = 0.2
#: Realistic but short: a small delay per host (the hostile sources share one), a 10 s timeout.
SETTINGS = """\
[crawl]
download_delay = 0.05
autothrottle = false
download_timeout = {timeout}
download_maxsize = {maxsize}
max_feed_entries = {entries}
[extract]
workers = 1
"""


@dataclass(frozen=True)
class Sizes:
    """How hostile each behaviour is; the test's are small, the benchmark's the issue's."""

    bomb: int = 1_000_000_000  # bytes a gzip bomb inflates to
    links: int = 10_000
    entries: int = 100_000
    good: int = 3  # good feeds
    posts: int = 5  # articles per good feed


@dataclass(frozen=True)
class Behaviour:
    name: str  # the source's name: hostile-NAME
    path: str
    entry: str  # "feeds" or "start_urls"
    reason: str  # a regex the crawl's line about it must match
    listener: str = "base"  # the server's attribute holding the base URL it is served on


BEHAVIOURS = (
    Behaviour("gzip-bomb", "/bomb.xml", "feeds", r"larger than DOWNLOAD_MAXSIZE .* once decompressed"),
    # Read at full speed, it passes DOWNLOAD_MAXSIZE within a second; beside the others it may not
    # before DOWNLOAD_TIMEOUT.
    Behaviour("endless-chunked", "/endless.xml", "feeds", r"larger than DOWNLOAD_MAXSIZE|took longer than"),
    Behaviour("slowloris", "/slow.xml", "feeds", r"took longer than"),
    Behaviour("redirect-loop", "/loop/a", "feeds", r"redirect loop|more than \d+ redirects"),
    Behaviour("many-links", "/links.html", "start_urls", r"article links; the first \d+ followed \(max_feed_entries\)"),
    Behaviour("huge-feed", "/huge.xml", "feeds", r"max_feed_entries"),
    Behaviour("empty-200", "/empty.xml", "feeds", r"empty body"),
    Behaviour("bad-charset", "/charset.xml", "feeds", r"declared as x-no-such-charset"),
    # A good feed on a port whose robots.txt trickles: the feed is fetched when it times out.
    Behaviour("slow-robots", "/good-robots.xml", "feeds",
              r"robots.txt of .*took longer than .*fetched as if it allowed them", "slow_robots_base"),
)


def rss(base: str, prefix: str, count: int, encoding: str = "utf-8") -> bytes:
    items = "".join(f"<item><title>Post {n}</title><link>{base}{prefix}/{n}/</link></item>\n" for n in range(count))
    return (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0"><channel><title>{prefix}</title>'
            f"{items}</channel></rss>").encode()  # fmt: skip


def article(path: str) -> bytes:
    words = " ".join(f"{path.strip('/').replace('/', ' ')} word{n % 97}" for n in range(120))
    return (f"<!DOCTYPE html><html><head><title>{path}</title></head><body><article><h1>{path}</h1>"
            f"<p>{words}.</p><p>{words[::-1]}.</p></article></body></html>").encode()  # fmt: skip


def _bomb(size: int) -> bytes:
    """gzip of ``size`` zero bytes, made a megabyte at a time (about 1 KB on the wire per MB)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block, parts = bytes(1 << 20), []
    for start in range(0, size, len(block)):
        parts.append(packer.compress(block[: size - start]))
    parts.append(packer.flush())
    return b"".join(parts)


class HostileServer:
    """The behaviours and the good feeds on one port; each path's first request time is kept."""

    def __init__(self, sizes: Sizes, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sizes, self.host = sizes, host
        self.bomb = _bomb(sizes.bomb)
        self.first_request: dict[str, float] = {}
        self.requests = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, host, port))
        self.port = self._server.sockets[0].getsockname()[1]
        self.base = f"http://{host}:{self.port}"
        # The same paths on a second port, whose robots.txt comes at 1 byte a second.
        self._slow_robots = self._loop.run_until_complete(
            asyncio.start_server(functools.partial(self._handle, slow_robots=True), host, 0)
        )
        self.slow_robots_base = f"http://{host}:{self._slow_robots.sockets[0].getsockname()[1]}"
        self._thread = threading.Thread(target=self._loop.run_forever, name="hostile-server", daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            self._server.close()
            self._slow_robots.close()
            for writer in self._writers:  # a reply still trickling or endless ends on a reset
                writer.transport.abort()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, slow_robots: bool = False) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode("latin-1")
                self.requests += 1
                base = self.slow_robots_base if slow_robots else self.base
                self.first_request.setdefault(f"{base}{path}", time.monotonic())
                if not await self._answer(path, writer, slow_robots):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    @staticmethod
    def _head(status: str, headers: Sequence[tuple[str, str]]) -> bytes:
        lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _send(self, writer: asyncio.StreamWriter, status: str, body: bytes, *headers: tuple[str, str]) -> bool:
        writer.write(self._head(status, [*headers, ("Content-Length", str(len(body)))]) + body)
        await writer.drain()
        return True

    async def _trickle(self, writer: asyncio.StreamWriter, body: bytes, *headers: tuple[str, str]) -> bool:
        """``body`` at 1 byte a second (a slowloris reply): it ends long after any download timeout."""
        writer.write(self._head("200 OK", [*headers, ("Content-Length", str(len(body)))]))
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(1)
        return True

    async def _answer(self, path: str, writer: asyncio.StreamWriter, slow_robots: bool = False) -> bool:
        """Answers ``path``; False when the connection is to be closed."""
        xml, html = ("Content-Type", "application/rss+xml"), ("Content-Type", "text/html; charset=utf-8")
        sizes = self.sizes
        base = self.slow_robots_base if slow_robots else self.base
        if path == "/robots.txt" and slow_robots:
            return await self._trickle(writer, b"User-agent: *\nAllow: /\n", ("Content-Type", "text/plain"))
        if path == "/robots.txt":
            return await self._send(writer, "200 OK", b"", ("Content-Type", "text/plain"))
        if path == "/bomb.xml":
            return await self._send(writer, "200 OK", self.bomb, xml, ("Content-Encoding", "gzip"))
        if path == "/endless.xml":
            writer.write(self._head("200 OK", [xml, ("Transfer-Encoding", "chunked")]))
            chunk = b"<item><title>more</title></item>" * 2000
            while True:  # until the client hangs up
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        if path == "/slow.xml":
            return await self._trickle(writer, rss(base, "/slow/post", 3), xml)
        if path.startswith("/loop/"):
            target = "/loop/b" if path == "/loop/a" else "/loop/a"
            return await self._send(writer, "302 Found", b"", ("Location", f"{base}{target}"))
        if path == "/links.html":
            links = "".join(f'<a rel="bookmark" href="/links/post/{n}/">{n}</a>\n' for n in range(sizes.links))
            return await self._send(writer, "200 OK", f"<html><body>{links}</body></html>".encode(), html)
        if path == "/huge.xml":
            return await self._send(writer, "200 OK", rss(base, "/huge/post", sizes.entries), xml)
        if path == "/empty.xml":
            return await self._send(writer, "200 OK", b"", xml)
        if path == "/charset.xml":
            body = rss(base, "/charset/post", 3, "x-no-such-charset").replace(b"Post 1", b"Post \xff\xfe\x80")
            return await self._send(writer, "200 OK", body, ("Content-Type", "text/xml; charset=x-no-such-charset"))
        if path == "/status-500.xml":
            return await self._send(writer, "500 Internal Server Error", b"oops\n", ("Content-Type", "text/plain"))
        if path == "/malformed.xml":
            return await self._send(writer, "200 OK", b'<?xml version="1.0"?><rss version="2.0"><channel><title>Cut off</ti', xml)
        if path == "/javascript.xml":
            body = rss(base, "/none", 1).replace(f"{base}/none/0/".encode(), b"javascript:void(0)")
            return await self._send(writer, "200 OK", body, xml)
        if re.fullmatch(r"/good-\w+\.xml", path):
            return await self._send(writer, "200 OK", rss(base, path[:-4] + "/post", sizes.posts), xml)
        if path.startswith("/charset/post/"):
            return await self._send(writer, "200 OK", article(path).replace(b"word1", b"\xff\xfe"),
                                    ("Content-Type", "text/html; charset=x-no-such-charset"))
        if re.fullmatch(r"/[\w-]+/post/\d+/", path):
            return await self._send(writer, "200 OK", article(path), html)
        return await self._send(writer, "404 Not Found", b"not found\n", ("Content-Type", "text/plain"))

    def url(self, behaviour: Behaviour) -> str:
        return f"{getattr(self, behaviour.listener)}{behaviour.path}"

    def sources(self, hostile: bool = True) -> list[dict[str, object]]:
        """One source per behaviour (when ``hostile``) and one per good feed."""
        found: list[dict[str, object]] = [
            {"name": f"good-{n}", "feeds": [f"{self.base}/good-{n}.xml"]} for n in range(self.sizes.good)
        ]
        if hostile:
            found += [{"name": f"hostile-{b.name}", b.entry: [self.url(b)]} for b in BEHAVIOURS]
        return found


def sources_toml(sources: Sequence[dict[str, object]]) -> str:
    lines = []
    for source in sources:
        lines += ["[[source]]", f'name = "{source["name"]}"', 'kind = "origin"', "private_addresses = true"]
        lines += [f"{key} = [{', '.join(repr(str(v)).replace(chr(39), chr(34)) for v in values)}]"  # type: ignore[attr-defined]
                  for key, values in source.items() if key != "name"]  # fmt: skip
        lines.append("")
    return "\n".join(lines)


@dataclass
class CrawlRun:
    """What a crawl printed (each stderr line with its arrival time), its exit and memory."""

    started: float = 0.0
    seconds: float = 0.0
    returncode: int | None = None
    peak_pss: int = 0
    peak_fds: int = 0  # open file descriptors of the busiest process (a common soft limit is 1024)
    lines: list[tuple[float, str]] = field(default_factory=list)
    stdout: str = ""

    def lines_of(self, source: str) -> list[tuple[float, str]]:
        """The warning and error lines naming ``source`` (``WARNING source: ...``)."""
        pattern = re.compile(rf" (WARNING|ERROR|CRITICAL) {re.escape(source)}: ")
        return [(at, line) for at, line in self.lines if pattern.search(line)]

    def unexpected(self) -> list[str]:
        """Lines that are neither a timestamped log line nor the progress lines: tracebacks, stray output."""
        log_line = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d |[\w.-]+: (running|finished|failed|interrupted), |\s*$")
        return [line for _, line in self.lines if not log_line.match(line)]


def run_crawl(work: Path, sources: Sequence[dict[str, object]], *, timeout: float = 10, maxsize: int = 20_000_000,
              entries: int = 500, limit: float = 900, nice: bool = False, open_files: int | None = None) -> CrawlRun:  # fmt: skip
    """``syndicrawl crawl`` of ``sources`` into ``work/data``, its process tree's PSS sampled;
    ``open_files``: the crawl's soft limit of open files (``ulimit -Sn``)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "sources.toml").write_text(sources_toml(sources), encoding="utf-8")
    (work / "settings.toml").write_text(SETTINGS.format(timeout=timeout, maxsize=maxsize, entries=entries), encoding="utf-8")
    command = [sys.executable, "-m", "syndicrawl", "crawl", "--config", str(work / "sources.toml"),
               "--data-dir", str(work / "data"), "--settings", str(work / "settings.toml")]  # fmt: skip
    if nice:
        command = ["nice", *command]
    run = CrawlRun(started=time.monotonic())
    def limit_files() -> None:
        if open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

    crawl = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             errors="replace", preexec_fn=limit_files)  # fmt: skip

    def read_stderr() -> None:
        assert crawl.stderr is not None
        for line in crawl.stderr:
            run.lines.append((time.monotonic(), line.rstrip("\n")))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    out: list[str] = []
    stdout_reader = threading.Thread(target=lambda: out.append(crawl.stdout.read()), daemon=True)  # type: ignore[union-attr]
    stdout_reader.start()
    while crawl.poll() is None:
        tree = _descendants(crawl.pid)
        run.peak_pss = max(run.peak_pss, sum(_pss(pid) for pid in tree))
        run.peak_fds = max(run.peak_fds, *(_fds(pid) for pid in tree))
        if time.monotonic() - run.started > limit:
            crawl.kill()  # a crawl that does not end by itself: reported as killed (-9)
        time.sleep(SAMPLE_SECONDS)
    run.seconds, run.returncode = time.monotonic() - run.started, crawl.returncode
    reader.join(10)
    stdout_reader.join(10)
    run.stdout = "".join(out)
    (work / "stderr.log").write_text("".join(f"{line}\n" for _, line in run.lines), encoding="utf-8")
    (work / "stdout.log").write_text(run.stdout, encoding="utf-8")
    return run


def _fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:  # gone meanwhile
        return 0


def stored(data_dir: Path) -> dict[str, tuple[int, int]]:
    """Per source: pages stored with their article extracted, and bytes of its WARC records."""
    with sqlite3.connect(data_dir / DB_FILENAME) as db:
        rows = db.execute(
            "select s.name, count(distinct a.url), (select sum(warc_length) from captures where source_id = s.id) "
            "from sources s left join captures c on c.source_id = s.id "
            "left join articles a on a.capture_id = c.id and a.status = 'ok' group by s.id"
        ).fetchall()
    return {name: (pages, size or 0) for name, pages, size in rows}


def report(run: CrawlRun, baseline: CrawlRun, server: HostileServer, data_dir: Path) -> Iterator[str]:
    yield f"{'source':<24} {'resolved':>9} {'stored':>10}  line(s)"
    store = stored(data_dir)
    for source in server.sources():
        name = str(source["name"])
        url = next(str(values[0]) for key, values in source.items() if key != "name")  # type: ignore[index]
        # From its first request: robots.txt's, on the port whose robots.txt trickles.
        first = server.first_request.get(f"{server.slow_robots_base}/robots.txt" if url.startswith(server.slow_robots_base) else url)
        lines = run.lines_of(name)
        resolved = f"{lines[-1][0] - first:8.1f}s" if lines and first else "-"
        pages, size = store.get(name, (0, 0))
        shown = [line.split(f"{name}: ", 1)[1][:110] for _, line in lines] or ["(no line)"]
        yield f"{name:<24} {resolved:>9} {size:>10,}  {shown[0]}"
        yield from (f"{'':<46}{line}" for line in shown[1:3])
        if len(shown) > 3:
            yield f"{'':<46}... {len(shown) - 3} more"
    yield ""
    yield (f"peak PSS {run.peak_pss / 1e6:.0f} MB (good sources alone: {baseline.peak_pss / 1e6:.0f} MB, "
           f"ratio {run.peak_pss / max(baseline.peak_pss, 1):.2f}; target < {TARGET_PSS_BYTES / 1e6:.0f} MB: "
           f"{'met' if run.peak_pss < TARGET_PSS_BYTES else 'NOT met'}); wall {run.seconds:.1f} s "
           f"(baseline {baseline.seconds:.1f} s); exit {run.returncode} (baseline {baseline.returncode})")
    if run.unexpected():
        yield f"{len(run.unexpected())} other stderr lines, the first: {run.unexpected()[0][:200]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bomb", type=float, default=1e9)
    parser.add_argument("--links", type=int, default=10_000)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=10.0, help="the crawl's download_timeout")
    parser.add_argument("--keep", type=Path, help="crawl into this directory and keep it (default: a temporary one)")
    args = parser.parse_args()
    sizes = Sizes(bomb=int(args.bomb), links=args.links, entries=args.entries)
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp, HostileServer(sizes) as server:
        tmp = args.keep or tmp
        baseline = run_crawl(Path(tmp) / "baseline", server.sources(hostile=False), timeout=args.timeout)
        server.first_request.clear()
        run = run_crawl(Path(tmp) / "hostile", server.sources(), timeout=args.timeout)
        for line in report(run, baseline, server, Path(tmp) / "hostile" / "data"):
            print(line, flush=True)


if __name__ == "__main__":
    main()
