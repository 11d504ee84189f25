"""Fuzzing the settings and sources loaders (#17): malformed files are one ``ConfigError`` line.

Every generated document goes through the loaders the CLI uses (``load_settings``,
``load_sources``). Either it loads, and then every value is within its documented range, or it
raises ``ConfigError`` with one line that starts with the file (or the environment variable) it
came from and never shows a database password. Any other exception is a traceback for the
user, and fails the test.
"""

from __future__ import annotations

import math
import re
import tomllib
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from archive.db.urls import fetch_problem
from archive.errors import ConfigError
from syndicrawl.cli import cli
from syndicrawl.settings import ENVIRONMENT, RANGES, SECONDS, SECTIONS, URL_SCHEMES, Settings, load_settings
from syndicrawl.sources import KINDS, load_sources

DEFAULTS = tomllib.loads((Path(__file__).parents[1] / "config" / "defaults.toml").read_text("utf-8"))
#: What the generated passwords are made of: they must never appear in a message.
PASSWORD = "Pw"
FUZZ = settings(
    max_examples=1000,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_string(key)


def toml_string(text: str) -> str:
    """A TOML basic string; control characters and surrogates escaped (the latter make it invalid TOML)."""
    escaped = "".join(
        f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) < 0xE000
        else "\\" + c if c in '"\\' else c
        for c in text
    )
    return f'"{escaped}"'


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_document(tables: dict[str, Any], arrays: dict[str, list[dict[str, Any]]] | None = None) -> str:
    """``tables`` as [sections] (a value that is not a dict is written as a top-level key)."""
    lines = [f"{toml_key(k)} = {toml_value(v)}" for k, v in tables.items() if not isinstance(v, dict)]
    for name, table in tables.items():
        if isinstance(table, dict):
            lines.append(f"[{toml_key(name)}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    for name, entries in (arrays or {}).items():
        for entry in entries:
            lines.append(f"[[{toml_key(name)}]]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in entry.items()]
    return "\n".join(lines) + "\n"


# --- what the documents are made of ---------------------------------------------------------

HUGE = st.sampled_from([2**31, 2**63 - 1, -(2**63), 10**30, 1e300, -1e300, 5e-324, math.inf, -math.inf, math.nan])
NUMBERS = st.one_of(
    st.integers(-3, 3), st.integers(), st.floats(allow_nan=True, allow_infinity=True), HUGE
)
HOSTS = st.sampled_from(
    ["127.0.0.1", "x.test", "[::1]", "[::1", "[fe80::1%25eth0]", "bücher.example", "xn--bcher-kva.example",
     "", " ", "a b", "x.test.", "例え.テスト", "\u202eevil.test", "%00", "localhost"]
)
PORTS = st.sampled_from(["", ":0", ":1", ":80", ":65535", ":65536", ":99999", ":abc", ":-1", ":", ": 80", ":８０"])
SCHEMES = st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "file://", "javascript:", "data:", "", "//",
                           "http:", "http:/", "mailto:", "http\t://"])
PATHS = st.sampled_from(["", "/", "/feed", "/a b", "/%zz", "/\x00", "/\n", "?q=1", "#frag", "/" + "x" * 3000])
URLS = st.one_of(
    st.builds(lambda *parts: "".join(parts), SCHEMES, HOSTS, PORTS, PATHS),
    st.sampled_from(["javascript:void(0)", "http://[::1/", "http:///news", "https://x.test:0/", "http://x.test:abc/",
                     "https://user:pw@x.test/", "http://[::1]:8080/", "http://0x7f.1/", "\ufeffhttp://x.test/"]),
    st.text(max_size=40),
)
TEXT = st.text(max_size=30) | st.sampled_from(["", " ", "\n", "\x00", "a\nb", "\r\n", "é", "\ud800"])
DB_URLS = st.builds(
    lambda scheme, user, password, host, port, path: f"{scheme}{user}:{password}@{host}{port}{path}",
    st.sampled_from(["postgresql+psycopg://", "postgresql://", "mysql://", "sqlite://", "sqlite:///", "redis://",
                     "unix://", "", "garbage", "postgresql+psycopg:/"]),
    st.sampled_from(["bob", "", "b:o", "b@b"]),
    st.builds(lambda tail: PASSWORD + tail, st.sampled_from(["", "word", "/slash", "#hash", "?q", "@at", ":c", "[", "]"])),
    HOSTS,
    PORTS,
    PATHS,
)
ARRAYS = st.lists(st.one_of(NUMBERS, TEXT, URLS), max_size=3)
SCALARS = st.one_of(
    NUMBERS, st.booleans(), TEXT, URLS, DB_URLS, st.dates(), st.datetimes(), st.times(),
    st.sampled_from(["*/5 * * * *", "every 5 minutes", "5m", "-1", "1e999", "0x10", "PT5M", "P-1D"]),
)
VALUES = st.one_of(SCALARS, ARRAYS, st.dictionaries(TEXT, SCALARS, max_size=2))

SECTION_KEYS = {section: list(keys) for section, keys in DEFAULTS.items()}


@st.composite
def settings_documents(draw: st.DrawFn) -> dict[str, Any]:
    """[sections] of settings, mostly known keys with values of any type and magnitude."""
    document: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 4))):
        section = draw(st.sampled_from(list(SECTIONS)) | st.sampled_from(["Crawl", "extract ", "x", ""]))
        keys = SECTION_KEYS.get(section, ["workers"])
        table = document.setdefault(section, {})
        for _ in range(draw(st.integers(1, 4))):
            key = draw(st.sampled_from(keys) | TEXT)
            table[key] = draw(VALUES)
    if draw(st.integers(0, 9)) == 0:
        document[draw(st.sampled_from(["storage", "top", "workers"]))] = draw(SCALARS)
    return document


def mangle(text: str, where: int, junk: bytes) -> bytes:
    """The document's UTF-8 with ``junk`` spliced in at ``where`` (invalid UTF-8, stray quotes, NULs)."""
    data = text.encode("utf-8")
    cut = where % (len(data) + 1)
    return data[:cut] + junk + data[cut:]


JUNK = st.sampled_from([b"", b"\xff", b"\xc3", b"\x00", b'"', b"[", b"]]", b"=", b"\n[storage]\n", b"\xef\xbb\xbf",
                        b"\\u", b"'''", b"\r", b"\x1b[31m"])
ENVIRONMENTS = st.dictionaries(
    st.sampled_from(list(ENVIRONMENT)),
    # Hypothesis also draws text from this module's string constants: a plain value holding PASSWORD
    # is not a URL's password, and the check below is about those.
    st.one_of(TEXT, URLS).filter(lambda value: PASSWORD not in value) | DB_URLS,
    max_size=3,
)


# --- what a loaded file must satisfy -----------------------------------------------------------

def assert_one_line(error: ConfigError, *origins: str) -> None:
    message = str(error)
    assert message and "\n" not in message and "\r" not in message, repr(message)
    assert message.startswith(tuple(f"{origin}: " for origin in origins)), message
    assert PASSWORD not in message, message


def assert_valid_settings(loaded: Settings) -> None:
    for name, (test, rule) in RANGES.items():
        value = getattr(loaded, name)
        assert math.isfinite(value) and test(value), f"{name} = {value!r} is not {rule}"
    # The bounds of #17.3, stated again here: a worker pool of none, a daemon that never sleeps,
    # and waits no timer or date can hold.
    assert loaded.extract_workers >= 1 and 0 < loaded.tick <= 315_360_000
    for name in SECONDS:
        assert getattr(loaded, name) <= 315_360_000, name
    assert loaded.poll_min_interval <= loaded.poll_max_interval
    for name, schemes in URL_SCHEMES.items():
        url = getattr(loaded, name)
        assert url == "" or url.split("://")[0] in schemes, f"{name} = {url!r}"
    assert "\x00" not in str(loaded.data_dir)
    for name in ("user_agent", "redis_prefix"):
        assert not any(ord(c) < 0x20 or ord(c) == 0x7F for c in getattr(loaded, name)), name


@FUZZ
@given(document=settings_documents(), junk=JUNK, where=st.integers(0, 10_000), env=ENVIRONMENTS)
@example(document={"extract": {"workers": 0}}, junk=b"", where=0, env={})
@example(document={"scheduler": {"tick": -1}}, junk=b"", where=0, env={})
@example(document={"scheduler": {"tick": 1e300, "misfire_grace_time": 2**63 - 1}}, junk=b"", where=0, env={})
@example(document={"crawl": {"download_delay": 1}}, junk=b"\xff", where=5, env={})
@example(document={}, junk=b"", where=0, env={"SYNDICRAWL_DATABASE_URL": f"mysql://u:{PASSWORD}/x@h/db"})
def test_settings_file_loads_within_range_or_is_one_error_line(
    tmp_path: Path, document: dict[str, Any], junk: bytes, where: int, env: dict[str, str]
) -> None:
    path = tmp_path / "settings.toml"
    path.write_bytes(mangle(toml_document(document), where, junk))
    try:
        loaded = load_settings(path, env=env)
    except ConfigError as error:
        assert_one_line(error, str(path), *(f"environment ({variable})" for variable in ENVIRONMENT))
    else:
        assert_valid_settings(loaded)


# --- sources -----------------------------------------------------------------------------------

NAMES = st.sampled_from(["rbn", "a", "a.b-c_d", "A1", "", " ", "-a", "a/b", "a\n", "a b", "é", "x" * 65, "x" * 64]) | TEXT


@st.composite
def source_entries(draw: st.DrawFn) -> dict[str, Any]:
    """One [[source]] table: plausible fields, each now and then wrong."""
    entry: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        entry["name"] = draw(NAMES | st.integers())
    if draw(st.integers(0, 9)):
        entry["kind"] = draw(st.sampled_from(KINDS) | TEXT | st.integers())
    for key in ("feeds", "sitemaps", "start_urls"):
        if draw(st.booleans()):
            entry[key] = draw(st.lists(URLS, max_size=3) | SCALARS)
    if draw(st.integers(0, 3)) == 0:
        entry["allowed_domains"] = draw(st.lists(HOSTS | TEXT, max_size=3) | SCALARS)
    if draw(st.integers(0, 3)) == 0:
        entry["backfill_pages"] = draw(NUMBERS | SCALARS)
    if draw(st.integers(0, 3)) == 0:
        entry["download_delay"] = draw(NUMBERS | SCALARS)
    if draw(st.integers(0, 3)) == 0:
        entry["private_addresses"] = draw(st.booleans() | SCALARS)
    if draw(st.integers(0, 9)) == 0:
        entry[draw(TEXT)] = draw(VALUES)
    return entry


@st.composite
def sources_documents(draw: st.DrawFn) -> str:
    entries = draw(st.lists(source_entries(), max_size=4))
    if entries and draw(st.integers(0, 4)) == 0:
        entries.append(dict(entries[0]))  # a source defined twice
    tables: dict[str, Any] = {}
    if draw(st.integers(0, 9)) == 0:
        tables[draw(st.sampled_from(["sources", "source", "x"]) | TEXT)] = draw(SCALARS)
    return toml_document(tables, {draw(st.sampled_from(["source"] * 9 + ["sources"])): entries})


def assert_valid_sources(path: Path) -> None:
    loaded = load_sources(path)
    assert loaded
    assert len({s.name for s in loaded}) == len(loaded)
    for source in loaded:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", source.name), source.name
        assert source.kind in KINDS
        assert source.urls
        for url in source.urls:
            assert fetch_problem(url) is None, url
        assert source.allowed_domains and all(isinstance(d, str) and d for d in source.allowed_domains)
        assert source.backfill_pages is None or source.backfill_pages >= 0
        assert source.download_delay is None or 0 <= source.download_delay <= 315_360_000
        assert isinstance(source.private_addresses, bool)


@FUZZ
@given(text=sources_documents(), junk=JUNK, where=st.integers(0, 10_000))
@example(text='[[source]]\nname = "a\\n"\nkind = "origin"\nfeeds = ["http://x.test/f"]\n', junk=b"", where=0)
@example(text='[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test:99999/f"]\n', junk=b"", where=0)
@example(text='[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test/f"]\n"b\\nc" = 1\n', junk=b"", where=0)
@example(text='[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test/f"]\n', junk=b"\xff", where=12)
@example(text='[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test/f"]\ndownload_delay = 1e300\n', junk=b"",
         where=0)
def test_sources_file_loads_valid_sources_or_is_one_error_line(
    tmp_path: Path, text: str, junk: bytes, where: int
) -> None:
    path = tmp_path / "sources.toml"
    path.write_bytes(mangle(text, where, junk))
    try:
        assert_valid_sources(path)
    except ConfigError as error:
        assert_one_line(error, str(path))


# --- through the command line ------------------------------------------------------------------

@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test:abc/f"]\n',
         "source #1 'a', field 'feeds': bad port (give a number 1-65535): 'http://x.test:abc/f'"),
        (b'[[source]]\nname = "a\\n"\nkind = "origin"\nfeeds = ["http://x.test/f"]\n',
         "source #1, field 'name': missing or not a plain name (letters, digits, - _ .)"),
        (b"[[source]]\nname = \"\xff\"\n", "not UTF-8 text: byte 19 is b'\\xff'"),
        (b'[[source]]\nname = "a"\nkind = "origin"\nstart_urls = ["http://[::1/"]\n',
         "source #1 'a', field 'start_urls': not an http(s) URL: 'http://[::1/'"),
    ],
)
def test_bad_sources_file_is_one_error_line_and_exit_code_1(tmp_path: Path, body: bytes, reason: str) -> None:
    path = tmp_path / "sources.toml"
    path.write_bytes(body)
    result = CliRunner().invoke(cli, ["sources", "--config", str(path), "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: {reason}")
    assert result.output.count("\n") == 1, result.output
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("body", "env", "origin", "reason"),
    [
        (b"[extract]\nworkers = 0\n", {}, "FILE", "setting 'extract_workers' must be >= 1, got 0"),
        (b"[scheduler]\ntick = 1e999\n", {}, "FILE", "setting 'tick' must be > 0, got inf"),
        (b"[scheduler]\ntick = 1e300\n", {}, "FILE",
         "setting 'tick' must be at most 315360000 seconds (ten years), got 1e+300"),
        (b"[crawl]\n\xfe = 1\n", {}, "FILE", "not UTF-8 text: byte 8 is b'\\xfe'"),
        (b"[crawl]\n\"a\\nb\" = 1\n", {}, "FILE", "unknown setting [crawl] a\\nb"),
        (b"", {"SYNDICRAWL_DATABASE_URL": f"mysql://u:{PASSWORD}@127.0.0.1/db"},
         "environment (SYNDICRAWL_DATABASE_URL)",
         "setting 'database_url' must be a sqlite:// or postgresql+psycopg:// URL, got 'mysql://u:***@127.0.0.1/db'"),
    ],
)
def test_bad_settings_is_one_error_line_and_exit_code_1(
    tmp_path: Path, body: bytes, env: dict[str, str], origin: str, reason: str
) -> None:
    path = tmp_path / "settings.toml"
    path.write_bytes(body)
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://127.0.0.1:9/f"]\n')
    result = CliRunner().invoke(
        cli, ["sources", "--config", str(sources), "--settings", str(path), "--data-dir", str(tmp_path / "data")],
        env=env,
    )
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {str(path) if origin == 'FILE' else origin}: {reason}")
    assert result.output.count("\n") == 1 and PASSWORD not in result.output, result.output


def test_missing_settings_file_is_a_usage_error(tmp_path: Path) -> None:
    """click checks that --settings exists: a usage error, exit code 2, before anything loads."""
    result = CliRunner().invoke(cli, ["stats", "--settings", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert "Error: Invalid value for '--settings'" in result.output
    assert "Traceback" not in result.output


def test_generated_documents_are_read_as_written() -> None:
    """The fuzz's TOML writer is right, so its valid documents test the loader, not the writer."""
    document = {"crawl": {"a b": "x\"\\\n\x00é", "n": [1, -2.5, math.inf], "t": {"k": True}}, "d": date(2020, 1, 2)}
    assert tomllib.loads(toml_document(document)) == document
    assert tomllib.loads(toml_document({"x": datetime(2020, 1, 2, 3, 4, 5)})) == {"x": datetime(2020, 1, 2, 3, 4, 5)}
