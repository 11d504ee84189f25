"""A queue worker's crawl jobs, run in batches: the sources of the jobs it holds at once crawled
by one ``syndicrawl crawl`` process.

A process's start (Python, Scrapy, Twisted, the archive writer and its database connection) costs
about 1.3 s of CPU, and a feed's source often has a few new pages: a process per job spent most
of a worker's time starting. One process for many sources pays it once, and keeps each host's
delay across them (``crawler.politeness``). Each job still stands for its own source: it is
acknowledged when its batch ends, recorded in its own ``schedule_runs`` row, and retried alone
when its source was locked (``scheduler.jobs.run_crawl``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from scheduler.jobs import Ran
from scheduler.schedules import CrawlTarget

#: Seconds a batch waits for more jobs before it starts: the jobs a worker takes from the queue
#: arrive one by one, a few milliseconds apart.
GATHER = 0.3


@dataclass
class _Job:
    target: CrawlTarget
    taken: bool = False
    ran: Ran | None = None
    done: threading.Event = field(default_factory=threading.Event)


class Batches:
    """Jobs gathered into crawls of at most ``size`` sources, ``processes`` crawls at a time.

    Each job's thread calls ``crawl`` and waits: the first to find a crawl slot free waits
    ``GATHER`` seconds, takes the jobs waiting by then (those of its sources file, oldest first) and
    runs them with ``run``; the others wait for theirs.
    """

    def __init__(self, processes: int, size: int,
                 run: Callable[[Sequence[CrawlTarget]], dict[str, Ran]]) -> None:
        self.processes, self.size, self._run = processes, size, run
        self._cond = threading.Condition()
        self._waiting: list[_Job] = []
        self._running = 0

    def crawl(self, target: CrawlTarget) -> Ran:
        """Crawl ``target``'s source in the next batch; how it went."""
        job = _Job(target)
        with self._cond:
            self._waiting.append(job)
            while not job.taken and self._running >= self.processes:
                self._cond.wait()
            if job.taken:
                batch = None
            else:  # this job's thread leads a batch: no other takes the job meanwhile
                self._running += 1
                job.taken = True
                self._waiting.remove(job)
                batch = [job]
        if batch is None:
            job.done.wait()
            assert job.ran is not None
            return job.ran
        try:
            time.sleep(GATHER)
            batch = self._take(job)
            ran = self._run([j.target for j in batch])
            for member in batch:
                member.ran = ran[member.target.source]
        finally:
            self._release()
            for member in batch:
                if member.ran is None:  # ``run`` raised: this job's thread takes the error to Dramatiq
                    member.ran = Ran("failed", "the batch's crawl did not run")
                member.done.set()
        return job.ran

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the ``processes`` slots for a process of another kind (a poll)."""
        with self._cond:
            while self._running >= self.processes:
                self._cond.wait()
            self._running += 1
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def _take(self, first: _Job) -> list[_Job]:
        """``first`` and, oldest first, waiting jobs of other sources with its files, up to ``size``."""
        files = (first.target.config_file, first.target.data_dir, first.target.settings_file)
        with self._cond:
            batch, sources = [first], {first.target.source}
            for job in self._waiting:
                if len(batch) == self.size:
                    break
                if (not job.taken and job.target.source not in sources
                        and (job.target.config_file, job.target.data_dir, job.target.settings_file) == files):
                    job.taken = True
                    batch.append(job)
                    sources.add(job.target.source)
            self._waiting = [job for job in self._waiting if not job.taken]
            self._cond.notify_all()
            return batch
