"""Crawl locks: at most one crawl of a source at a time, across processes (and hosts).

Every crawl (the daemon's scheduled crawls and feed polls, a manual ``syndicrawl crawl``)
writes through an archive writer process (``archive/ingest/service.py``), which takes
``crawl:SOURCE`` for each source before anything is fetched and holds it until its files
are closed: the lock guards what that process writes. The daemon takes ``daemon``, so a
second daemon on the same job store refuses to start.

A lock is a lease: a database row (``archive.db.leases``) or, when ``[scheduler] redis_url`` is
set, a Redis key (redis-py's ``Lock``: ``SET NX PX`` and token-checked scripts to renew and
release). The holder renews it from a thread every third of ``lock_ttl``; a holder killed
without releasing loses it when it lapses, or at once when the process asking runs on the
same host and sees the holder's pid is gone (a daemon restarted after ``kill -9``).

A holder that cannot renew for two thirds of ``lock_ttl`` (the database locked by another
process, Redis away), or finds its lock taken, has lost it: another process may take it a
third of ``lock_ttl`` later. ``Locks`` then calls its ``on_lost``, and a crawl's archive writer
stops at once (as if killed: the next crawl or ``syndicrawl doctor`` repairs what it left),
so that two crawls of a source never write side by side. On SQLite, a renewal goes before the
other writes of its process (``Database.renewing``): a busy writer no longer starves it.

The crawl process reads ``LockConfig`` and ``LockRequest`` without loading SQLAlchemy or
redis: the backends import them when they are built.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

from archive.errors import LockHeld

logger = logging.getLogger(__name__)

#: How a refused lock is reported, unless the taker says otherwise.
WHAT = "lock {lock} is held by {holder}"


@dataclass(frozen=True)
class LockConfig:
    """Where locks live: Redis when ``redis_url`` is set, else the ``leases`` table at ``db_url``."""

    db_url: str
    ttl: float
    redis_url: str = ""
    redis_prefix: str = ""


@dataclass(frozen=True)
class LockRequest:
    """Locks for another process to take (the archive writer of a crawl): ``Locks``' arguments."""

    config: LockConfig
    names: tuple[str, ...]
    purpose: str
    what: str = WHAT

    def locks(self, on_lost: Callable[[str], None] | None = None) -> Locks:
        return Locks(self.config, self.names, self.purpose, self.what, on_lost)


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: what for, which process on which host, since when (ISO 8601, UTC)."""

    token: str
    purpose: str
    pid: int
    host: str
    since: str

    def describe(self) -> str:
        since = datetime.fromisoformat(self.since).strftime("%Y-%m-%d %H:%M:%S")
        return f"{self.purpose} (pid {self.pid} on {self.host}, since {since} UTC)"

    def is_dead(self) -> bool:
        """True only when this host can see the holder's process is gone."""
        if self.host != socket.gethostname():
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return _zombie(self.pid)


def _zombie(pid: int) -> bool:
    """A process killed but not yet reaped by its parent (``kill -9`` of a crawl whose parent lives
    on) still answers ``kill(pid, 0)``; Linux's /proc tells it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].startswith(b"Z")


#: The longest ``purpose`` a holder keeps (the ``leases`` table's column holds 255 characters).
PURPOSE_MAX = 200


def new_holder(purpose: str) -> Holder:
    if len(purpose) > PURPOSE_MAX:
        purpose = purpose[: PURPOSE_MAX - 3] + "..."
    return Holder(uuid.uuid4().hex, purpose, os.getpid(), socket.gethostname(), datetime.now(UTC).isoformat())


class Backend(Protocol):
    def try_acquire(self, name: str, me: Holder) -> Holder | None:
        """Take ``name``; None when taken, else the current holder."""

    def holder(self, name: str) -> Holder | None:
        """Who holds ``name`` now, read without taking it; None when free, lapsed or its holder is dead."""

    def renew(self, name: str, me: Holder, within: float) -> bool:
        """Extend ``name``, giving up after about ``within`` seconds; False if another holds it now."""

    def release(self, name: str, me: Holder) -> None: ...

    def close(self) -> None: ...


class RedisBackend:
    """Keys ``PREFIX lock:NAME`` holding the holder as JSON (the token redis-py's Lock compares)."""

    def __init__(self, url: str, prefix: str, ttl: float) -> None:
        import redis  # optional: pip install 'syndicrawl[redis]'

        # A renewal must give up in time to be retried before the key lapses.
        self.client = redis.Redis.from_url(url, socket_timeout=min(10.0, ttl / 3))
        self.prefix = prefix
        self.ttl = ttl
        self._locks: dict[str, redis.lock.Lock] = {}

    def _lock(self, name: str):  # type: ignore[no-untyped-def]
        return self.client.lock(f"{self.prefix}lock:{name}", timeout=self.ttl, thread_local=False)

    def try_acquire(self, name: str, me: Holder) -> Holder | None:
        lock = self._lock(name)
        value = json.dumps(asdict(me))
        current = None
        for _ in range(3):  # the holder may release, or be found dead, between two steps
            if lock.acquire(blocking=False, token=value):
                self._locks[name] = lock
                return None
            raw = self.client.get(lock.name)
            if raw is None:
                continue
            current = Holder(**json.loads(raw))
            if not (current.is_dead() and self._delete_if_unchanged(lock.name, raw)):
                return current
            logger.info("lock %s: removed the lock of %s, whose process is gone", name, current.describe())
        return current

    def holder(self, name: str) -> Holder | None:
        raw = self.client.get(f"{self.prefix}lock:{name}")  # a lapsed key is gone already
        current = Holder(**json.loads(raw)) if raw is not None else None
        return None if current is None or current.is_dead() else current

    def _delete_if_unchanged(self, key: str, value: bytes) -> bool:
        import redis

        with self.client.pipeline() as pipe:
            try:
                pipe.watch(key)
                if pipe.get(key) != value:
                    return False
                pipe.multi()
                pipe.delete(key)
                pipe.execute()
            except redis.WatchError:
                return False
        return True

    def renew(self, name: str, me: Holder, within: float) -> bool:
        from redis.exceptions import LockError

        try:
            self._locks[name].extend(self.ttl, replace_ttl=True)
        except LockError:
            return False
        return True

    def release(self, name: str, me: Holder) -> None:
        from redis.exceptions import LockError

        lock = self._locks.pop(name, None)
        if lock is not None:
            try:
                lock.release()
            except LockError:
                logger.warning("lock %s had lapsed before it was released", name)

    def close(self) -> None:
        self.client.close()


def live_holder(config: LockConfig, name: str) -> Holder | None:
    """Who holds lock ``name``, alive, without taking it: what a look that must change nothing needs."""
    return live_holders(config, [name]).get(name)


def live_holders(config: LockConfig, names: Sequence[str]) -> dict[str, Holder]:
    """Those of locks ``names`` held by a live process, and by whom, read through one connection."""
    backend = backend_for(config)
    try:
        return {name: holder for name in names if (holder := backend.holder(name)) is not None}
    finally:
        backend.close()


def dead_redis_holders(config: LockConfig) -> list[tuple[str, Holder, bytes]]:
    """The Redis lock keys whose holder's process is gone: name, holder and the key's value."""
    backend = RedisBackend(config.redis_url, config.redis_prefix, config.ttl)
    marker = f"{config.redis_prefix}lock:"
    try:
        dead = []
        for key in backend.client.scan_iter(match=f"{marker}*"):
            raw = backend.client.get(key)
            if raw is None:
                continue
            try:
                holder = Holder(**json.loads(raw))
            except (ValueError, TypeError):  # not a lock of ours
                continue
            if holder.is_dead():
                dead.append((key.decode()[len(marker) :], holder, raw))
        return dead
    finally:
        backend.close()


def remove_redis_lock(config: LockConfig, name: str, value: bytes) -> bool:
    """Delete a Redis lock key if it still holds ``value``; False if it changed meanwhile."""
    backend = RedisBackend(config.redis_url, config.redis_prefix, config.ttl)
    try:
        return backend._delete_if_unchanged(f"{config.redis_prefix}lock:{name}", value)
    finally:
        backend.close()


def backend_for(config: LockConfig) -> Backend:
    if config.redis_url:
        return RedisBackend(config.redis_url, config.redis_prefix, config.ttl)
    from archive.db.leases import DatabaseBackend

    return DatabaseBackend(config.db_url, config.ttl)


#: A held lock not renewed for this share of its TTL is given up: the rest is the holder's time to stop.
GIVE_UP = 2 / 3
#: Seconds before a failed renewal is tried again (unless that is past the lock's interval).
RETRY = 1.0


class Locks:
    """Hold several locks for the length of a ``with`` block, renewed from a thread.

    All or none: if one is held elsewhere, those taken are released and ``LockHeld`` says
    who holds the other, in ``what`` (``{name}``: the lock's name after its ``kind:``,
    ``{lock}``: its whole name, ``{holder}``: who holds it). ``on_lost(message)`` is called,
    from the renewal thread, once the locks are lost (see the module's docstring).
    """

    def __init__(
        self, config: LockConfig, names: Sequence[str], purpose: str, what: str = WHAT,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:  # fmt: skip
        self.backend = backend_for(config)
        self.names = list(names)
        self.me = new_holder(purpose)
        self.what = what
        self.ttl = config.ttl
        self.interval = config.ttl / 3
        self.on_lost = on_lost
        self._held: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="lock-renewal", daemon=True)

    def __enter__(self) -> Locks:
        self._taken_at = time.monotonic()
        try:
            for name in self.names:
                current = self.backend.try_acquire(name, self.me)
                if current is not None:
                    short = name.partition(":")[2] or name
                    raise LockHeld(self.what.format(name=short, lock=name, holder=current.describe()))
                self._held.append(name)
        except BaseException:
            self._release()
            raise
        self._thread.start()
        return self

    def _renew(self) -> None:
        """Renew every held lock each interval; a failed round is retried sooner, until the
        locks have gone unrenewed for GIVE_UP of their TTL: then they are lost."""
        renewed = self._taken_at  # when the last round that renewed them all began
        wait = self.interval
        while not self._stop.wait(wait):
            began = time.monotonic()
            lost, error = None, None
            for name in self._held:
                try:
                    if not self.backend.renew(name, self.me, within=max(0.0, renewed + self.ttl * GIVE_UP - began)):
                        lost = f"lock {name} was lost: it lapsed and another process took it"
                except Exception as exc:  # the database or Redis is away for a moment: retried
                    error = f"{name}: {' '.join(str(getattr(exc, 'orig', None) or exc).split())}"
                    logger.warning("lock %s: could not renew: %s", name, error)
            if lost is None and error is None:
                renewed, wait = began, self.interval
                continue
            unrenewed = time.monotonic() - renewed
            if lost is None and unrenewed < self.ttl * GIVE_UP:
                wait = min(RETRY, self.interval)
                continue
            if lost is None:
                lost = (f"lock {', '.join(self._held)} not renewed for {unrenewed:.0f} s (lock_ttl {self.ttl:g} s; "
                        f"last error: {error}): given up before another process may take it")  # fmt: skip
            logger.error("%s", lost)
            if self.on_lost is not None:
                self.on_lost(lost)
            return

    def _release(self) -> None:
        for name in reversed(self._held):
            try:
                self.backend.release(name, self.me)
            except Exception as exc:  # it lapses by itself after lock_ttl
                logger.warning("lock %s: could not release: %s", name, exc)
        self._held.clear()
        self.backend.close()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._release()
