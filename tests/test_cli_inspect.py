"""The read-only commands over a real crawl: sources, captures, article, stats, db upgrade."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from syndicrawl.cli import cli
from tests.fixtures.cli import run_syndicrawl, write_sources


@pytest.fixture(scope="module")
def crawled(tmp_path_factory, wordpress_server, fast_settings) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("inspect")
    sources = write_sources(
        tmp / "sources.toml",
        [
            {"name": "gazette", "kind": "repost", "feeds": [wordpress_server.url("/feed/")]},
            {"name": "elsewhere", "kind": "origin", "feeds": ["http://127.0.0.1:9/feed/"]},
        ],
    )
    result = run_syndicrawl("crawl", "--config", str(sources), "gazette", data_dir=tmp / "data", settings=fast_settings)
    assert result.returncode == 0, result.stderr
    return tmp / "data", sources


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_captures_lists_each_capture_with_its_warc_location(crawled, wordpress_server) -> None:
    data, _ = crawled
    url = wordpress_server.site.permalink(wordpress_server.site.posts[0])
    code, out = invoke("captures", url, "--data-dir", str(data))
    assert code == 0, out
    lines = out.splitlines()
    assert "timestamp (UTC)" in lines[1] and "WARC file" in lines[1] and "offset" in lines[1]
    row = lines[3]
    assert "│ 200    │ response │ gazette-" in row and ".warc.gz │" in row


def test_captures_of_an_unknown_url_is_one_error_line(crawled) -> None:
    data, _ = crawled
    code, out = invoke("captures", "http://127.0.0.1:1/nope/", "--data-dir", str(data))
    assert code == 1
    assert out == f"Error: http://127.0.0.1:1/nope/: no captures in sqlite:///{data.resolve()}/syndicrawl.sqlite3\n"


def test_article_shows_metadata_and_text(crawled, wordpress_server) -> None:
    data, _ = crawled
    post = wordpress_server.site.posts[0]
    url = wordpress_server.site.permalink(post)
    code, out = invoke("article", url, "--data-dir", str(data))
    assert code == 0, out
    assert f"url: {url}\n" in out and f"title: {post.title}\n" in out and f"author: {post.author}\n" in out
    assert f"published: {post.published.date().isoformat()}\npublished_source: page\n" in out
    code, out = invoke("article", url, "--json", "--data-dir", str(data))
    fields = json.loads(out)
    assert fields["title"] == post.title and fields["status"] == "ok" and len(fields["text"]) > 200
    assert fields["warc_file"].startswith("gazette-") and fields["warc_offset"] > 0


def test_article_matches_url_variants(crawled, wordpress_server) -> None:
    data, _ = crawled
    url = wordpress_server.site.permalink(wordpress_server.site.posts[0])
    code, out = invoke("article", url + "#comments", "--json", "--data-dir", str(data))
    assert code == 0 and json.loads(out)["url"] == url


def test_stats_counts_per_source(crawled) -> None:
    data, _ = crawled
    code, out = invoke("stats", "--data-dir", str(data))
    assert code == 0, out
    row = next(line for line in out.splitlines() if "gazette" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[:2] == ["gazette", "repost"]
    assert int(cells[3]) == 3  # the feed lists the newest 3 posts
    assert cells[4] == "0" and cells[6] == "1" and cells[7].endswith("finished")


def test_sources_shows_configured_sources_and_last_crawl(crawled) -> None:
    data, sources = crawled
    code, out = invoke("sources", "--config", str(sources), "--data-dir", str(data))
    assert code == 0, out
    gazette = next(line for line in out.splitlines() if "gazette" in line)
    elsewhere = next(line for line in out.splitlines() if "elsewhere" in line)
    assert "repost" in gazette and "finished" in gazette
    assert "never crawled" in elsewhere


def test_db_upgrade_is_idempotent(tmp_path) -> None:
    code, out = invoke("db", "upgrade", "--data-dir", str(tmp_path))
    assert code == 0 and out.startswith("Database upgraded from empty to revision ")
    code, out = invoke("db", "upgrade", "--data-dir", str(tmp_path))
    assert code == 0 and out.startswith("Database is up to date (revision ")


def test_unreachable_database_is_one_error_line(tmp_path) -> None:
    result = CliRunner().invoke(
        cli, ["stats"], env={"SYNDICRAWL_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    assert result.exit_code == 1
    assert result.output.startswith("Error: database ") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
