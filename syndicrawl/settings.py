"""One frozen settings object, loaded from defaults, a settings file, the environment and flags.

Later sources win, and every value remembers where it came from (as Scrapy's settings
priorities do), so ``syndicrawl`` can say why a value is what it is.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from archive.db.embedded import sqlite_url
from archive.db.locks import LockConfig
from archive.errors import ConfigError
from archive.warc.storage import SCHEMES as STORAGE_SCHEMES
from archive.warc.storage import WarcStorage, is_url

#: Set by ``syndicrawl worker`` for its crawls: ``[queue] worker_id``.
WORKER_ID_ENV = "SYNDICRAWL_WORKER_ID"
#: Environment variables and the settings they set.
ENVIRONMENT = {
    "SYNDICRAWL_DATA_DIR": "data_dir",
    "SYNDICRAWL_DATABASE_URL": "database_url",
    "SYNDICRAWL_REDIS_URL": "redis_url",
    "SYNDICRAWL_WARC_STORAGE": "warc_storage",
    WORKER_ID_ENV: "queue_worker_id",
}

#: Sections of the settings file; [extract] keys get the ``extract_`` prefix, the others none.
SECTIONS = {"storage": "", "crawl": "", "extract": "extract_", "scheduler": "", "queue": "queue_"}

@dataclass(frozen=True)
class Settings:
    """Every setting of a run. Field names are ``KEY``, except ``extract_KEY`` for [extract]."""

    data_dir: Path
    database_url: str
    warc_max_size: int
    warc_storage: str
    user_agent: str
    obey_robots: bool
    download_delay: float
    autothrottle: bool
    concurrent_requests: int
    concurrent_requests_per_domain: int
    download_timeout: float
    download_maxsize: int
    backfill_pages: int
    max_feed_entries: int
    sources_at_once: int
    extract_enabled: bool
    extract_workers: int
    extract_timeout: float
    extract_max_bytes: int
    extract_fast: bool
    poll_min_interval: float
    poll_max_interval: float
    poll_faster: float
    poll_slower: float
    poll_jitter: float
    backoff_dns: float
    backoff_connection: float
    backoff_timeout: float
    backoff_http_4xx: float
    backoff_http_5xx: float
    backoff_parse: float
    backoff_blocked: float
    backoff_process: float
    backoff_address: float
    trust_after: int
    audit_every: int
    tick: float
    max_crawls: int
    max_polls: int
    misfire_grace_time: int
    stop_timeout: float
    lock_ttl: float
    redis_url: str
    redis_prefix: str
    queue_redis_url: str
    queue_heartbeat_timeout: float
    queue_worker_id: str
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: The --settings file these came from: the scheduler hands it on to the crawls it starts.
    settings_file: Path | None = field(default=None, compare=False)

    @property
    def warc_dir(self) -> Path:
        """Where crawls write WARC files: ``[storage] warc_storage`` when it is a directory (shared by the
        machines of a cluster), else the data directory's ``warcs/`` (uploaded from there to object storage)."""
        return Path(self.warc_storage) if self.warc_storage and not is_url(self.warc_storage) else self.data_dir / "warcs"

    @property
    def warcs(self) -> WarcStorage:
        """Where WARC files are read from: ``warc_dir``, then the object storage ``warc_storage`` names."""
        return WarcStorage(self.warc_dir, self.warc_storage if is_url(self.warc_storage) else "")

    @property
    def index_dir(self) -> Path:
        """CDXJ index files, one per WARC file; ``syndicrawl index rebuild`` recreates them."""
        return self.data_dir / "indexes"

    @property
    def db_url(self) -> str:
        """The database URL in force: the configured one, else SQLite in the data directory."""
        return self.database_url or sqlite_url(self.data_dir)

    @property
    def db_url_shown(self) -> str:
        """The database URL for messages: its password masked."""
        return mask_password(self.db_url)

    @property
    def locks(self) -> LockConfig:
        """Where crawl and daemon locks live."""
        return LockConfig(self.db_url, self.lock_ttl, self.redis_url, self.redis_prefix)


#: The bounds of every numeric setting, as (test, what it says). A value out of range is an error
#: at load time, naming where it came from: past it, it fails far from its cause (workers = 0
#: broke the archive writer mid-crawl, tick = -1 spun the daemon at full CPU).
_AT_LEAST_0 = (lambda v: v >= 0, ">= 0")
_AT_LEAST_1 = (lambda v: v >= 1, ">= 1")
_POSITIVE = (lambda v: v > 0, "> 0")
RANGES = {
    "warc_max_size": _AT_LEAST_1,
    "download_delay": _AT_LEAST_0,
    "concurrent_requests": _AT_LEAST_1,
    "concurrent_requests_per_domain": _AT_LEAST_1,
    "download_timeout": _POSITIVE,
    "download_maxsize": _AT_LEAST_0,  # Scrapy's 0: no limit
    "backfill_pages": _AT_LEAST_0,
    "max_feed_entries": _AT_LEAST_1,
    "sources_at_once": _AT_LEAST_1,
    "extract_workers": _AT_LEAST_1,
    "extract_timeout": _POSITIVE,
    "extract_max_bytes": _AT_LEAST_0,
    "poll_min_interval": _POSITIVE,
    "poll_max_interval": _POSITIVE,
    "poll_faster": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "poll_slower": _AT_LEAST_1,
    "poll_jitter": (lambda v: 0 <= v < 1, "in [0, 1)"),
    **{f.name: _AT_LEAST_0 for f in fields(Settings) if f.name.startswith("backoff_")},
    "trust_after": _AT_LEAST_1,
    "audit_every": (lambda v: v >= 2, ">= 2"),
    "tick": _POSITIVE,
    "max_crawls": _AT_LEAST_1,
    "max_polls": _AT_LEAST_1,
    "misfire_grace_time": _AT_LEAST_1,
    "stop_timeout": _AT_LEAST_0,
    "lock_ttl": _POSITIVE,
    "queue_heartbeat_timeout": _POSITIVE,
}

#: Ten years: the most any setting in seconds may be. Longer is a typo, and overflows the timers
#: and dates it reaches (tick = 1e300 was an OverflowError in APScheduler's interval trigger).
LONGEST = 315_360_000
SECONDS = ("download_delay", "download_timeout", "extract_timeout", "poll_min_interval", "poll_max_interval",
           "tick", "misfire_grace_time", "stop_timeout", "lock_ttl",
           "queue_heartbeat_timeout")


#: A worker id: it ends WARC file names (``archive.warc.writer``), after the source's name and a serial.
WORKER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

#: The URL schemes each URL setting accepts (an empty value is the default: SQLite in the
#: data directory, locks in the database). SQLAlchemy's plain ``postgresql://`` means
#: psycopg2, which syndicrawl does not install.
URL_SCHEMES = {
    "database_url": ("sqlite", "postgresql+psycopg"),
    "redis_url": ("redis", "rediss", "unix"),
    "queue_redis_url": ("redis", "rediss", "unix"),
}


def mask_password(url: str) -> str:
    """``url`` with what may be its password replaced by ``***``: for every message that shows it.

    Everything from the first ``:`` after the scheme to the last ``@`` is hidden, as SQLAlchemy
    reads a password (any characters but ``@``, ``/`` included): ``urlsplit`` would end it at a
    ``/`` or ``#`` and show the rest. A value with no ``@`` has no password.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}{separator}{user}:***@{host}"


def plain(name: str) -> str:
    """A key as a message shows it: as written, with escapes if it has characters that would
    break the one line (a quoted TOML key may hold a newline or a terminal escape)."""
    return name if name.isprintable() else name.encode("unicode_escape").decode("ascii")


def _flatten(document: Mapping[str, Any], where: str) -> dict[str, Any]:
    names = {f.name for f in fields(Settings)} - {"origins", "settings_file"}
    flat: dict[str, Any] = {}
    for section, values in document.items():
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where}: '{plain(section)}' must be a [section] table")
        for key, value in values.items():
            name = SECTIONS.get(section, "") + key
            if section not in SECTIONS or name not in names:
                raise ConfigError(f"{where}: unknown setting [{plain(section)}] {plain(key)}")
            flat[name] = value
    return flat


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """The TOML document in ``path``; a file that cannot be read, is not UTF-8 or not TOML is
    one ``ConfigError`` naming ``path`` (Python 3.11's ``tomllib.load`` lets a decoding error through)."""
    try:
        return tomllib.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text: byte {exc.start} is {exc.object[exc.start:exc.end]!r}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def _coerce(name: str, value: Any, default: Any, where: str) -> Any:
    """Check a value against the type of its default; the environment gives strings."""
    kind = type(default)
    if isinstance(value, str) and kind is not str and where.startswith("environment"):
        value = value.strip()
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    elif kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif kind is str and isinstance(value, str):
        return value
    elif name == "data_dir" and isinstance(value, str | Path):
        return Path(value)
    raise ConfigError(f"{where}: setting '{name}' must be {kind.__name__}, got {value!r}")


def load_settings(
    settings_file: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build the settings: defaults < settings file < environment < ``overrides`` (flags).

    ``overrides`` entries whose value is None are ignored, so CLI flags can be passed as they are.
    """
    defaults_text = resources.files("syndicrawl").joinpath("config", "defaults.toml").read_text("utf-8")
    defaults = _flatten(tomllib.loads(defaults_text), "defaults.toml")
    defaults["data_dir"] = Path(defaults["data_dir"])
    values = dict(defaults)
    origins = dict.fromkeys(values, "default")

    layers: list[tuple[str, Mapping[str, Any]]] = []
    if settings_file is not None:
        layers.append((str(settings_file), _flatten(read_toml(settings_file, "settings file"), str(settings_file))))
    environ = os.environ if env is None else env
    layers.append(("environment", {ENVIRONMENT[k]: v for k, v in environ.items() if k in ENVIRONMENT}))
    layers.append(("command line", {k: v for k, v in (overrides or {}).items() if v is not None}))

    for where, layer in layers:
        for name, value in layer.items():
            origin = f"environment ({_env_name(name)})" if where == "environment" else where
            values[name] = _coerce(name, value, defaults[name], origin)
            origins[name] = origin
    _check_ranges(values, origins)
    return Settings(**values, origins=origins, settings_file=settings_file)


def _check_ranges(values: Mapping[str, Any], origins: Mapping[str, str]) -> None:
    for name, (test, rule) in RANGES.items():
        value = values[name]
        if not (math.isfinite(value) and test(value)):
            raise ConfigError(f"{origins[name]}: setting '{name}' must be {rule}, got {value!r}")
    for name in SECONDS:
        if values[name] > LONGEST:
            raise ConfigError(
                f"{origins[name]}: setting '{name}' must be at most {LONGEST} seconds (ten years), got {values[name]!r}"
            )
    for name, schemes in URL_SCHEMES.items():
        value = values[name]
        scheme, known, _ = value.partition("://")
        if value and not (known and scheme in schemes):
            raise ConfigError(
                f"{origins[name]}: setting '{name}' must be a {' or '.join(f'{s}://' for s in schemes)} URL, "
                f"got {mask_password(value)!r}"
            )
    storage, known, bucket = values["warc_storage"].partition("://")
    if known and not (storage in STORAGE_SCHEMES and bucket.strip("/")):
        raise ConfigError(f"{origins['warc_storage']}: setting 'warc_storage' must be a directory path or an "
                          f"{' or '.join(f'{s}://BUCKET/PREFIX' for s in STORAGE_SCHEMES)} URL, "
                          f"got {mask_password(values['warc_storage'])!r}")
    worker = values["queue_worker_id"]
    if worker and not WORKER_ID.fullmatch(worker):
        raise ConfigError(f"{origins['queue_worker_id']}: setting 'queue_worker_id' must be 1-64 letters, digits, "
                          f"'.', '_' or '-' (it ends WARC file names), got {worker!r}")
    low, high = values["poll_min_interval"], values["poll_max_interval"]
    if low > high:
        raise ConfigError(
            f"{origins['poll_min_interval']}: setting 'poll_min_interval' must be <= poll_max_interval ({high!r}), "
            f"got {low!r}"
        )


def _env_name(setting: str) -> str:
    return next(var for var, name in ENVIRONMENT.items() if name == setting)
