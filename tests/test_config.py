"""Settings layering and sources validation: bad config is one clear error, naming file, source, field."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.errors import ConfigError
from syndicrawl.cli import cli
from syndicrawl.settings import RANGES, Settings, load_settings
from syndicrawl.sources import load_sources, select

EXAMPLE = Path(__file__).parents[1] / "config" / "sources.example.toml"


def write(tmp_path: Path, text: str, name: str = "sources.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_example_sources_file_is_valid() -> None:
    sources = load_sources(EXAMPLE)
    assert [(s.name, s.kind) for s in sources] == [("rbn", "repost"), ("lendman", "origin")]
    rbn, lendman = sources
    assert rbn.feeds == ("https://www.republicbroadcasting.org/feed/",)
    assert rbn.backfill_pages == 5 and rbn.download_delay == 2.0
    # allowed_domains defaults to the hosts of the source's URLs
    assert lendman.allowed_domains == ("stephenlendman.org",)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test/f"]\nfeeds_url = 1\n',
         "source #1 'a', field 'feeds_url': unknown key"),
        ('[[source]]\nname = "a"\nkind = "blog"\nfeeds = ["http://x.test/f"]\n',
         "source #1 'a', field 'kind': must be one of origin, repost, unknown, got 'blog'"),
        ('[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["ftp://x.test/f"]\n',
         "source #1 'a', field 'feeds': not an http(s) URL: 'ftp://x.test/f'"),
        ('[[source]]\nname = "a"\nkind = "origin"\n',
         "source #1 'a', field 'feeds': give at least one of feeds, sitemaps, start_urls"),
        ('[[source]]\nkind = "origin"\nfeeds = ["http://x.test/f"]\n',
         "source #1, field 'name': missing"),
        ('[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test/f"]\nbackfill_pages = -1\n',
         "source #1 'a', field 'backfill_pages': must be a whole number >= 0"),
        ('[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test/f"]\n'
         '[[source]]\nname = "a"\nkind = "repost"\nfeeds = ["http://y.test/f"]\n',
         "source 'a' is defined twice"),
        ('[[source]\nname = "a"\n', "invalid TOML"),
        ('sources = []\n', "unknown top-level key 'sources'"),
        ('[[source]]\nname = "a"\nkind = "origin"\nstart_urls = ["http://x.test:99999/"]\n',
         "source #1 'a', field 'start_urls': bad port (give a number 1-65535): 'http://x.test:99999/'"),
        ('[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test:abc/feed"]\n',
         "source #1 'a', field 'feeds': bad port (give a number 1-65535): 'http://x.test:abc/feed'"),
        ('[[source]]\nname = "a"\nkind = "origin"\nsitemaps = ["https://x.test:0/sitemap.xml"]\n',
         "source #1 'a', field 'sitemaps': bad port (give a number 1-65535): 'https://x.test:0/sitemap.xml'"),
        ('[[source]]\nname = "a"\nkind = "origin"\nstart_urls = ["http://[::1/"]\n',
         "source #1 'a', field 'start_urls': not an http(s) URL: 'http://[::1/'"),
        ('[[source]]\nname = "a"\nkind = "origin"\nstart_urls = ["http:///news"]\n',
         "source #1 'a', field 'start_urls': not an http(s) URL: 'http:///news'"),
        ('[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["javascript:void(0)"]\n',
         "source #1 'a', field 'feeds': not an http(s) URL: 'javascript:void(0)'"),
        ('[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://x.test/f"]\ndownload_delay = inf\n',
         "source #1 'a', field 'download_delay': must be a number of seconds >= 0"),
    ],
)
def test_bad_sources_file_names_file_source_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as error:
        load_sources(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)


def test_select_unknown_source_is_an_error(tmp_path: Path) -> None:
    sources = load_sources(EXAMPLE)
    assert [s.name for s in select(sources, ["lendman"], EXAMPLE)] == ["lendman"]
    with pytest.raises(ConfigError, match="no source named 'nope' \\(known: rbn, lendman\\)"):
        select(sources, ["nope"], EXAMPLE)


def test_settings_layers_and_origins(tmp_path: Path) -> None:
    settings_file = write(tmp_path, "[crawl]\ndownload_delay = 3\n[extract]\nworkers = 1\n", "settings.toml")
    settings = load_settings(
        settings_file,
        env={"SYNDICRAWL_DATA_DIR": str(tmp_path / "env-data"), "UNRELATED": "x"},
        overrides={"download_delay": 0.25, "data_dir": None},
    )
    assert settings.download_delay == 0.25 and settings.origins["download_delay"] == "command line"
    assert settings.extract_workers == 1 and settings.origins["extract_workers"] == str(settings_file)
    assert settings.data_dir == tmp_path / "env-data"
    assert settings.origins["data_dir"] == "environment (SYNDICRAWL_DATA_DIR)"
    assert settings.db_url == f"sqlite:///{tmp_path / 'env-data' / 'syndicrawl.sqlite3'}"
    assert settings.warc_dir == tmp_path / "env-data" / "warcs"
    assert settings.origins["warc_max_size"] == "default" and settings.warc_max_size == 1_000_000_000


def test_database_url_from_environment_wins_over_sqlite(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    settings = load_settings(env={"SYNDICRAWL_DATABASE_URL": url})
    assert settings.db_url == url


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[crawl]\ndownload_dely = 1\n", "unknown setting [crawl] download_dely"),
        ("[crawl]\ndownload_delay = 'slow'\n", "setting 'download_delay' must be float, got 'slow'"),
        ("[extract]\nfast = 1\n", "setting 'extract_fast' must be bool, got 1"),
        ("[extract]\nworkers = 0\n", "setting 'extract_workers' must be >= 1, got 0"),
        ("[scheduler]\ntick = -1\n", "setting 'tick' must be > 0, got -1.0"),
        ("[scheduler]\ntick = nan\n", "setting 'tick' must be > 0, got nan"),
        ("[crawl]\ndownload_timeout = 0\n", "setting 'download_timeout' must be > 0, got 0.0"),
        ("[crawl]\nconcurrent_requests = 0\n", "setting 'concurrent_requests' must be >= 1, got 0"),
        ("[crawl]\ndownload_delay = inf\n", "setting 'download_delay' must be >= 0, got inf"),
        ("[storage]\nwarc_max_size = -5\n", "setting 'warc_max_size' must be >= 1, got -5"),
        ("[scheduler]\nlock_ttl = 0\n", "setting 'lock_ttl' must be > 0, got 0.0"),
        ("[scheduler]\npoll_jitter = 1\n", "setting 'poll_jitter' must be in [0, 1), got 1.0"),
        ("[scheduler]\npoll_min_interval = 100\npoll_max_interval = 50\n",
         "setting 'poll_min_interval' must be <= poll_max_interval (50.0), got 100.0"),
    ],
)
def test_bad_settings_file(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body, "settings.toml")
    with pytest.raises(ConfigError) as error:
        load_settings(path, env={})
    assert str(error.value) == f"{path}: {message}"


def test_every_numeric_setting_has_a_range_and_its_declared_type() -> None:
    numeric = {f.name for f in fields(Settings) if f.type in {"int", "float"}}
    assert numeric == set(RANGES)
    defaults = load_settings(None, env={})
    # A default of the wrong type makes the type check refuse good values (download_timeout = 2.5).
    assert {f.name: type(getattr(defaults, f.name)).__name__ for f in fields(Settings) if f.name in numeric} == {
        f.name: f.type for f in fields(Settings) if f.name in numeric
    }


def test_out_of_range_flag_names_the_command_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(None, env={}, overrides={"download_delay": -1.0})
    assert str(error.value) == "command line: setting 'download_delay' must be >= 0, got -1.0"


def test_bad_setting_is_one_error_line_before_the_crawl(tmp_path: Path) -> None:
    settings_file = write(tmp_path, "[extract]\nworkers = 0\n", "settings.toml")
    sources_file = write(tmp_path, '[[source]]\nname = "a"\nkind = "origin"\nfeeds = ["http://127.0.0.1:9/f"]\n')
    data_dir = tmp_path / "data"
    result = CliRunner().invoke(
        cli, ["crawl", "--config", str(sources_file), "--settings", str(settings_file), "--data-dir", str(data_dir)]
    )
    assert result.exit_code == 1
    assert result.output == f"Error: {settings_file}: setting 'extract_workers' must be >= 1, got 0\n"
    assert not data_dir.exists()


@pytest.mark.parametrize(
    ("variable", "url", "message"),
    [
        ("SYNDICRAWL_DATABASE_URL", "garbage",
         "setting 'database_url' must be a sqlite:// or postgresql+psycopg:// URL, got 'garbage'"),
        ("SYNDICRAWL_DATABASE_URL", "mysql://bob:s3cret@127.0.0.1/db",
         "setting 'database_url' must be a sqlite:// or postgresql+psycopg:// URL, got 'mysql://bob:***@127.0.0.1/db'"),
        ("SYNDICRAWL_REDIS_URL", "http://:s3cret@127.0.0.1:6379/0",
         "setting 'redis_url' must be a redis:// or rediss:// or unix:// URL, got 'http://:***@127.0.0.1:6379/0'"),
    ],
)
def test_bad_database_or_redis_url_is_one_line_without_its_password(
    tmp_path: Path, variable: str, url: str, message: str
) -> None:
    result = CliRunner().invoke(cli, ["stats", "--data-dir", str(tmp_path / "data")], env={variable: url})
    assert result.exit_code == 1
    assert result.output == f"Error: environment ({variable}): {message}\n"


@pytest.mark.postgres
def test_messages_naming_the_database_mask_its_password(tmp_path: Path, postgres_url: str) -> None:
    # PostgreSQL here trusts loopback, so any password connects.
    with_password = postgres_url.replace("postgresql+psycopg://postgres@", "postgresql+psycopg://postgres:s3cret@")
    assert "s3cret" in with_password
    env = {"SYNDICRAWL_DATABASE_URL": with_password}
    empty = CliRunner().invoke(cli, ["stats", "--data-dir", str(tmp_path)], env=env)
    assert empty.output.startswith("Error: no syndicrawl archive in the database postgresql+psycopg://postgres:***@")
    assert CliRunner().invoke(cli, ["db", "upgrade", "--data-dir", str(tmp_path)], env=env).exit_code == 0
    result = CliRunner().invoke(
        cli, ["captures", "http://127.0.0.1:9/nothing/", "--data-dir", str(tmp_path)], env=env
    )
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: http://127.0.0.1:9/nothing/: no captures in postgresql+psycopg://postgres:***@")
    assert "s3cret" not in result.output
