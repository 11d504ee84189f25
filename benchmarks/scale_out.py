"""Crawl jobs spread over 1, 2 and 4 ``syndicrawl worker`` processes (#21): what each added worker buys.

Serves ``--feeds`` RSS feeds of ``--posts`` articles each on ``--hosts`` loopback addresses
(127.0.0.2, .3, ...; one server process, a thread per connection), one source per feed. For
extraction off and on, and 1, 2 and 4 workers (``--concurrency`` crawls each), a fresh PostgreSQL
database and a Redis server of this run's own (started here on a free port, so its command counts
are the cluster's alone) are used: every source is enqueued at once, as the daemon does, and the
clock stops when every crawl has finished. Per run: pages stored a second, scaling efficiency
(pages/s over N times the one-worker pages/s of the same extraction setting), Redis commands per page
(``INFO commandstats``, summed) and PostgreSQL transactions and rows written per page
(``pg_stat_database``: xact_commit, tup_inserted + tup_updated + tup_deleted). The baseline is
``wget --warc-file`` fetching the same URLs (robots.txt, feeds, posts) one after another in the
same run, when wget is installed.

    nice .venv/bin/python benchmarks/scale_out.py [--feeds 1000] [--hosts 50] [--posts 2] [--workers 1,2,4] [--batch 50]

``--database`` names the PostgreSQL server (a superuser: a database ``scale_out_bench`` is dropped
and created for each run).
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repository's packages

import psycopg  # noqa: E402
import redis  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from archive.db.engine import Database  # noqa: E402
from archive.db.models import Capture, ScheduleRun  # noqa: E402
from scheduler import jobs  # noqa: E402

PORT_HOSTS = "127.0.0.{}"
BENCH_DB = "scale_out_bench"
_WORDS = ("harbour tide ferry council market school bridge rail budget storm election museum river "
          "festival library hospital farm court vote energy").split()


def _article(feed: int, post: int) -> bytes:
    """An article of its own words: no two pages share a payload (no revisits), extraction has text."""
    words = [_WORDS[(feed * 7 + post * 3 + i * i) % len(_WORDS)] for i in range(180)]
    sentences = " ".join(f"{' '.join(words[i:i + 12]).capitalize()}." for i in range(0, len(words), 12))
    return (f"<!DOCTYPE html><html><head><title>Report {feed}-{post}</title></head><body><article>"
            f"<h1>Report {feed}-{post}</h1><p>Feed {feed}, post {post}: {sentences}</p>"
            f"<p>Filed under feed {feed} as item {post}.</p></article></body></html>").encode()


class _Feeds(BaseHTTPRequestHandler):
    posts = 2

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        host = self.headers.get("Host", "")
        parts = self.path.strip("/").split("/")
        if self.path == "/robots.txt":
            self._send(b"User-agent: *\nAllow: /\n", "text/plain")
        elif len(parts) == 2 and parts[1] == "feed.xml":
            feed = int(parts[0][1:])
            items = "".join(f"<item><title>Report {feed}-{n}</title><link>http://{host}/f{feed}/post/{n}/</link>"
                            f"<guid>http://{host}/f{feed}/post/{n}/</guid></item>" for n in range(self.posts, 0, -1))
            self._send(f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>'
                       f"<link>http://{host}/</link>{items}</channel></rss>".encode(), "application/rss+xml")
        elif len(parts) == 3 and parts[1] == "post":  # /fN/post/M/
            self._send(_article(int(parts[0][1:]), int(parts[2])), "text/html; charset=utf-8")
        else:
            self.send_error(404)

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass


def _serve(hosts: list[str], port: int, posts: int) -> None:
    """The feed servers, one a host, in a process of their own (the workers get the other core)."""
    _Feeds.posts = posts
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 256
    servers = [ThreadingHTTPServer((host, port), _Feeds) for host in hosts]
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    servers[0].serve_forever()


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Result:
    label: str
    workers: int
    extract: bool
    pages: int
    seconds: float
    redis_ops: int
    xacts: int
    rows: int

    @property
    def rate(self) -> float:
        return self.pages / self.seconds


def _redis_calls(client: redis.Redis) -> int:
    return sum(int(stats["calls"]) for name, stats in client.info("commandstats").items() if name != "cmdstat_info")


def _pg_writes(admin: psycopg.Connection) -> tuple[int, int]:
    row = admin.execute("SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database "
                        "WHERE datname = %s", (BENCH_DB,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _fresh_database(admin: psycopg.Connection, server: str) -> str:
    admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {BENCH_DB}")
    url = f"postgresql+psycopg://{server}/{BENCH_DB}"
    Database(url).dispose()  # the schema, made once before any worker starts
    return url


def run_cluster(args: argparse.Namespace, work: Path, sources: Path, names: list[str], workers: int, extract: bool,
                admin: psycopg.Connection, redis_url: str) -> Result:
    db_url = _fresh_database(admin, args.database)
    client = redis.Redis.from_url(redis_url)
    client.flushall()
    run = work / f"w{workers}-{'x' if extract else 'n'}"
    run.mkdir()
    settings = run / "settings.toml"
    settings.write_text(
        f'[storage]\ndatabase_url = "{db_url}"\n'
        "[crawl]\ndownload_delay = 0.0\nautothrottle = false\ndownload_timeout = 20\n"
        f"[extract]\nenabled = {'true' if extract else 'false'}\nworkers = 1\n"
        '[scheduler]\nlock_ttl = 120.0\nredis_prefix = "scale_out:"\n'
        f'[queue]\nredis_url = "{redis_url}"\n', encoding="utf-8")
    db = Database(db_url)
    processes = [subprocess.Popen(
        [sys.executable, "-m", "syndicrawl", "worker", "--concurrency", str(args.concurrency), "--batch", str(args.batch),
         "--settings", str(settings), "--data-dir", str(run / f"worker{n}")],
        stdout=(run / f"worker{n}.log").open("wb"), stderr=subprocess.STDOUT) for n in range(workers)]
    try:
        time.sleep(3.0)  # the workers' start-up (imports, Redis connection) is not the cluster's throughput
        redis_before, (xacts_before, rows_before) = _redis_calls(client), _pg_writes(admin)
        started = time.perf_counter()
        for name in names:
            jobs.crawl(name, str(sources), str(run / "daemon"), str(settings))
        while True:
            with db.session() as s:
                ended = s.scalar(select(func.count()).where(ScheduleRun.finished_at.is_not(None))) or 0
            if ended >= len(names):
                break
            if any(p.poll() is not None for p in processes):
                raise SystemExit(f"a worker exited; see {run}/worker*.log")
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        redis_ops = _redis_calls(client) - redis_before
        xacts, rows = _pg_writes(admin)
        with db.session() as s:
            pages = s.scalar(select(func.count()).select_from(Capture)) or 0
            failed = s.scalar(select(func.count()).where(ScheduleRun.status != "finished")) or 0
        if failed:
            print(f"  {failed} crawls did not finish; see {run}/worker*.log", file=sys.stderr)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(120)
        db.dispose()
        client.close()
    label = f"{workers} worker{'s' if workers > 1 else ''}, extraction {'on' if extract else 'off'}"
    return Result(label, workers, extract, pages, seconds, redis_ops, xacts - xacts_before, rows - rows_before)


def run_wget(work: Path, urls: list[str]) -> tuple[int, float] | None:
    """``wget --warc-file`` on the same URLs, one after another: pages and seconds; None without wget."""
    wget = shutil.which("wget")
    if wget is None:
        return None
    (work / "urls.txt").write_text("\n".join(urls) + "\n", encoding="utf-8")
    started = time.perf_counter()
    done = subprocess.run([wget, "--quiet", "--no-proxy", "--warc-file", str(work / "wget"), "--delete-after",
                           "-e", "robots=off", "-P", str(work / "wget-files"), "-i", str(work / "urls.txt")],
                          capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 8):
        raise SystemExit(f"wget failed ({done.returncode}): {done.stderr.decode(errors='replace')[-500:]}")
    return len(urls), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--posts", type=int, default=2)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=1, help="crawl processes at once in each worker")
    parser.add_argument("--batch", type=int, default=50, help="crawl jobs one crawl process runs together")
    parser.add_argument("--extraction", default="off,on")
    parser.add_argument("--database", default="postgres@127.0.0.1:5432", help="USER@HOST:PORT of a PostgreSQL superuser")
    args = parser.parse_args()

    hosts = [PORT_HOSTS.format(n) for n in range(2, 2 + args.hosts)]
    port = _free_port(hosts[0])
    server = multiprocessing.Process(target=_serve, args=(hosts, port, args.posts), daemon=True)
    server.start()
    redis_port = _free_port()
    redis_server = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                     "--appendonly", "no"], stdout=subprocess.DEVNULL)
    feeds = [(k, hosts[k % len(hosts)]) for k in range(args.feeds)]
    names = [f"f{k}" for k, _ in feeds]
    urls = [f"http://{host}:{port}/robots.txt" for host in hosts]
    urls += [f"http://{host}:{port}/f{k}/{path}" for k, host in feeds
             for path in ["feed.xml", *(f"post/{n}/" for n in range(1, args.posts + 1))]]
    admin = psycopg.connect(f"postgresql://{args.database}/postgres", autocommit=True)
    results: list[Result] = []
    try:
        with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
            work = Path(tmp)
            sources = work / "sources.toml"
            sources.write_text("".join(
                f'[[source]]\nname = "f{k}"\nkind = "origin"\nfeeds = ["http://{host}:{port}/f{k}/feed.xml"]\n'
                "private_addresses = true\n\n" for k, host in feeds), encoding="utf-8")
            time.sleep(1.0)
            baseline = run_wget(work, urls)
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            for extract in [part.strip() == "on" for part in args.extraction.split(",")]:
                for workers in [int(n) for n in args.workers.split(",")]:
                    result = run_cluster(args, work, sources, names, workers, extract, admin, redis_url)
                    print(f"  {result.label}: {result.pages} pages in {result.seconds:.1f} s", file=sys.stderr)
                    results.append(result)
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        admin.close()
        redis_server.terminate()
        redis_server.wait()
        server.terminate()

    print(f"{args.feeds} feeds of {args.posts} posts on {args.hosts} hosts ({len(urls)} URLs); "
          f"{args.concurrency} crawl process(es) at once per worker, {args.batch} jobs at most in each")
    print(f"{'run':32} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'efficiency':>10} {'vs wget':>8} "
          f"{'Redis/page':>10} {'PG xact/page':>12} {'PG rows/page':>12}")
    wget_rate = baseline[0] / baseline[1] if baseline else None
    if baseline is None:
        print("wget --warc-file: not installed, no baseline row (apt-get install wget)")
    else:
        print(f"{'wget --warc-file (1 process)':32} {baseline[0]:>6} {baseline[1]:>8.1f} {wget_rate:>8.1f} "
              f"{'':>10} {1.0:>8.2f}")
    single = {r.extract: r.rate for r in results if r.workers == 1}
    for r in results:
        efficiency = f"{r.rate / (r.workers * single[r.extract]):.2f}" if r.extract in single else "-"
        versus = f"{r.rate / wget_rate:.2f}" if wget_rate else "-"
        print(f"{r.label:32} {r.pages:>6} {r.seconds:>8.1f} {r.rate:>8.1f} {efficiency:>10} {versus:>8} "
              f"{r.redis_ops / r.pages:>10.1f} {r.xacts / r.pages:>12.2f} {r.rows / r.pages:>12.1f}")


if __name__ == "__main__":
    main()
