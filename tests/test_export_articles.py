"""``syndicrawl export articles``: a crawled origin and an imported copy, out as CSV, JSON lines and Parquet."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from archive.db import pages
from archive.ingest.extract import text_hash
from archive.warc.records import read_record
from syndicrawl.demo.sites import blogger_site
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.servers import WORDPRESS_POSTS
from tests.warcs import html_response, record_bytes

POST = WORDPRESS_POSTS[-1]  # in the gazette's feed, so crawled
COPYCAT = blogger_site("Copycat Daily", [POST], base_url="http://copycat.test")
COPY_URL = COPYCAT.permalink(POST)


@dataclass
class Archive:
    data: Path
    env: dict[str, str]
    original: str
    copy_offset: int


@pytest.fixture
def archive(tmp_path: Path, db_url: str, wordpress_server, fast_settings: Path) -> Archive:
    """The gazette crawled (an origin site), then a WARC of the copycat's repost imported."""
    data, env = tmp_path / "data", {"SYNDICRAWL_DATABASE_URL": db_url}
    sources = write_sources(tmp_path / "sources.toml", [{"name": "gazette", "kind": "origin",
                                                         "feeds": [wordpress_server.url("/feed/")]}])
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=data, settings=fast_settings, env=env)
    assert result.returncode == 0, result.stderr
    warc = tmp_path / "copycat.warc.gz"
    page = COPYCAT.reply_for(COPYCAT.path(POST)).body
    warc.write_bytes(record_bytes(html_response(COPY_URL, "2016-10-02T08:00:00Z", page)))
    result = run_syndicrawl("import", str(warc), "--source", "copycat", data_dir=data, settings=fast_settings, env=env)
    assert result.returncode == 0, result.stderr
    return Archive(data, env, wordpress_server.site.permalink(POST), 0)


def export(archive: Archive, *args: str) -> str:
    result = run_syndicrawl("export", "articles", *args, data_dir=archive.data, env=archive.env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_csv_rows_locate_each_article_and_place_it_in_its_cluster(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "articles.csv"
    result = run_syndicrawl("export", "articles", "--format", "csv", "--out", str(out), data_dir=archive.data,
                            env=archive.env)
    assert result.returncode == 0, result.stderr
    rows = {row["url"]: row for row in csv.DictReader(io.StringIO(out.read_text(encoding="utf-8")))}
    assert result.stderr == f"Wrote {len(rows)} rows to {out}\n"
    assert len(rows) == 4  # the gazette's three feed entries, the copy
    copy, original = rows[COPY_URL], rows[archive.original]
    assert {key: copy[key] for key in ("title", "published", "published_source", "site", "relation", "parent_url",
                                       "origin_url", "warc_file", "warc_offset", "first_captured")} == {
        "title": POST.title,
        "published": "2016-09-30",
        "published_source": "page",
        "site": "copycat",
        "relation": "copy",
        "parent_url": archive.original,
        "origin_url": archive.original,
        "warc_file": "copycat.warc.gz",
        "warc_offset": str(archive.copy_offset),
        "first_captured": "2016-10-02T08:00:00+00:00",
    }
    assert (original["relation"], original["site"], original["site_kind"]) == ("origin", "gazette", "origin")
    assert original["cluster_id"] == copy["cluster_id"] and original["author"] == POST.author
    assert 0.6 <= float(copy["similarity"]) <= 1.0
    others = [row for url, row in rows.items() if url not in {COPY_URL, archive.original}]
    assert {row["relation"] for row in others} == {"unique"} and len({row["cluster_id"] for row in others}) == 2
    for row in rows.values():  # each row leads to its page's record
        with read_record(archive.data / "warcs" / row["warc_file"], int(row["warc_offset"])) as record:
            assert record.rec_headers.get_header("WARC-Target-URI") == row["url"]


def test_both_exports_say_what_the_copy_changed_in_its_parent(archive: Archive, tmp_path: Path) -> None:
    """A researcher filters copies by how much of the original they kept without diffing each:
    the copy's edit summary is in ``export articles`` and ``clusters export`` alike."""
    out = tmp_path / "clusters.jsonl"
    result = run_syndicrawl("clusters", "export", "--format", "jsonl", "--out", str(out), data_dir=archive.data,
                            env=archive.env)
    assert result.returncode == 0, result.stderr
    clustered = {row["url"]: row for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    articles = {row["url"]: row for row in map(json.loads, export(archive).splitlines())}
    copy = clustered[COPY_URL]
    assert (json.loads(copy["edit_summary"]), copy["text_kept"]) == ({}, 1.0)  # the repost is word for word
    assert (articles[COPY_URL]["edit_summary"], articles[COPY_URL]["text_kept"]) == (
        copy["edit_summary"], copy["text_kept"])
    original = clustered[archive.original]
    assert (original["edit_summary"], original["text_kept"]) == (None, None)  # it copies nothing
    assert list(copy)[-2:] == list(articles[COPY_URL])[-2:] == ["edit_summary", "text_kept"]


def test_jsonl_with_text_of_one_source(archive: Archive) -> None:
    lines = export(archive, "--source", "copycat", "--with-text").splitlines()
    [row] = [json.loads(line) for line in lines]
    assert row["url"] == COPY_URL and row["site"] == "copycat"
    assert "Councillors voted seven to five on Friday evening" in row["text"]
    assert row["text_hash"] == text_hash(row["text"])
    assert "text" not in json.loads(export(archive).splitlines()[0])
    result = run_syndicrawl("export", "articles", "--source", "nobody", data_dir=archive.data, env=archive.env)
    assert (result.returncode, result.stderr) == (1, "Error: --source nobody: no such source in the archive\n")


def test_parquet_holds_the_jsonl_rows(archive: Archive, tmp_path: Path) -> None:
    out = tmp_path / "articles.parquet"
    result = run_syndicrawl("export", "articles", "--format", "parquet", "--out", str(out), "--with-text",
                            data_dir=archive.data, env=archive.env)
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    assert table.column_names[-1] == "text" and table.column_names[0] == "url"
    as_text = [{key: value.isoformat() if isinstance(value, date) else value for key, value in row.items()}
               for row in table.to_pylist()]
    assert as_text == [json.loads(line) for line in export(archive, "--with-text").splitlines()]


#: The types every ``export articles`` Parquet file has, whatever its rows.
ARTICLE_TYPES = {
    "published": pa.string(), "published_date": pa.date32(), "published_time": pa.timestamp("us", tz="UTC"),
    "first_captured": pa.timestamp("us", tz="UTC"), "captured": pa.timestamp("us", tz="UTC"),
    "warc_offset": pa.int64(), "cluster_id": pa.int64(), "similarity": pa.float64(), "parent_url": pa.string(),
    "edit_summary": pa.string(), "text_kept": pa.float64(),
}


def test_parquet_exports_of_different_sources_read_as_one_dataset(archive: Archive, tmp_path: Path) -> None:
    """The gazette's file has no parent_url or similarity at all (all null), the copycat's has: same schema."""
    files = []
    for source in ("gazette", "copycat"):
        files.append(tmp_path / f"{source}.parquet")
        result = run_syndicrawl("export", "articles", "--source", source, "--format", "parquet", "--out",
                                str(files[-1]), data_dir=archive.data, env=archive.env)
        assert result.returncode == 0, result.stderr
    gazette, copycat = (pq.read_schema(file) for file in files)
    assert gazette == copycat
    assert {name: gazette.field(name).type for name in ARTICLE_TYPES} == ARTICLE_TYPES
    assert pq.read_table(files[0]).column("parent_url").null_count == 3
    assert pq.read_table(files[0]).column("edit_summary").null_count == 3
    rows = {row["url"]: row for row in ds.dataset([str(file) for file in files]).to_table().to_pylist()}
    assert len(rows) == 4 and rows[COPY_URL]["parent_url"] == archive.original
    copy = rows[COPY_URL]
    assert copy["captured"] == datetime(2016, 10, 2, 8, tzinfo=UTC) == copy["first_captured"]
    # The gazette's pages state their minute in their own zone: the day as stated, the instant in UTC.
    original = rows[archive.original]
    assert original["published_date"] == date.fromisoformat(original["published"][:10])
    assert original["published_time"] == datetime.fromisoformat(original["published"]).astimezone(UTC)


def test_duckdb_reads_the_parquet_types(archive: Archive, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb", reason="duckdb is not installed (pip install duckdb)")
    out = tmp_path / "articles.parquet"
    result = run_syndicrawl("export", "articles", "--source", "gazette", "--format", "parquet", "--out", str(out),
                            data_dir=archive.data, env=archive.env)
    assert result.returncode == 0, result.stderr
    described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{out}')").fetchall()
    types = {name: kind for name, kind, *_ in described}
    assert {name: types[name] for name in ARTICLE_TYPES} == {
        "published": "VARCHAR", "published_date": "DATE", "published_time": "TIMESTAMP WITH TIME ZONE",
        "first_captured": "TIMESTAMP WITH TIME ZONE", "captured": "TIMESTAMP WITH TIME ZONE",
        "warc_offset": "BIGINT", "cluster_id": "BIGINT", "similarity": "DOUBLE", "parent_url": "VARCHAR",
        "edit_summary": "VARCHAR", "text_kept": "DOUBLE",
    }
    [(pages,)] = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{out}') WHERE published_date >= DATE '2016-09-01'"
    ).fetchall()
    assert pages == 3


@pytest.mark.parametrize("value, day, moment", [
    ("2016-11-01", date(2016, 11, 1), None),
    ("2016-11-01T23:30:00-05:00", date(2016, 11, 1), datetime(2016, 11, 2, 4, 30, tzinfo=UTC)),
    ("2016-11-01T15:22:00+00:00", date(2016, 11, 1), datetime(2016, 11, 1, 15, 22, tzinfo=UTC)),
    ("2016-11-01T15:22:00", date(2016, 11, 1), datetime(2016, 11, 1, 15, 22, tzinfo=UTC)),  # a sitemap's lastmod
    ("2016-11", None, None),  # a month from the URL's path: no day to give
    ("2016-13-01", None, None),
    (None, None, None),
])
def test_published_gives_the_day_stated_and_the_instant(value: str | None, day: date | None,
                                                        moment: datetime | None) -> None:
    assert pages.published_parts(value) == (day, moment)
