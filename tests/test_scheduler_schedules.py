"""``syndicrawl schedule ...``: the job store on SQLite and PostgreSQL, and one-line errors that change nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect

from archive.db.engine import create_engine_for
from syndicrawl.cli import cli
from tests.fixtures.cli import write_sources


@pytest.fixture
def schedule(tmp_path: Path, db_url: str):  # type: ignore[no-untyped-def]
    """Run ``syndicrawl schedule ARGS`` in-process against ``db_url`` (both backends)."""
    sources = write_sources(tmp_path / "sources.toml", [
        {"name": "rbn", "kind": "repost", "feeds": ["http://127.0.0.1:9/feed/"]},
        {"name": "lendman", "kind": "origin", "feeds": ["http://127.0.0.1:9/atom.xml"]},
    ])

    def run(*args: str) -> Result:
        with_config = ("--config", str(sources)) if args[0] == "add" else ()
        return CliRunner().invoke(
            cli, ["schedule", *args, *with_config, "--data-dir", str(tmp_path / "data")],
            env={"SYNDICRAWL_DATABASE_URL": db_url}, catch_exceptions=False,
        )

    run.sources = sources  # type: ignore[attr-defined]
    return run


def rows(listing: str) -> dict[str, list[str]]:
    """The table's rows by source."""
    found = {}
    for line in listing.splitlines():
        cells = [c.strip() for c in line.strip("│").split("│")]
        if len(cells) == 6 and cells[0] not in {"source", ""}:
            found[cells[0]] = cells
    return found


def test_add_list_pause_resume_remove(schedule, db_url: str) -> None:  # type: ignore[no-untyped-def]
    added = schedule("add", "rbn", "--every", "30m", "--jitter", "60")
    assert added.exit_code == 0, added.output
    assert re.fullmatch(r"Scheduled rbn: every 30m, jitter 60s; next crawl \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\.\n",
                        added.stdout)
    assert schedule("add", "lendman", "--cron", "0 */2 * * *").exit_code == 0
    listed = rows(schedule("list").stdout)
    assert listed["rbn"][1:] == ["every 30m, jitter 60s", listed["rbn"][2], "-", "-", str(schedule.sources)]
    assert listed["lendman"][1] == "cron 0 */2 * * * (UTC)"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:00:00", listed["lendman"][2])  # every two hours, on the hour
    assert int(listed["lendman"][2][11:13]) % 2 == 0

    assert schedule("pause", "rbn").stdout == "Paused the schedule of rbn.\n"
    assert rows(schedule("list").stdout)["rbn"][2] == "paused"
    assert schedule("resume", "rbn").stdout == "Resumed the schedule of rbn.\n"
    assert rows(schedule("list").stdout)["rbn"][2] != "paused"
    assert schedule("remove", "rbn").stdout == "Removed the schedule of rbn.\n"
    assert set(rows(schedule("list").stdout)) == {"lendman"}

    # the jobs are APScheduler's, in the archive database (on PostgreSQL: in the URL's schema)
    engine = create_engine_for(db_url)
    try:
        assert "apscheduler_jobs" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("add", "nope", "--every", "30m"), "{sources}: no source named 'nope' (known: rbn, lendman)"),
        (("add", "rbn", "--every", "30x"), "--every '30x': not a duration; use e.g. 45s, 30m, 2h, 1h30m, 1d, 1w"),
        (("add", "rbn", "--every", "0m"), "--every '0m': must be longer than 0s"),
        (("add", "rbn", "--cron", "61 * * * *"), "--cron '61 * * * *': Error validating expression '61': "
                                                   "the last value (61) is higher than the maximum value (59)"),
        (("add", "rbn", "--cron", "1 2 3"), "--cron '1 2 3': Wrong number of fields; got 3, expected 5"),
        (("add", "rbn"), "give one of --every DURATION or --cron EXPRESSION"),
        (("add", "rbn", "--every", "1h", "--cron", "0 * * * *"), "give one of --every DURATION or --cron EXPRESSION"),
        (("add", "rbn", "--every", "1h", "--jitter", "-5"), "--jitter -5: must be a number of seconds >= 0"),
        (("add", "lendman", "--every", "1h"), "source 'lendman' already has a schedule (every 2h); "
                                              "give --replace to change it"),
        (("pause", "rbn"), "no schedule for source 'rbn' (scheduled: lendman)"),
        (("resume", "rbn"), "no schedule for source 'rbn' (scheduled: lendman)"),
        (("remove", "rbn"), "no schedule for source 'rbn' (scheduled: lendman)"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(schedule, args: tuple[str, ...], error: str) -> None:  # type: ignore[no-untyped-def]
    assert schedule("add", "lendman", "--every", "2h").exit_code == 0
    before = rows(schedule("list").stdout)
    result = schedule(*args)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {error.format(sources=schedule.sources)}\n"
    assert rows(schedule("list").stdout) == before


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--feed", "http://127.0.0.1:9/feed/"), "--feed http://127.0.0.1:9/feed/: only with --poll"),
        (("--poll", "--feed", "http://127.0.0.1:9/other/"),
         "--feed http://127.0.0.1:9/other/: not a feed of rbn, lendman in the sources file"),
        (("--poll", "--config", "{sitemaps}", "maps"),
         "--poll: none of the sources named has feeds or pages due a recheck"),
        (("--recheck", "http://127.0.0.1:9/post/"), "--recheck http://127.0.0.1:9/post/: only with --poll"),
        (("--poll", "--recheck", "http://127.0.0.1:9/post/"),
         "--recheck http://127.0.0.1:9/post/: name the one source whose page it is"),
    ],
)
def test_bad_poll_options_are_one_line_before_anything_is_fetched(tmp_path: Path, args: tuple[str, ...],
                                                                  error: str) -> None:
    sources = write_sources(tmp_path / "sources.toml", [
        {"name": "rbn", "kind": "repost", "feeds": ["http://127.0.0.1:9/feed/"]},
        {"name": "lendman", "kind": "origin", "feeds": ["http://127.0.0.1:9/atom.xml"]},
    ])
    sitemaps = write_sources(tmp_path / "maps.toml", [
        {"name": "maps", "kind": "origin", "sitemaps": ["http://127.0.0.1:9/sitemap.xml"]}])
    args = tuple(a.format(sitemaps=sitemaps) for a in args)
    config = () if "--config" in args else ("--config", str(sources))
    result = CliRunner().invoke(cli, ["crawl", *config, *args, "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1
    assert result.stderr == f"Error: {error}\n"
    assert not (tmp_path / "data" / "warcs").exists()
