"""The crash campaign of ``benchmarks/crash_campaign.py``, short: a three-source crawl killed with
SIGKILL and SIGTERM at seeded random moments and restarted each time. After every kill the
finished WARCs read whole and every capture row points at its record (SIGTERM: with nothing left
to repair); the last crawl's archive holds every URL of an uninterrupted crawl's, none stored twice."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks.crash_campaign import report, run_campaign, serve_sites, table

POSTS = 10  # a site: ~40 URLs in all, a crawl of a few seconds


def campaign(tmp_path: Path, kills: list[int], db_urls: tuple[str | None, str | None] = (None, None), *,
             killed_while_open: bool = True) -> None:  # fmt: skip
    with serve_sites(tmp_path, POSTS) as sources:
        result = run_campaign(tmp_path, sources, kills=kills, seed=17, db_urls=db_urls, window="writing",
                              backend="postgres" if db_urls[0] else "sqlite")  # fmt: skip
    print(table(result), report(result), sep="\n")
    assert result.failures == []
    assert result.final_pages == result.reference_pages > 3 * POSTS
    signalled = {k.signum for k in result.kills if k.signalled}
    assert signalled == set(kills), "a crawl always ended before its moment came: no kill was tested"
    if killed_while_open:  # one SIGKILL may come before the first file or just after a commit
        assert any(k.left_open for k in result.kills if k.signum == signal.SIGKILL), "no SIGKILL came while a file was open"


def test_sigkill_and_sigterm_on_sqlite(tmp_path: Path) -> None:
    campaign(tmp_path, [signal.SIGKILL] * 5 + [signal.SIGTERM] * 4)  # 5: one lands while a file is open, however fast the crawl


@pytest.mark.postgres
def test_sigkill_and_sigterm_on_postgres(tmp_path: Path, postgres_url_factory: Callable[[], str]) -> None:
    campaign(tmp_path, [signal.SIGKILL, signal.SIGTERM, signal.SIGTERM], (postgres_url_factory(), postgres_url_factory()),
             killed_while_open=False)
