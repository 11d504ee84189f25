"""Repair what a crashed crawl or daemon left behind: ``.open`` WARC files, ``running`` rows, leases.

A writer killed with ``kill -9`` leaves its file as ``NAME.warc.gz.open``, possibly ending in
a record cut mid-gzip-member, and the records of the batch it was committing with no capture
rows; its crawl row stays ``running`` and its lease stays taken. Capture rows name the
finished file (``NAME.warc.gz``), so until the file is renamed they point at nothing: index
rebuilds skip them and WACZ export refuses.

Never appending to a damaged file (the Heritrix rule), a repair cuts the file to its whole
records and renames it as the writer finishes files; the bytes cut go to ``quarantine/``, and
a file with nothing whole left moves there entirely. The records of the batch being committed
when the writer died (whole, but uncatalogued, at the end of the file) are cut too, so the
file's index and the catalog list the same captures and a later crawl fetches those pages
again without a duplicate. Rows that point at records no longer in the file are removed.

A file is touched only when no live process holds its source's crawl lock (``crawl:SOURCE``):
the ``syndicrawl doctor`` command takes that lock for the repair, and a crawl's archive writer,
which holds it already, repairs its own sources first thing (``repair_sources``).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update

from archive.db.leases import as_holder, release
from archive.db.locks import Locks, live_holder
from archive.db.models import Capture, Crawl, Lease, ScheduleRun, Source
from archive.errors import LockHeld, WarcError
from archive.warc.cdxj import index_closed_warc
from archive.warc.records import Damage, scan_records
from archive.warc.writer import OPEN_SUFFIX

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from archive.db.engine import Database
    from archive.db.locks import LockConfig

logger = logging.getLogger(__name__)

QUARANTINE = "quarantine"  # beside warcs/ in the data directory
#: ``{source}-{20-digit time}-{5-digit serial}.warc.gz.open``, as ``WarcWriter`` names files.
_OPEN_NAME = re.compile(r"^(?P<source>.+)-\d{20}-\d{5}\.warc\.gz" + re.escape(OPEN_SUFFIX) + "$")
_CATALOGUED = {"response", "revisit"}  # the record types that have capture rows


@dataclass(frozen=True)
class Finding:
    """One problem: what it concerns, what is wrong, and the repair (phrased so that
    ``would be`` can precede it in a dry run)."""

    subject: str
    problem: str
    repair: str
    repaired: bool = False
    failed: str | None = None  # why the repair failed

    def line(self, *, dry_run: bool) -> str:
        if self.failed is not None:
            return f"{self.subject}: {self.problem}; not repaired: {self.failed}"
        return f"{self.subject}: {self.problem}; {'would be ' if dry_run else ''}{self.repair}"


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)  # sources a live crawl holds: left alone

    @property
    def healthy(self) -> bool:
        """Nothing wrong is left: nothing was found, or all of it was repaired."""
        return all(finding.repaired for finding in self.findings)


def quarantine_dir(warc_dir: Path) -> Path:
    return warc_dir.parent / QUARANTINE


def open_files(warc_dir: Path) -> dict[str, list[Path]]:
    """The ``.open`` WARC files in ``warc_dir``, by the source whose writer named them."""
    found: dict[str, list[Path]] = {}
    for path in sorted(warc_dir.glob(f"*{OPEN_SUFFIX}")) if warc_dir.is_dir() else []:
        match = _OPEN_NAME.match(path.name)
        if match:
            found.setdefault(match["source"], []).append(path)
    return found


def doctor(db: Database, warc_dir: Path, index_dir: Path, locks: LockConfig, *, dry_run: bool) -> Report:
    """Find, and unless ``dry_run`` repair, what dead crawls and daemons left in an archive.

    Stale leases first (a dead holder's lease is what tells its crawl is dead), then each
    source with ``.open`` files or ``running`` crawls whose crawl lock no live process holds,
    then scheduled runs left ``running`` by a daemon that is gone.
    """
    report = Report()
    report.findings += _stale_leases(db, dry_run=dry_run)
    with db.session() as s:
        running = set(s.scalars(select(Source.name).join(Crawl).where(Crawl.status == "running")))
    for source in sorted(running | set(open_files(warc_dir))):
        holder = live_holder(locks, f"crawl:{source}")
        if holder is not None:
            report.busy.append(f"{source}: being crawled by {holder.describe()}; left alone")
        elif dry_run:
            report.findings += _repair_source(db, warc_dir, index_dir, source, dry_run=True)
        else:
            try:
                with Locks(locks, [f"crawl:{source}"], "syndicrawl doctor"):
                    report.findings += _repair_source(db, warc_dir, index_dir, source, dry_run=False)
            except LockHeld as exc:  # a crawl started meanwhile
                report.busy.append(f"{source}: {exc}; left alone")
    if live_holder(locks, "daemon") is None:
        report.findings += _interrupted_runs(db, dry_run=dry_run)
    return report


def repair_sources(db: Database, warc_dir: Path, index_dir: Path, sources: Iterable[str]) -> list[Finding]:
    """Repair what dead crawls of ``sources`` left; the caller holds their crawl locks (a crawl's writer)."""
    return [finding for source in sources for finding in _repair_source(db, warc_dir, index_dir, source, dry_run=False)]


def _repair_source(db: Database, warc_dir: Path, index_dir: Path, source: str, *, dry_run: bool) -> list[Finding]:
    findings = [
        _repair_file(db, path, index_dir, dry_run=dry_run) for path in open_files(warc_dir).get(source, [])
    ]
    return findings + _interrupted_crawls(db, source, dry_run=dry_run)


@dataclass(frozen=True)
class _Cut:
    """Where an ``.open`` file is cut: its whole records' ids and offsets before ``at``, and why."""

    at: int
    size: int
    kept: dict[str, tuple[int, str]]  # record id -> offset, type
    whole: int  # whole records in the file
    damage: str | None
    uncatalogued: int  # whole records at the end without capture rows


def _plan_cut(path: Path, catalogued: set[str]) -> _Cut:
    """Read ``path`` record by record: the whole records up to the first damage, less those at
    the end that the catalog does not know (the batch being committed when the writer died)."""
    records: list[tuple[int, int, str, str]] = []  # offset, end, type, record id
    damage = None
    for found in scan_records(path):
        if isinstance(found, Damage):
            damage = f"a damaged record at byte {found.offset} ({found.problem})"
            break
        headers = found.record.rec_headers
        records.append((found.offset, found.offset + found.length, found.record.rec_type,
                        headers.get_header("WARC-Record-ID")))  # fmt: skip
    keep = len(records)
    for i in reversed(range(len(records))):
        _, _, kind, record_id = records[i]
        if kind in _CATALOGUED:
            if record_id in catalogued:
                break
            keep = i
    at = records[keep][0] if keep < len(records) else (records[-1][1] if records else 0)
    kept = {record_id: (offset, kind) for offset, _, kind, record_id in records[:keep]}
    return _Cut(at, path.stat().st_size, kept, len(records), damage, len(records) - keep)


def _repair_file(db: Database, path: Path, index_dir: Path, *, dry_run: bool) -> Finding:
    """Cut an ``.open`` file to its catalogued whole records and finish it, or quarantine it."""
    name = path.name[: -len(OPEN_SUFFIX)]
    with db.session() as s:
        rows = dict(s.execute(select(Capture.record_id, Capture.warc_offset).where(Capture.warc_file == name)).all())
    cut = _plan_cut(path, set(rows))
    gone = [record_id for record_id, offset in rows.items() if cut.kept.get(record_id, (None,))[0] != offset]
    problem = f"left open by a crawl whose process is gone: {cut.whole} whole records"
    if cut.uncatalogued:
        problem += f", the last {cut.uncatalogued} not in the catalog"
    if cut.damage:
        problem += f", then {cut.damage}"
    if gone:
        problem += f"; {len(gone)} capture rows point at records not kept"
    quarantine = quarantine_dir(path.parent)
    whole = any(kind != "warcinfo" for _, kind in cut.kept.values())
    if not whole:
        repair = f"moved to {QUARANTINE}/ (no whole record but its warcinfo)"
    else:
        cut_bytes = cut.size - cut.at
        repair = f"cut at byte {cut.at} ({cut_bytes} bytes kept in {QUARANTINE}/), " if cut_bytes else ""
        repair += f"renamed to {name} and indexed"
    if gone:
        repair += f"; {len(gone)} capture rows removed"
    finding = Finding(path.name, problem, repair)
    if dry_run:
        return finding
    try:
        # Rows first: a repair stopped half way is found again, and then there are fewer rows.
        if gone:
            with db.writing() as s:
                s.execute(delete(Capture).where(Capture.warc_file == name, Capture.record_id.in_(gone)))
        quarantine.mkdir(parents=True, exist_ok=True)
        if not whole:
            shutil.move(path, quarantine / path.name)
        else:
            _finish(path, path.with_name(name), cut.at, quarantine)
            index_closed_warc(path.with_name(name), index_dir)
    except (OSError, WarcError) as exc:
        return replace(finding, failed=str(exc))
    return replace(finding, repaired=True)


def _finish(path: Path, final: Path, at: int, quarantine: Path) -> None:
    """Copy the bytes from ``at`` on into quarantine, cut them off, and rename as the writer finishes files."""
    if final.exists():
        raise WarcError(f"{final.name} exists already; left as it is")
    with path.open("r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        if at < size:
            fh.seek(at)
            with (quarantine / f"{path.name}.cut-at-{at}").open("xb") as out:
                shutil.copyfileobj(fh, out)
                out.flush()
                os.fsync(out.fileno())
            fh.truncate(at)
        fh.flush()
        os.fsync(fh.fileno())
    path.rename(final)


def _interrupted_crawls(db: Database, source: str, *, dry_run: bool) -> list[Finding]:
    """Crawls of ``source`` left ``running``: marked ``interrupted``, with the pages they stored."""
    with db.session() as s:
        crawls = s.execute(
            select(Crawl.id, func.count(Capture.id))
            .join(Source, Source.id == Crawl.source_id)
            .outerjoin(Capture, Capture.crawl_id == Crawl.id)
            .where(Source.name == source, Crawl.status == "running")
            .group_by(Crawl.id)
        ).all()
    findings = []
    for crawl_id, pages in crawls:
        finding = Finding(f"crawl {crawl_id} of {source}", "still 'running', but no process crawls it",
                          f"marked interrupted ({pages} pages stored)")  # fmt: skip
        if not dry_run:
            with db.writing() as s:
                s.execute(
                    update(Crawl)
                    .where(Crawl.id == crawl_id, Crawl.status == "running")
                    .values(status="interrupted", finished_at=datetime.now(UTC), pages=pages)
                )
            finding = replace(finding, repaired=True)
        findings.append(finding)
    return findings


def _interrupted_runs(db: Database, *, dry_run: bool) -> list[Finding]:
    """Scheduled runs left ``running`` by a daemon that is gone: marked ``interrupted``."""
    with db.session() as s:
        runs = s.execute(select(ScheduleRun.id, ScheduleRun.source).where(ScheduleRun.status == "running")).all()
    findings = []
    for run_id, source in runs:
        finding = Finding(f"scheduled run {run_id} of {source}", "still 'running', but no scheduler daemon runs",
                          "marked interrupted")  # fmt: skip
        if not dry_run:
            with db.writing() as s:
                s.execute(
                    update(ScheduleRun)
                    .where(ScheduleRun.id == run_id, ScheduleRun.status == "running")
                    .values(status="interrupted", finished_at=datetime.now(UTC),
                            detail="the daemon stopped before the run ended (found by syndicrawl doctor)")
                )  # fmt: skip
            finding = replace(finding, repaired=True)
        findings.append(finding)
    return findings


def _stale_leases(db: Database, *, dry_run: bool) -> list[Finding]:
    """Leases whose holder is gone (same host) or that lapsed: released."""
    now = datetime.now(UTC)
    with db.session() as s:
        leases = [(row.name, row.expires_at, as_holder(row)) for row in s.scalars(select(Lease))]
    findings = []
    for name, expires_at, holder in leases:
        if holder.is_dead():
            why = "whose process is gone"
        elif expires_at < now:
            why = "which lapsed without being released"
        else:
            continue
        finding = Finding(f"lease {name}", f"held by {holder.describe()}, {why}", "released")
        if not dry_run:
            with db.writing() as s:
                release(s, name, holder.token)
            finding = replace(finding, repaired=True)
        findings.append(finding)
    return findings
