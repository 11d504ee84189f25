"""``syndicrawl export articles``: a crawled origin and an imported copy, out as CSV, JSON lines and Parquet."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

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
    assert table.to_pylist() == [json.loads(line) for line in export(archive, "--with-text").splitlines()]
