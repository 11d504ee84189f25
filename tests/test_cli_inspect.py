"""The read-only commands over a real crawl: sources, captures, article, stats, db upgrade."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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
    assert f"published: {post.published.isoformat()}\npublished_source: page\n" in out  # as the page states it
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
    assert int(cells[2]) == 3  # pages: the feed lists the newest 3 posts
    assert int(cells[3]) > 3  # captures: the feed, robots.txt, the pages...
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


READ_COMMANDS = [
    ("stats",),
    ("sources", "--config", "{sources}"),
    ("captures", "http://127.0.0.1:1/a/"),
    ("article", "http://127.0.0.1:1/a/"),
    ("chain", "http://127.0.0.1:1/a/"),
    ("clusters",),
    ("clusters", "export", "--format", "csv"),
    ("feeds", "status"),
    ("snapshot", "http://127.0.0.1:1/a/"),
    ("export", "articles", "--format", "csv"),
    ("export", "wacz", "--out", "{tmp}/out.wacz"),
    ("serve", "--port", "0"),
    ("index", "rebuild"),
    ("dedup", "rebuild"),
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=[" ".join(c[:2]) for c in READ_COMMANDS])
def test_a_directory_without_an_archive_is_refused_and_left_alone(crawled, tmp_path, command) -> None:
    """A mistyped --data-dir made a directory and an empty database; another tool's directory
    (a pywb collection) lost its index.cdxj to `index rebuild`. Now: one line, nothing touched."""
    _, sources = crawled
    args = [arg.format(sources=sources, tmp=tmp_path) for arg in command]
    mistyped = tmp_path / "syndicrawl-dta"
    result = run_syndicrawl(*args, data_dir=mistyped, timeout=60)
    assert (result.returncode, result.stderr) == (1, f"Error: no archive at {mistyped}\n")
    assert not mistyped.exists()

    pywb = tmp_path / "collections" / "news"
    (pywb / "archive").mkdir(parents=True)
    (pywb / "indexes").mkdir()
    index = pywb / "indexes" / "index.cdxj"
    index.write_text('org,example)/ 20240101000000 {"url": "http://example.org/", "filename": "a.warc.gz"}\n')
    result = run_syndicrawl(*args, data_dir=pywb, timeout=60)
    assert (result.returncode, result.stderr) == (1, f"Error: no archive at {pywb}\n")
    assert sorted(p.relative_to(pywb).as_posix() for p in pywb.rglob("*")) == ["archive", "indexes", "indexes/index.cdxj"]


@pytest.fixture
def read_only_copy(crawled) -> Iterator[Path]:
    """The crawled archive (and its sources file) copied where another user can reach it, every
    file and directory of it read-only, as an archive of another user's is to this one."""
    data, sources = crawled
    parent = Path(tempfile.mkdtemp(prefix="syndicrawl-ro-"))
    parent.chmod(0o755)
    shutil.copy(sources, parent / "sources.toml")
    copy = parent / "data"
    shutil.copytree(data, copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    yield copy
    for path in [copy, *copy.rglob("*")]:
        path.chmod(0o755)
    shutil.rmtree(parent)


def as_another_user(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """``syndicrawl ARGS`` as user nobody when the tests run as root, whom file modes do not bind."""
    if os.geteuid() != 0:
        return run_syndicrawl(*args, data_dir=data_dir)
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: file modes cannot be tested")
    command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
               sys.executable, "-m", "syndicrawl", *args, "--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": "/"},
                          check=False)


def test_read_commands_read_an_archive_they_cannot_write(read_only_copy, wordpress_server) -> None:
    """Reads on another user's archive failed with 'attempt to write a readonly database'."""
    sources = read_only_copy.parent / "sources.toml"
    before = {p: p.read_bytes() for p in read_only_copy.rglob("*") if p.is_file()}
    url = wordpress_server.site.permalink(wordpress_server.site.posts[0])
    for args, expected in [
        (("stats",), "gazette"),
        (("sources", "--config", str(sources)), "finished"),
        (("captures", url), "│ 200    │ response │ gazette-"),
        (("article", url), f"url: {url}\n"),
        (("export", "articles", "--format", "csv"), url),
    ]:
        result = as_another_user(*args, data_dir=read_only_copy)
        assert result.returncode == 0, (args, result.stderr)
        assert expected in result.stdout, (args, result.stdout)
    assert {p: p.read_bytes() for p in read_only_copy.rglob("*") if p.is_file()} == before
