"""Settings layering and sources validation: bad config is one clear error, naming file, source, field."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.errors import ConfigError
from syndicrawl.settings import load_settings
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
    ],
)
def test_bad_settings_file(tmp_path: Path, body: str, message: str) -> None:
    path = write(tmp_path, body, "settings.toml")
    with pytest.raises(ConfigError) as error:
        load_settings(path, env={})
    assert str(error.value) == f"{path}: {message}"
