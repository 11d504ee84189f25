"""Scheduled runs: what the daemon started for each schedule, and how it ended."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from archive.db.models import Crawl, ScheduleRun, Source

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def start_run(s: Session, source: str, started_at: datetime) -> int:
    """Record that the daemon starts a scheduled crawl of ``source``; returns the run's id."""
    run = ScheduleRun(source=source, started_at=started_at, status="running")
    s.add(run)
    s.flush()
    return run.id


def finish_run(
    s: Session, run_id: int, *, status: str, finished_at: datetime, detail: str | None, crawl_id: int | None
) -> None:
    """Close a run: ``status`` as its crawl ended (or ``skipped``), ``detail`` says why."""
    run = s.get(ScheduleRun, run_id)
    if run is not None:
        run.status, run.finished_at, run.detail, run.crawl_id = status, finished_at, detail, crawl_id


def crawl_since(s: Session, source: str, since: datetime) -> Crawl | None:
    """The latest crawl of ``source`` started at or after ``since`` (the one a run's process made)."""
    return s.scalars(
        select(Crawl)
        .join(Source, Source.id == Crawl.source_id)
        .where(Source.name == source, Crawl.started_at >= since)
        .order_by(Crawl.started_at.desc(), Crawl.id.desc())
        .limit(1)
    ).first()


def latest_runs(s: Session) -> dict[str, tuple[ScheduleRun, Crawl | None]]:
    """Each source's latest scheduled run, with the crawl it made (if any)."""
    newest = select(ScheduleRun.source, func.max(ScheduleRun.id).label("id")).group_by(ScheduleRun.source).subquery()
    rows = s.execute(
        select(ScheduleRun, Crawl)
        .join(newest, newest.c.id == ScheduleRun.id)
        .outerjoin(Crawl, Crawl.id == ScheduleRun.crawl_id)
    )
    return {run.source: (run, crawl) for run, crawl in rows}
