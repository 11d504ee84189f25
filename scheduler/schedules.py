"""Schedules: one APScheduler job per source, kept in the archive database.

The job store is APScheduler's ``SQLAlchemyJobStore`` on the archive's engine (table
``apscheduler_jobs``; on PostgreSQL it lands in the schema of the URL's ``search_path``).
It pickles each job, so a job is a reference to the module-level ``scheduler.jobs.crawl``
and plain arguments: the source's name and the absolute paths of its sources file, data
directory and settings file. ``syndicrawl schedule ...`` edits the store through a scheduler
started paused (it writes but never runs anything); a running daemon sees the edits at its
next tick.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import and_

from archive.db.engine import Database
from archive.errors import ConfigError, NotFoundError
from syndicrawl.durations import format_duration, parse_duration

if TYPE_CHECKING:
    from apscheduler.job import Job
    from apscheduler.triggers.base import BaseTrigger
    from sqlalchemy.engine import Engine

    from syndicrawl.settings import Settings

STORE = "schedules"
TABLE = "apscheduler_jobs"
#: The executor (thread pool) of the daemon that runs scheduled crawls.
EXECUTOR = "crawls"


@dataclass(frozen=True)
class CrawlTarget:
    """A scheduled job's arguments, by value: what ``scheduler.jobs.crawl`` runs."""

    source: str
    config_file: str
    data_dir: str
    settings_file: str | None

    @classmethod
    def of(cls, job: Job) -> CrawlTarget:
        return cls(*job.args)


class DaemonJobStore(SQLAlchemyJobStore):  # type: ignore[misc]
    """The daemon's view of the store: it never brings back a schedule paused or removed meanwhile.

    The daemon updates a job's next run time after starting it; a ``schedule pause`` or
    ``remove`` by another process between the two would be undone (or, removed, stop the
    scheduler's loop with ``JobLookupError``). Updates are therefore made only to rows that
    are still there and not paused.
    """

    def update_job(self, job: Job) -> None:
        update = (
            self.jobs_t.update()
            .values(
                next_run_time=datetime_to_utc_timestamp(job.next_run_time),
                job_state=pickle.dumps(job.__getstate__(), self.pickle_protocol),
            )
            .where(and_(self.jobs_t.c.id == job.id, self.jobs_t.c.next_run_time.isnot(None)))
        )
        with self.engine.begin() as connection:
            connection.execute(update)


class Scheduler(BackgroundScheduler):  # type: ignore[misc]
    """APScheduler's background scheduler, never running jobs unless it is running.

    Its loop processes due jobs once more after ``shutdown()`` (it checks the state only
    before waiting): a scheduler opened paused to edit schedules would run them, or drop
    them for want of the daemon's executors, and a stopping daemon would advance a due
    schedule without running it.
    """

    def _process_jobs(self) -> float | None:
        if self.state != STATE_RUNNING:
            return None
        return super()._process_jobs()  # type: ignore[no-any-return]


def job_store(engine: Engine, *, daemon: bool = False) -> SQLAlchemyJobStore:
    return (DaemonJobStore if daemon else SQLAlchemyJobStore)(engine=engine, tablename=TABLE)


def make_trigger(every: str | None, cron: str | None, jitter: int | None) -> tuple[BaseTrigger, str]:
    """The trigger for ``--every`` or ``--cron`` (UTC) and how ``schedule list`` shows it."""
    if (every is None) == (cron is None):
        raise ConfigError("give one of --every DURATION or --cron EXPRESSION")
    if jitter is not None and jitter < 0:
        raise ConfigError(f"--jitter {jitter}: must be a number of seconds >= 0")
    if every is not None:
        seconds = parse_duration(every, "--every")
        trigger: BaseTrigger = IntervalTrigger(seconds=seconds, jitter=jitter, timezone=UTC)
        shown = f"every {format_duration(seconds)}"
    else:
        try:
            trigger = CronTrigger.from_crontab(cron, timezone=UTC)
        except ValueError as exc:
            raise ConfigError(f"--cron {cron!r}: {exc}") from exc
        trigger.jitter = jitter
        shown = f"cron {cron} (UTC)"
    return trigger, shown + (f", jitter {jitter}s" if jitter else "")


class Schedules:
    """The schedules in the job store, edited without running anything."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def add(
        self, target: CrawlTarget, trigger: BaseTrigger, shown: str, *, misfire_grace_time: int, replace: bool = False
    ) -> Job:
        """Add the source's schedule; ``replace``: in place of the one it has (paused or not), if any."""
        from scheduler.jobs import crawl

        try:
            return self.scheduler.add_job(
                crawl,
                trigger,
                args=(target.source, target.config_file, target.data_dir, target.settings_file),
                id=target.source,
                name=shown,
                jobstore=STORE,
                executor=EXECUTOR,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=misfire_grace_time,
                replace_existing=replace,
            )
        except ConflictingIdError as exc:
            existing = self.scheduler.get_job(target.source, STORE)
            raise ConfigError(
                f"source '{target.source}' already has a schedule ({existing.name if existing else '?'}); "
                "give --replace to change it"
            ) from exc

    def all(self) -> list[Job]:
        return sorted(self.scheduler.get_jobs(jobstore=STORE), key=lambda job: job.id)

    def _change(self, method: str, source: str) -> Job | None:
        try:
            return getattr(self.scheduler, method)(source, STORE)  # type: ignore[no-any-return]
        except JobLookupError as exc:
            known = ", ".join(job.id for job in self.all()) or "none"
            raise NotFoundError(f"no schedule for source '{source}' (scheduled: {known})") from exc

    def pause(self, source: str) -> None:
        self._change("pause_job", source)

    def resume(self, source: str) -> Job | None:
        return self._change("resume_job", source)

    def remove(self, source: str) -> None:
        self._change("remove_job", source)


@contextmanager
def open_schedules(settings: Settings) -> Iterator[Schedules]:
    """The schedules of the archive database in ``settings`` (schema upgraded first)."""
    database = Database(settings.db_url)
    with database.session():  # brings the schema to head before APScheduler adds its table
        pass
    scheduler = Scheduler(jobstores={STORE: job_store(database.engine)}, timezone=UTC)
    scheduler.start(paused=True)
    try:
        yield Schedules(scheduler)
    finally:
        scheduler.shutdown(wait=False)
        database.dispose()


def target_for(source: str, config_file: Path, settings: Settings) -> CrawlTarget:
    """A job's arguments: absolute paths, so the daemon may run from any directory."""
    return CrawlTarget(
        source,
        str(config_file.expanduser().absolute()),
        str(settings.data_dir.expanduser().absolute()),
        str(settings.settings_file.expanduser().absolute()) if settings.settings_file else None,
    )
