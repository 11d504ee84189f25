"""Whole crawls of WordPress-like and Blogger-like sites through the real CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from archive.db import catalog
from archive.db.engine import Database, sqlite_url
from archive.db.models import Article, Capture
from syndicrawl import exitcodes
from tests.fixtures.cli import run_syndicrawl, write_sources
from tests.fixtures.servers import BLOGGER_POSTS, WORDPRESS_POSTS
from tests.warcs import read_warcs


def articles_by_url(url: str) -> dict[str, Article]:
    db = Database(url)
    with db.session() as s:
        rows = {a.url: a for a in s.scalars(select(Article))}
    db.dispose()
    return rows


def test_wordpress_feed_and_archive_pages_reach_every_post(tmp_path, wordpress_server, fast_settings, db_url):
    """The feed lists 3 posts; /page/N/ backfill finds the other 5. Same result on both databases."""
    site = wordpress_server.site
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "gazette", "kind": "repost", "feeds": [wordpress_server.url("/feed/")],
          "start_urls": [wordpress_server.url("/")], "backfill_pages": 5}],
    )
    env = {"SYNDICRAWL_DATABASE_URL": db_url}
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp_path / "data",
                            settings=fast_settings, env=env)
    assert result.returncode == 0, result.stderr
    articles = articles_by_url(db_url)
    permalinks = {site.permalink(post) for post in WORDPRESS_POSTS}
    assert permalinks <= articles.keys()
    for post in WORDPRESS_POSTS:
        article = articles[site.permalink(post)]
        assert article.status == "ok"
        assert article.title == post.title
        assert article.author == post.author
        assert article.published == post.published.isoformat() and article.published_source == "page"  # as stated
        assert len(article.text) > 200 and article.text_hash
    # the SQLite file is not created when the database is elsewhere
    assert not (tmp_path / "data" / "syndicrawl.sqlite3").exists() or db_url.startswith("sqlite")


def test_blogger_feed_only_source_backfills_through_updated_max(tmp_path, blogger_server, fast_settings):
    site = blogger_server.site
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "diary", "kind": "origin", "feeds": [blogger_server.url("/feeds/posts/default")],
          "backfill_pages": 3}],
    )
    data = tmp_path / "data"
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=data, settings=fast_settings)
    assert result.returncode == 0, result.stderr
    articles = articles_by_url(sqlite_url(data))
    assert {site.permalink(post) for post in BLOGGER_POSTS} <= articles.keys()
    listing_urls = {r.url for r in read_warcs(data / "warcs") if "updated-max=" in r.url}
    assert listing_urls, "older pages were reached through Blogger's updated-max links"


def test_second_crawl_stores_revisits_for_unchanged_pages(tmp_path, blogger_server, fast_settings):
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "diary", "kind": "origin", "feeds": [blogger_server.url("/feeds/posts/default")]}],
    )
    data = tmp_path / "data"
    for _ in range(2):
        result = run_syndicrawl("crawl", "--config", str(sources), data_dir=data, settings=fast_settings)
        assert result.returncode == 0, result.stderr
    url = blogger_server.site.permalink(blogger_server.site.posts[0])  # newest: in the feed
    db = Database(sqlite_url(data))
    with db.session() as s:
        first, second = catalog.captures_for_url(s, url)
        crawls = s.scalars(select(Capture.crawl_id).distinct()).all()
    db.dispose()
    assert len(crawls) == 2
    assert first.revisit_of is None and second.revisit_of == first.id
    assert second.payload_digest == first.payload_digest
    revisit = next(r for r in read_warcs(data / "warcs") if r.type == "revisit" and r.url == url)
    assert revisit.warc_headers.get_header("WARC-Profile") == (
        "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest")
    assert revisit.warc_headers.get_header("WARC-Refers-To-Target-URI") == url
    assert revisit.warc_headers.get_header("WARC-Refers-To") == first.record_id
    assert revisit.body == b""
    shown = run_syndicrawl("captures", url, data_dir=data)
    assert shown.returncode == 0 and f"revisit of #{first.id}" in shown.stdout


def test_config_error_is_one_line_and_nothing_is_crawled(tmp_path, wordpress_server):
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "x"\nkind = "blog"\nfeeds = ["{wordpress_server.url("/feed/")}"]\n')
    wordpress_server.clear_requests()
    result = run_syndicrawl("crawl", "--config", str(sources), data_dir=tmp_path / "data")
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {sources}: source #1 'x', field 'kind': must be one of origin, repost, unknown, got 'blog'\n"
    )
    assert wordpress_server.requests == []
    assert not (tmp_path / "data" / "warcs").exists()


def test_missing_sources_file_names_the_example(tmp_path):
    result = run_syndicrawl("crawl", "--config", str(tmp_path / "nope.toml"), data_dir=tmp_path / "data")
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: {tmp_path / 'nope.toml'}: no such sources file; "
        "give --config FILE (example: config/sources.example.toml)"
    )


def test_demo_crawls_both_bundled_sites(tmp_path):
    """The README's first command: offline, both sites archived, every article extracted."""
    data = tmp_path / "demo"
    result = run_syndicrawl("demo", "--port", "0", data_dir=data)
    assert result.returncode == 0, result.stderr
    assert "lendman-blog │ finished" in result.stdout and "rbn          │ finished" in result.stdout
    articles = articles_by_url(sqlite_url(data))
    assert len([a for a in articles.values() if a.status == "ok"]) == 20
    rbn_copy = next(a for a in articles.values() if "RBN" in (a.sitename or "") and "Aleppo Siege" in (a.title or ""))
    assert "He can be reached at" in rbn_copy.text
    warcs = sorted((data / "warcs").iterdir())
    # the blog twice: its crawl, then its recrawl after the demo's stealth edit (issue #19)
    assert [p.name.split("-2")[0] for p in warcs] == ["lendman-blog", "lendman-blog", "rbn"]
    warcio = Path(sys.executable).parent / "warcio"

    for path in warcs:
        assert subprocess.run([str(warcio), "check", str(path)], check=False).returncode == 0
    # a second run starts from a fresh data directory
    again = run_syndicrawl("demo", "--port", "0", data_dir=data)
    assert again.returncode == 0, again.stderr
    assert len(articles_by_url(sqlite_url(data))) == len(articles)


def test_demo_uses_an_empty_data_directory_it_is_given(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_syndicrawl("demo", "--port", "0", data_dir=empty)
    assert result.returncode == 0, result.stderr
    assert f"Archive written to {empty}/" in result.stdout
    assert list((empty / "warcs").glob("*.warc.gz"))


def test_demo_refuses_a_data_directory_it_did_not_make(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    result = run_syndicrawl("demo", "--port", "0", data_dir=tmp_path)
    assert result.returncode == 1
    assert "exists and is not a demo data directory" in result.stderr
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    "signum", ["SIGINT", "SIGTERM"], ids=["ctrl-c-to-the-process-group", "sigterm-to-the-process-group"]
)
def test_interrupted_crawl_closes_its_files_and_says_so(tmp_path, blogger_server, signum):
    """Ctrl-C, or SIGTERM as `timeout` and systemd send it, to the crawl's whole process group (its
    archive writer too: SIGTERM killed it, leaving every WARC '.open', no index and the crawl
    'running'): Scrapy stops gracefully, every WARC is closed, whole and indexed, the crawl is
    marked interrupted."""
    import os
    import signal
    import time

    from archive.warc.cdxj import index_name
    from archive.warc.records import verify_file

    slow = tmp_path / "slow.toml"
    slow.write_text("[crawl]\ndownload_delay = 1.0\nautothrottle = false\n")
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "diary", "kind": "origin", "feeds": [blogger_server.url("/feeds/posts/default")]}],
    )
    data = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources), "--data-dir", str(data),
         "--settings", str(slow)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ, start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not list((data / "warcs").glob("*.open")) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(process.pid, getattr(signal, signum))
    out, err = process.communicate(timeout=60)
    assert process.returncode == exitcodes.INTERRUPTED, err
    assert re.search(r"│ diary +│ interrupted +│", out), out
    files = list((data / "warcs").iterdir())
    assert files and all(p.name.endswith(".warc.gz") for p in files)
    assert all(verify_file(p) > 0 for p in files)
    assert all((data / "indexes" / index_name(p.name)).is_file() for p in files)
    db = Database(sqlite_url(data))
    with db.session() as s:
        [summary] = catalog.source_summaries(s)
    db.dispose()
    assert summary.last_crawl_status == "interrupted" and summary.captures >= 1


def test_a_sigterm_leaves_the_sources_not_yet_started_interrupted_not_failed(tmp_path, blogger_server):
    """With one source at a time, a SIGTERM while the first crawls must not start the second,
    and neither is a failure: Scrapy's own signal handler let the next source start, the
    reactor then stopped under it, and the crawl exited 4 (a source failed) instead of 5."""
    import os
    import signal
    import time

    slow = tmp_path / "slow.toml"
    slow.write_text("[crawl]\ndownload_delay = 1.0\nautothrottle = false\nsources_at_once = 1\n")
    feed = blogger_server.url("/feeds/posts/default")
    sources = write_sources(tmp_path / "sources.toml", [{"name": name, "kind": "origin", "feeds": [feed]}
                                                        for name in ("first", "second")])  # fmt: skip
    data = tmp_path / "data"
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicrawl", "crawl", "--config", str(sources), "--data-dir", str(data),
         "--settings", str(slow)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list((data / "warcs").glob("first-*.open")) and time.monotonic() < deadline:
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == exitcodes.INTERRUPTED, out + err
    assert re.search(r"│ first +│ interrupted +│", out) and re.search(r"│ second +│ interrupted +│", out), out
    assert not list((data / "warcs").glob("second-*")), "the second source started after the SIGTERM"


@pytest.mark.parametrize(
    "moment",
    [
        ("scrapy.crawler", "Crawler", "_apply_settings"),
        ("crawler.channel", "ArchiveChannel", "wait_ready"),
        ("scrapy.crawler", "CrawlerProcess", "_setup_reactor"),  # the reactor runs next, its crawlers not yet
    ],
    ids=["as-scrapy-sets-up", "as-the-writer-gets-ready", "as-the-reactor-starts"],
)
def test_ctrl_c_while_the_crawl_starts_up_stops_it_before_any_fetch(tmp_path, blogger_server, moment):
    """Ctrl-C before the reactor runs was a KeyboardInterrupt wherever start-up was: inside Scrapy's
    set-up its Deferreds caught it (then a traceback, or a crawl run to its end); elsewhere the
    command aborted without a summary. Now the crawl stops before it fetches, and says so."""
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "diary", "kind": "origin", "feeds": [blogger_server.url("/feeds/posts/default")]}],
    )
    data = tmp_path / "data"
    module, cls, method = moment
    # The real command, with the Ctrl-C delivered at that moment of its start-up.
    ctrl_c_at_start = (
        "import os, signal, sys\n"
        f"from {module} import {cls}\n"
        f"original = {cls}.{method}\n"
        "def interrupted(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    return original(*args, **kwargs)\n"
        f"{cls}.{method} = interrupted\n"
        "from syndicrawl.cli import main\n"
        "sys.argv = ['syndicrawl', *sys.argv[1:]]\n"
        "main()\n"
    )
    blogger_server.clear_requests()
    result = subprocess.run(
        [sys.executable, "-c", ctrl_c_at_start, "crawl", "--config", str(sources), "--data-dir", str(data)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == exitcodes.INTERRUPTED, result.stderr
    assert re.search(r"│ diary +│ interrupted +│ +0 │", result.stdout), result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert blogger_server.requests == []
    db = Database(sqlite_url(data))
    with db.session() as s:
        [summary] = catalog.source_summaries(s)
    db.dispose()
    assert summary.last_crawl_status == "interrupted" and summary.captures == 0


def test_ctrl_c_while_the_command_loads_aborts_without_a_traceback(tmp_path):
    """A Ctrl-C in the first moment of ``syndicrawl``, while the CLI's modules load, printed
    Python's KeyboardInterrupt traceback; now it ends as one a moment later does, "Aborted!"."""
    ctrl_c_while_loading = (
        "import builtins, os, signal, sys\n"
        "import syndicrawl\n"
        "real_import = builtins.__import__\n"
        "def interrupted(name, *args, **kwargs):\n"
        "    if name == 'rich.console':  # loaded by syndicrawl.cli\n"
        "        os.kill(os.getpid(), signal.SIGINT)\n"
        "    return real_import(name, *args, **kwargs)\n"
        "builtins.__import__ = interrupted\n"
        "sys.argv = ['syndicrawl', *sys.argv[1:]]\n"
        "syndicrawl.main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", ctrl_c_while_loading, "stats", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "Aborted!\n")
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("broken", [("diary",), ("diary", "gazette")], ids=["one-source", "every-source"])
def test_a_source_whose_crawl_cannot_start_fails_alone_in_one_line(
    tmp_path, blogger_server, wordpress_server, fast_settings, broken
):
    """A Scrapy component that raises as a crawl starts failed the whole command with two
    tracebacks, and the archive called the crawl 'interrupted'. Now that source fails, with
    one line saying why, and the others are crawled."""
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "diary", "kind": "origin", "feeds": [blogger_server.url("/feeds/posts/default")]},
         {"name": "gazette", "kind": "repost", "feeds": [wordpress_server.url("/feed/")]}],
    )  # fmt: skip
    data = tmp_path / "data"
    breaking = (
        "import sys\n"
        "from scrapy.crawler import Crawler\n"
        "original = Crawler._apply_settings\n"
        "def broken(self):\n"
        f"    if self.spider.source.name in {broken!r}:\n"
        "        raise RuntimeError('the extension cannot load:\\n  no module named x')\n"
        "    return original(self)\n"
        "Crawler._apply_settings = broken\n"
        "from syndicrawl.cli import main\n"
        "sys.argv = ['syndicrawl', *sys.argv[1:]]\n"
        "main()\n"
    )
    blogger_server.clear_requests()
    result = subprocess.run(
        [sys.executable, "-c", breaking, "crawl", "--config", str(sources), "--data-dir", str(data),
         "--settings", str(fast_settings)],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert result.returncode == exitcodes.PARTLY_FAILED, result.stderr
    assert "Traceback" not in result.stderr and "Unhandled error" not in result.stderr, result.stderr
    assert "diary: the crawl failed: RuntimeError: the extension cannot load: no module named x\n" in result.stderr
    assert re.search(r"│ diary +│ failed +│ +0 │", result.stdout), result.stdout
    assert blogger_server.requests == []
    db = Database(sqlite_url(data))
    with db.session() as s:
        summaries = {summary.name: summary for summary in catalog.source_summaries(s)}
    db.dispose()
    assert summaries["diary"].last_crawl_status == "failed" and summaries["diary"].captures == 0
    if "gazette" in broken:
        assert summaries["gazette"].last_crawl_status == "failed"
    else:
        assert re.search(r"│ gazette +│ finished +│", result.stdout), result.stdout
        assert summaries["gazette"].last_crawl_status == "finished" and summaries["gazette"].articles >= 3
