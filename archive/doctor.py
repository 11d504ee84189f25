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

``doctor`` also reads every finished file record by record: a response or revisit record with no
capture row in the middle of a file (its batch's transaction failed after the records were
written) is catalogued again, by the caller's ``recatalog`` (the importer, a layer above). Rows
naming a file that is not there are reported, and removed only on request (``forget_missing``):
the file may come back (a disk not mounted, a backup to restore), and removing a capture removes
its article; the removed rows are kept as JSON lines in ``quarantine/``. Redis lock keys of dead
processes are removed, as leases are.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, select, update

from archive.db.leases import as_holder, release
from archive.db.locks import Locks, dead_redis_holders, live_holder, remove_redis_lock
from archive.db.models import Article, Capture, Crawl, Lease, ScheduleRun, Source
from archive.errors import LockHeld, SyndicrawlError, WarcError
from archive.warc.cdxj import index_closed_warc
from archive.warc.records import Damage, scan_records
from archive.warc.storage import WarcStorage, storage
from archive.warc.writer import OPEN_SUFFIX

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path

    from archive.db.engine import Database
    from archive.db.locks import LockConfig

logger = logging.getLogger(__name__)

QUARANTINE = "quarantine"  # beside the WARC directory (warcs/ in the data directory)
#: ``{source}-{20-digit time}-{5-digit serial}[-{worker}].warc.gz.open``, as ``WarcWriter`` names
#: files (a worker's crawls add its id); no source or worker name holds 20 digits and a dash.
_NAME = r"^(?P<source>.+)-\d{20}-\d{5}(?:-[A-Za-z0-9][A-Za-z0-9_.-]*)?\.warc\.gz"
_OPEN_NAME = re.compile(_NAME + re.escape(OPEN_SUFFIX) + "$")
_FINISHED_NAME = re.compile(_NAME + "$")
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


def doctor(
    db: Database, warcs: WarcStorage | Path, index_dir: Path, locks: LockConfig, *, dry_run: bool,
    recatalog: Callable[[Path], int] | None = None, forget_missing: bool = False,
) -> Report:  # fmt: skip
    """Find, and unless ``dry_run`` repair, what dead crawls and daemons left in an archive.

    Stale leases and Redis lock keys first (a dead holder's lock is what tells its crawl is
    dead), then each source with ``.open`` files, ``running`` crawls or finished files whose
    crawl lock no live process holds: its ``.open`` files, its crawls, and (with ``recatalog``)
    the records of its finished files that have no row; then rows naming files that are gone,
    then scheduled runs left ``running`` by a daemon that is gone. With object storage, the files
    repaired or left finished here by those crawls are uploaded.
    """
    store = storage(warcs)
    warc_dir = store.local
    report = Report()
    report.findings += _stale_leases(db, dry_run=dry_run) + _stale_redis_locks(locks, dry_run=dry_run)
    with db.session() as s:
        running = set(s.scalars(select(Source.name).join(Crawl).where(Crawl.status == "running")))
    finished = _finished_files(warc_dir)
    for source in sorted(running | set(open_files(warc_dir)) | set(finished)):
        holder = live_holder(locks, f"crawl:{source}")
        files = finished.get(source, []) if recatalog is not None else []
        if holder is not None:
            report.busy.append(f"{source}: being crawled by {holder.describe()}; left alone")
        elif dry_run:
            report.findings += _repair_source(db, warc_dir, index_dir, source, dry_run=True)
            report.findings += _orphans(db, files, recatalog, dry_run=True)
        else:
            try:
                with Locks(locks, [f"crawl:{source}"], "syndicrawl doctor"):
                    report.findings += _repair_source(db, warc_dir, index_dir, source, dry_run=False)
                    report.findings += _orphans(db, files, recatalog, dry_run=False)
                    report.findings += _upload(store, _finished_files(warc_dir).get(source, []))
            except LockHeld as exc:  # a crawl started meanwhile
                report.busy.append(f"{source}: {exc}; left alone")
    report.findings += _missing_files(db, store, dry_run=dry_run, forget=forget_missing)
    if live_holder(locks, "daemon") is None:
        report.findings += _interrupted_runs(db, dry_run=dry_run)
    return report


def repair_sources(db: Database, warc_dir: Path, index_dir: Path, sources: Iterable[str]) -> list[Finding]:
    """Repair what dead crawls of ``sources`` left; the caller holds their crawl locks (a crawl's writer)."""
    return [finding for source in sources for finding in _repair_source(db, warc_dir, index_dir, source, dry_run=False)]


def _finished_files(warc_dir: Path) -> dict[str, list[Path]]:
    """The finished WARC files that crawls wrote in ``warc_dir``, by source (imported files keep
    their own names: the importer leaves out some records on purpose, and they have no orphans)."""
    found: dict[str, list[Path]] = {}
    for path in sorted(warc_dir.glob("*.warc.gz")) if warc_dir.is_dir() else []:
        match = _FINISHED_NAME.match(path.name)
        if match:
            found.setdefault(match["source"], []).append(path)
    return found


def _orphans(db: Database, files: list[Path], recatalog: Callable[[Path], int] | None, *, dry_run: bool) -> list[Finding]:
    """Whole response and revisit records of finished files that no capture row names: catalogued."""
    findings = []
    for path in files:
        with db.session() as s:
            known = set(s.scalars(select(Capture.record_id).where(Capture.warc_file == path.name)))
        orphans = sum(
            1 for found in scan_records(path)
            if not isinstance(found, Damage) and found.record.rec_type in _CATALOGUED
            and found.record.rec_headers.get_header("WARC-Record-ID") not in known
        )  # fmt: skip
        if not orphans:
            continue
        finding = Finding(path.name, f"{orphans} whole response or revisit records have no capture row",
                          f"catalogued ({orphans} capture rows added)")  # fmt: skip
        if dry_run or recatalog is None:
            findings.append(finding)
            continue
        try:
            added = recatalog(path)
        except (OSError, SyndicrawlError) as exc:
            findings.append(replace(finding, failed=str(exc)))
            continue
        if added < orphans:
            findings.append(replace(finding, failed=f"{orphans - added} of them could not be catalogued (see the lines above)"))
        else:
            findings.append(replace(finding, repaired=True))
    return findings


def _upload(store: WarcStorage, files: Sequence[Path]) -> list[Finding]:
    """Finished files of a dead crawl, not uploaded to the object storage: uploaded now."""
    findings = []
    for path in files if store.remote else []:
        finding = Finding(path.name, f"finished but not in {store.remote}", "uploaded")
        try:
            store.upload(path)
        except WarcError as exc:
            findings.append(replace(finding, failed=str(exc)))
            continue
        findings.append(replace(finding, repaired=True))
    return findings


def _missing_files(db: Database, store: WarcStorage, *, dry_run: bool, forget: bool) -> list[Finding]:
    """Capture rows naming a WARC file that is neither in the storage nor being written here.

    Reported; removed (kept as JSON lines in quarantine/) only with ``forget``, and never while
    ``warc_dir`` holds no WARC file at all: a disk not mounted is no reason to empty a catalog.
    """
    with db.session() as s:
        counts = dict(s.execute(select(Capture.warc_file, func.count()).group_by(Capture.warc_file)).all())
    warc_dir = store.local
    present = {path.name.removesuffix(OPEN_SUFFIX) for path in warc_dir.glob("*.warc*")} if warc_dir.is_dir() else set()
    present |= set(store.names()) if store.remote else set()
    missing = sorted(name for name in counts if name not in present)
    if missing and not present:
        return [Finding(f"{warc_dir}", f"no WARC file there, but {sum(counts.values())} capture rows point into "
                        f"{len(missing)} files", "", failed="is the directory mounted? nothing is removed")]  # fmt: skip
    quarantine = quarantine_dir(warc_dir)
    findings = []
    for name in missing:
        where = " (a copy is in quarantine/)" if (quarantine / name).exists() else ""
        kept = quarantine / f"{name}.rows.jsonl"
        finding = Finding(name, f"{counts[name]} capture rows point into it, but it is not in {warc_dir.name}/{where}",
                          f"{counts[name]} capture rows and their articles removed (kept in {QUARANTINE}/{kept.name})")  # fmt: skip
        if not forget:
            why = "it may come back (restore it); `syndicrawl doctor --forget-missing` removes the rows"
            findings.append(replace(finding, failed=why))
            continue
        if dry_run:
            findings.append(finding)
            continue
        try:
            _forget(db, name, kept)
        except OSError as exc:
            findings.append(replace(finding, failed=str(exc)))
            continue
        findings.append(replace(finding, repaired=True))
    return findings


def _forget(db: Database, name: str, kept: Path) -> None:
    """Write the rows naming ``name`` (captures, with their articles) to ``kept``, then remove them."""
    kept.parent.mkdir(parents=True, exist_ok=True)
    with db.writing() as s, kept.open("a", encoding="utf-8") as out:
        rows = s.execute(select(Capture, Article).outerjoin(Article, Article.capture_id == Capture.id)
                         .where(Capture.warc_file == name)).all()  # fmt: skip
        for capture, article in rows:
            line = {"capture": _columns(capture), "article": _columns(article) if article is not None else None}
            out.write(json.dumps(line, default=str, ensure_ascii=False) + "\n")
        out.flush()
        os.fsync(out.fileno())
        s.execute(delete(Capture).where(Capture.warc_file == name))


def _columns(row: object) -> dict[str, object]:
    return {column.key: getattr(row, column.key) for column in row.__table__.columns}  # type: ignore[attr-defined]


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


def _stale_redis_locks(locks: LockConfig, *, dry_run: bool) -> list[Finding]:
    """Redis lock keys whose holder's process is gone (same host): removed. A key that lapses
    goes by itself; one whose holder died goes now, before the next crawl asks."""
    if not locks.redis_url:
        return []
    findings = []
    for name, holder, value in dead_redis_holders(locks):
        finding = Finding(f"lock {name} (Redis)", f"held by {holder.describe()}, whose process is gone", "removed")
        if not dry_run:
            finding = replace(finding, repaired=remove_redis_lock(locks, name, value))
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
