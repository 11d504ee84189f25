"""Crash campaign (#17): a real multi-source crawl killed at random moments, restarted each time.

Serves three generated sites on loopback (two Blogger blogs, one WordPress site; ``--posts`` posts
each) and crawls them twice uninterrupted (the reference; the second crawl fetches everything
again and stores revisits, as a restart does, and its duration is T). Then, into a second archive,
it runs ``python -m syndicrawl crawl`` in its own process group and sends the group SIGKILL or
SIGTERM at a moment drawn uniformly from [0, T) (seeded RNG), ``--kills`` times per signal, in a shuffled order. After each kill:

- SIGTERM: the crawl must stop by itself (exit 5, or 0 if it had finished; killed by the signal
  only when it came before the command installed its handlers), leaving no ``.open`` file, no
  ``running`` crawl and no lease: nothing to repair.
- SIGKILL: the files already finished must read whole, and every capture row must point at a
  readable record or into a file left ``.open``. Every other SIGKILL is then repaired by
  ``syndicrawl doctor``, the others by the restarted crawl, which repairs its sources at start
  (and may itself be killed half way through that).

After a repair, and at the end: every WARC file reads whole record by record (``verify_file``:
``warcio check`` misses truncated gzip members), every capture row points at a readable
response or revisit record of its URL and record id, nothing is left ``running``, no lease is held,
and ``doctor`` finds nothing. Finally one more crawl runs to its end, and the archive is compared
with the reference: the URLs stored in full (not as revisits) must be the same (0 lost), and no URL
may be stored in full twice with the same payload (0 duplicated).

Duplicates: a crawl fetches every page of its sources again and stores a page whose payload the
archive holds as a revisit record (a capture row with ``revisit_of``), as any later crawl does;
so a refetch after a restart is a legitimate capture, but two full captures of one URL with one
payload digest mean a page was stored twice (its first capture was lost to the catalog while its
record stayed, or a repair kept a record whose row it dropped). Two rows for one record cannot
exist (``record_id`` is unique).

    .venv/bin/python benchmarks/crash_campaign.py [--kills 20] [--seed 17] [--posts 80] [--backend sqlite|postgres]

``--backend postgres`` runs both archives on fresh schemas of the PostgreSQL test database at
127.0.0.1:5432 (dropped afterwards), through ``SYNDICRAWL_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from archive.db.engine import Database, sqlite_url  # noqa: E402
from archive.db.models import Capture, Crawl, Lease  # noqa: E402
from archive.errors import WarcError  # noqa: E402
from archive.warc.records import read_record, verify_file  # noqa: E402
from archive.warc.writer import OPEN_SUFFIX  # noqa: E402
from syndicrawl import exitcodes  # noqa: E402
from syndicrawl.demo.base import Post  # noqa: E402
from syndicrawl.demo.blogger import BloggerSite  # noqa: E402
from syndicrawl.demo.server import SiteServer  # noqa: E402
from syndicrawl.demo.wordpress import WordPressSite  # noqa: E402

#: No delay on loopback: the crawl lasts seconds, not minutes; one extractor, as the tests run it.
SETTINGS = """\
[crawl]
download_delay = 0.0
autothrottle = false
download_timeout = 5
[extract]
workers = 1
"""
#: Seconds a crawl may take to stop after SIGTERM, or to run to its end.
STOP_TIMEOUT = 120
T = TypeVar("T")
PG = {"host": "127.0.0.1", "port": 5432, "dbname": "test", "user": "postgres"}


#: Words the posts are drawn from: every post its own text, so that syndication matching has no
#: cluster of near-copies to work through (a site of posts alike took 40 s a batch to match).
WORDS = ("harbour market council ferry school budget river bridge festival library storm hospital road "
         "museum election farmers fishermen tram tunnel museum orchard quarry lighthouse bakery choir "
         "mayor parish strike harvest flood rail ").split()  # fmt: skip


def _posts(name: str, count: int) -> list[Post]:
    start = datetime.fromisoformat("2016-10-01T07:00:00+01:00")
    posts = []
    for n in range(count):
        rng = random.Random(f"{name}-{n}")
        paragraphs = "".join(f"<p>{' '.join(rng.choice(WORDS) for _ in range(60))}.</p>" for _ in range(4))
        posts.append(Post(f"{name}-{n}", f"{name.title()} story {n}", "Ruth Marsh", start + timedelta(hours=n), None,
                          paragraphs))  # fmt: skip
    return posts


@contextmanager
def serve_sites(workdir: Path, posts: int) -> Iterator[Path]:
    """Three sites on loopback and a sources file naming them; yields the sources file."""
    sites = [("almanac", BloggerSite, "/feeds/posts/default"), ("ledger", BloggerSite, "/feeds/posts/default"),
             ("gazette", WordPressSite, "/feed/")]  # fmt: skip
    with ExitStack() as stack:
        lines = []
        for name, kind, feed in sites:
            server = stack.enter_context(
                SiteServer(lambda base, name=name, kind=kind: kind(name, _posts(name, posts), base_url=base, per_page=5))
            )
            lines += ["[[source]]", f'name = "{name}"', f'kind = "{"origin" if name == "almanac" else "repost"}"',
                      f'feeds = ["{server.url(feed)}"]', f'sitemaps = ["{server.url("/sitemap.xml")}"]',
                      "private_addresses = true", ""]  # fmt: skip
        sources = workdir / "sources.toml"
        sources.write_text("\n".join(lines), encoding="utf-8")
        yield sources


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema of the PostgreSQL test database, dropped afterwards; yields its URL."""
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import URL

    schema = f"crash_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(**PG, autocommit=True, connect_timeout=5) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            yield URL.create("postgresql+psycopg", username=PG["user"], host=PG["host"], port=PG["port"],
                             database=PG["dbname"], query={"options": f"-csearch_path={schema}"}
                             ).render_as_string(hide_password=False)  # fmt: skip
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@dataclass(frozen=True)
class Archive:
    """A data directory and its database (the SQLite file in it, or a PostgreSQL schema)."""

    data: Path
    db_url: str | None = None  # None: the data directory's SQLite file

    @property
    def url(self) -> str:
        return self.db_url or sqlite_url(self.data)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **({"SYNDICRAWL_DATABASE_URL": self.db_url} if self.db_url else {})}

    def command(self, *args: str, settings: Path | None = None) -> list[str]:
        extra = ["--settings", str(settings)] if settings else []
        return [sys.executable, "-m", "syndicrawl", *args, "--data-dir", str(self.data), *extra]

    def _read(self, query: Callable[[Session], list[T]]) -> list[T]:
        """``query``'s rows; none when the crawl was killed before it made the database or its schema."""
        if self.db_url is None and not (self.data / "syndicrawl.sqlite3").exists():
            return []
        try:  # opened as the crawl opens it (a read-only open once found nothing right after a kill; not understood)
            with Database(self.url, auto_upgrade=False) as db, db.session() as s:
                return query(s)
        except DBAPIError:  # no tables yet
            return []

    def exists(self) -> bool:
        """Whether the crawl got as far as making the archive (its database and tables)."""
        return bool(self._read(lambda s: [True]))

    def rows(self) -> list[Capture]:
        return self._read(lambda s: list(s.scalars(select(Capture).order_by(Capture.id))))

    def leftovers(self) -> list[str]:
        """Crawls left ``running`` and leases held: what a stopped crawl must not leave."""
        return self._read(lambda s: [f"crawl {i} running" for i in s.scalars(select(Crawl.id).where(Crawl.status == "running"))]
                          + [f"lease {name} held" for name in s.scalars(select(Lease.name))])  # fmt: skip


def check_archive(archive: Archive, *, repaired: bool) -> list[str]:
    """Problems in the archive: damaged finished files, rows pointing at nothing readable.

    ``repaired``: also no ``.open`` file, no running crawl, no lease, and every row's file exists.
    Right after a SIGKILL (not ``repaired``), a row may point into a file still ``.open``.
    """
    problems = []
    warcs = archive.data / "warcs"
    files = sorted(warcs.iterdir()) if warcs.is_dir() else []
    open_files = {path.name.removesuffix(OPEN_SUFFIX) for path in files if path.name.endswith(OPEN_SUFFIX)}
    for path in files:
        if not path.name.endswith(OPEN_SUFFIX):
            try:
                verify_file(path)
            except WarcError as exc:
                problems.append(str(exc))
    if repaired:
        problems += [f"{name}{OPEN_SUFFIX} left open" for name in sorted(open_files)] + archive.leftovers()
    for row in archive.rows():
        path = warcs / row.warc_file
        if not path.exists():
            if repaired or row.warc_file not in open_files:
                problems.append(f"capture {row.id} ({row.url}): {row.warc_file} does not exist")
            continue
        try:
            with read_record(path, row.warc_offset, row.warc_length) as record:
                headers = record.rec_headers
                found = (record.rec_type, headers.get_header("WARC-Target-URI"), headers.get_header("WARC-Record-ID"))
        except (WarcError, OSError) as exc:
            problems.append(f"capture {row.id} ({row.url}): unreadable: {exc}")
            continue
        if found[0] not in {"response", "revisit"} or found[1:] != (row.url, row.record_id):
            problems.append(f"capture {row.id} ({row.url}, {row.record_id}): the record there is {found}")
    return problems


def stored(archive: Archive) -> tuple[Counter[str], int]:
    """Full captures (not revisits) per URL, and how many are a second one with the same payload."""
    full = [(row.url, row.payload_digest) for row in archive.rows() if row.revisit_of is None]
    return Counter(url for url, _ in full), len(full) - len(set(full))


@dataclass
class Kill:
    number: int
    signum: int
    at: float  # seconds after the crawl started, or (``after_writing``) after its first WARC file appeared
    after_writing: bool = False
    exit_code: int | None = None
    signalled: bool = False  # False: the crawl ended before the moment came
    ran: float = 0.0  # seconds from the start to the crawl's exit
    stop_seconds: float = 0.0  # from the signal to the crawl's exit
    captures: int = 0
    left_open: int = 0
    repaired_by: str = "-"
    repairs: int = 0  # problems found and repaired
    problems: list[str] = field(default_factory=list)


@dataclass
class Campaign:
    backend: str
    reference_seconds: float  # the first uninterrupted crawl
    recrawl_seconds: float  # a second one on the same archive: the span the kill moments are drawn from
    recrawl_writing: float  # when it began its first WARC file
    reference_pages: int
    kills: list[Kill]
    final_pages: int = 0
    lost: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    duplicated: int = 0
    revisits: int = 0
    problems: list[str] = field(default_factory=list)  # of the final archive

    @property
    def failures(self) -> list[str]:
        """Every broken invariant, one line each: empty when the campaign passed."""
        lines = [f"kill {k.number} ({signal.Signals(k.signum).name} at {k.at:.2f}s): {p}"
                 for k in self.kills for p in k.problems]  # fmt: skip
        lines += [f"final archive: {p}" for p in self.problems]
        lines += [f"lost: {url}" for url in self.lost] + [f"not in the reference: {url}" for url in self.extra]
        if self.duplicated:
            lines.append(f"{self.duplicated} pages stored twice")
        return lines


def _timed_crawl(archive: Archive, sources: Path, settings: Path) -> tuple[float, float]:
    """Crawl to the end: seconds until its first new WARC file appeared, and until it ended."""
    warcs = archive.data / "warcs"
    before = set(warcs.iterdir()) if warcs.is_dir() else set()
    started = time.monotonic()
    crawl = subprocess.Popen(archive.command("crawl", "--config", str(sources), settings=settings),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=archive.env)  # fmt: skip
    first = None
    while crawl.poll() is None:
        if first is None and warcs.is_dir() and set(warcs.iterdir()) - before:
            first = time.monotonic() - started
        time.sleep(0.02)
    ended = time.monotonic() - started
    err = crawl.stderr.read() if crawl.stderr else ""
    if crawl.returncode != 0:
        raise SystemExit(f"the reference crawl failed (exit code {crawl.returncode}): {err.strip()}")
    return first or 0.0, ended


def _run(archive: Archive, *args: str, settings: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(archive.command(*args, settings=settings), capture_output=True, text=True,
                          env=archive.env, timeout=STOP_TIMEOUT, check=False)  # fmt: skip


def _repair_lines(output: str) -> int:
    return sum("; marked interrupted" in line or "renamed to " in line or "moved to quarantine/" in line
               or line.endswith("; released") for line in output.splitlines())  # fmt: skip


def crawl_and_kill(archive: Archive, sources: Path, settings: Path, kill: Kill) -> str:
    """Start a crawl in its own process group, signal the group ``kill.at`` seconds later (after
    its first WARC file appeared, with ``kill.after_writing``); its stderr."""
    warcs = archive.data / "warcs"
    before = set(warcs.glob(f"*{OPEN_SUFFIX}")) if warcs.is_dir() else set()  # a dead crawl's, repaired at start
    crawl = subprocess.Popen(archive.command("crawl", "--config", str(sources), settings=settings),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=archive.env,
                             start_new_session=True)  # fmt: skip
    started = time.monotonic()
    try:
        try:
            # A crawl's start-up (imports, the repair of the kill before) varies from one to the
            # next by more than the part that writes lasts: the moment is counted from the writing.
            while kill.after_writing and crawl.poll() is None and not set(warcs.glob(f"*{OPEN_SUFFIX}")) - before:
                time.sleep(0.01)
            crawl.wait(timeout=kill.at)
        except subprocess.TimeoutExpired:
            sent = time.monotonic()
            os.killpg(crawl.pid, kill.signum)
            kill.signalled = True
            _, err = crawl.communicate(timeout=STOP_TIMEOUT)
            kill.stop_seconds = time.monotonic() - sent
        else:
            err = crawl.stderr.read() if crawl.stderr else ""
        kill.ran = time.monotonic() - started
    finally:
        if crawl.poll() is None:
            os.killpg(crawl.pid, signal.SIGKILL)
            crawl.wait()
    if kill.signum == signal.SIGKILL:  # the writer and its extractors too (its process group)
        _wait_group_gone(crawl.pid)
    kill.exit_code = crawl.returncode
    return err


def _wait_group_gone(pgid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)


def run_campaign(workdir: Path, sources: Path, *, kills: Sequence[int], seed: int,
                 db_urls: tuple[str | None, str | None] = (None, None), backend: str = "sqlite",
                 window: str = "crawl", echo: bool = False) -> Campaign:  # fmt: skip
    """The whole campaign in ``workdir``: the reference, crawled twice uninterrupted; a kill with
    each of ``kills`` (signals, sent in a shuffled order) at a moment drawn from the second crawl's
    duration (what a restart does: fetch everything again, store revisits), or with ``window``
    "writing" from the part after it began its first WARC file, counted from when the crawl killed
    opens its own (start-up is most of a small
    crawl on a busy machine); a crawl that ended before its moment is tried again (twice at
    most) with a moment drawn from how long it ran; a last crawl to its end. ``db_urls``: the
    reference's and the campaign's databases."""
    settings = workdir / "settings.toml"
    settings.write_text(SETTINGS, encoding="utf-8")
    reference, archive = Archive(workdir / "reference", db_urls[0]), Archive(workdir / "campaign", db_urls[1])
    durations = [_timed_crawl(reference, sources, settings) for _ in range(2)]
    expected, twice = stored(reference)
    if twice:
        raise SystemExit(f"an uninterrupted recrawl stored {twice} pages a second time: the crawl's dedup is broken")
    rng = random.Random(seed)
    order = list(kills)
    rng.shuffle(order)
    campaign = Campaign(backend, durations[0][1], durations[1][1], durations[1][0], len(expected), [])
    sigkills = 0
    tries = [(signum, 0) for signum in order]
    while tries:
        signum, tried = tries.pop(0)
        first, end = durations[1]
        if tried:  # the last crawl ended before its moment: draw again from how long it ran
            first, end = min(first, 0.5 * campaign.kills[-1].ran), campaign.kills[-1].ran
        # "writing": its first 80%, lest a restart quicker than the recrawl end before every moment
        writing = window == "writing"
        kill = Kill(len(campaign.kills) + 1, signum, rng.uniform(0.0, 0.8 * (end - first)) if writing
                    else rng.uniform(0.0, end), after_writing=writing)  # fmt: skip
        campaign.kills.append(kill)
        err = crawl_and_kill(archive, sources, settings, kill)
        kill.repairs = _repair_lines(err)  # what this crawl repaired at start (of the kill before)
        if not kill.signalled and tried < 2:
            tries.insert(0, (signum, tried + 1))
        kill.captures = len(archive.rows())
        warcs = archive.data / "warcs"
        kill.left_open = len(list(warcs.glob(f"*{OPEN_SUFFIX}"))) if warcs.is_dir() else 0
        if not kill.signalled and kill.exit_code != 0:
            kill.problems.append(f"the crawl ended by itself with exit code {kill.exit_code}: {err.strip()[-500:]}")
        if signum == signal.SIGTERM:
            if kill.exit_code not in (0, exitcodes.INTERRUPTED, -signal.SIGTERM):
                kill.problems.append(f"exit code {kill.exit_code}: {err.strip()[-500:]}")
            if kill.exit_code != -signal.SIGTERM:  # it stopped by itself: it must have closed everything
                kill.problems += check_archive(archive, repaired=True)
        else:
            kill.problems += check_archive(archive, repaired=False)
            sigkills += 1
            if not archive.exists():
                kill.repaired_by = "none"  # killed before it made the archive: nothing to repair
            elif sigkills % 2:
                kill.repaired_by = "doctor"
                repaired = _run(archive, "doctor")
                if repaired.returncode != 0:
                    kill.problems.append(f"doctor exit code {repaired.returncode}: {(repaired.stdout + repaired.stderr).strip()[-500:]}")
                kill.repairs += _repair_lines(repaired.stdout)
                kill.problems += check_archive(archive, repaired=True)
            else:
                kill.repaired_by = "crawl"
        if echo:
            print(_row(kill), flush=True)
    final = _run(archive, "crawl", "--config", str(sources), settings=settings)
    if final.returncode != 0:
        campaign.problems.append(f"the last crawl exit code {final.returncode}: {final.stderr.strip()[-500:]}")
    campaign.problems += check_archive(archive, repaired=True)
    healthy = _run(archive, "doctor", "--dry-run")
    if healthy.stdout != "Healthy: nothing to repair.\n":
        campaign.problems.append(f"doctor after the last crawl: {healthy.stdout.strip()}")
    got, campaign.duplicated = stored(archive)
    campaign.final_pages = len(got)
    campaign.lost, campaign.extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    campaign.revisits = sum(row.revisit_of is not None for row in archive.rows())
    return campaign


HEADER = f"{'#':>3} {'signal':<8}{'at s':>6} {'exit':>5} {'stop s':>7} {'rows':>6} {'.open':>6} {'repair':>7} {'fixed':>6}  ok"


def _row(kill: Kill) -> str:
    return (f"{kill.number:>3} {signal.Signals(kill.signum).name:<8}{kill.at:>6.2f} {kill.exit_code!s:>5} "
            f"{kill.stop_seconds:>7.2f} {kill.captures:>6} {kill.left_open:>6} {kill.repaired_by:>7} {kill.repairs:>6}  "
            f"{'yes' if not kill.problems else 'NO: ' + kill.problems[0]}")  # fmt: skip


def table(campaign: Campaign) -> str:
    return "\n".join([HEADER, *map(_row, campaign.kills)])


def report(campaign: Campaign) -> str:
    by_signal = Counter(signal.Signals(k.signum).name for k in campaign.kills)
    stops = [k.stop_seconds for k in campaign.kills if k.signum == signal.SIGTERM and k.stop_seconds]
    lines = [
        f"backend {campaign.backend}: reference crawl {campaign.reference_seconds:.1f} s, recrawl "
        f"{campaign.recrawl_seconds:.1f} s (writing from {campaign.recrawl_writing:.1f} s), "
        f"{campaign.reference_pages} URLs stored; kills: "
        f"{', '.join(f'{n} {name}' for name, n in sorted(by_signal.items()))} "
        f"({sum(k.signalled for k in campaign.kills)} came before the crawl ended)",
        f"SIGTERM stop time: max {max(stops, default=0):.2f} s, mean {sum(stops) / max(len(stops), 1):.2f} s",
        f"kills with a broken invariant: {sum(bool(k.problems) for k in campaign.kills)} of {len(campaign.kills)}",
        f"after the last crawl: {campaign.final_pages} URLs stored, {len(campaign.lost)} lost, "
        f"{len(campaign.extra)} not in the reference, {campaign.duplicated} duplicated, {campaign.revisits} revisits, "
        f"{len(campaign.problems)} problems in the archive",
    ]  # fmt: skip
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="kills per signal (default 20)")
    parser.add_argument("--signals", default="KILL,TERM", help="signals to send, of KILL and TERM (default both)")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--posts", type=int, default=80, help="posts per site (three sites)")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--window", choices=("crawl", "writing"), default="crawl",
                        help="draw kill moments from the whole recrawl, or from when it began writing")
    parser.add_argument("--keep", type=Path, help="run in this directory and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    signals = [signal.Signals[f"SIG{name.strip().upper()}"] for name in args.signals.split(",")]
    with ExitStack() as stack:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            workdir = args.keep
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crash-campaign-")))
        db_urls = (None, None)
        if args.backend == "postgres":
            db_urls = (stack.enter_context(postgres_schema()), stack.enter_context(postgres_schema()))
        sources = stack.enter_context(serve_sites(workdir, args.posts))
        print(HEADER, flush=True)
        campaign = run_campaign(workdir, sources, kills=[signum for signum in signals for _ in range(args.kills)],
                                seed=args.seed, db_urls=db_urls, backend=args.backend, window=args.window, echo=True)  # fmt: skip
    print(report(campaign))
    for line in campaign.failures:
        print("FAILED:", line)
    return 1 if campaign.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
