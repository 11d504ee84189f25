"""``chain`` marks the copies made before their origin was revised: they carry the old text (a
blog softens a headline and cuts a paragraph after the reposts took it, without a note)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from archive.db import catalog
from archive.db.engine import Database
from archive.db.models import Article, Syndication
from archive.ingest import changes
from archive.syndication import chains
from syndicrawl.cli import cli

ORIGIN = "http://blog.example/2016/11/aleppo-and-the-information-war.html"
EARLY, LATE = "http://repost.example/2016/11/02/aleppo/", "http://mirror.example/2016/11/03/aleppo/"
T0 = datetime(2016, 11, 1, 12, 0, tzinfo=UTC)
BODY = [
    "Government forces repelled more than a dozen offensives around the city on Monday.",
    "Aid agencies said the corridors opened last week were still empty of civilians.",
    "The monitoring group counted forty dead on both sides since the weekend began.",
    "Talks in Geneva are to resume next week, diplomats said.",
]
#: The demo's stealth edit: headline changed, a paragraph dropped, nothing said.
EDITED = [*BODY[:2], *BODY[3:]]


def _store(db: Database, site: str, url: str, text: list[str], title: str, at: datetime) -> Article:
    """One capture of ``url`` and its article; a revision recorded if the page was captured before."""
    with db.writing() as s:
        source = catalog.ensure_source(s, site, "origin" if site == "blog" else "repost")
        (capture,) = catalog.add_captures(s, [{
            "source_id": source.id, "url": url, "timestamp": at, "status": 200, "mime": "text/html",
            "warc_file": f"{site}.warc.gz", "warc_offset": 0, "warc_length": 1,
            "record_id": f"<urn:uuid:{site}-{at.isoformat()}>", "payload_digest": f"sha1:{site}-{at.isoformat()}",
        }])  # fmt: skip
        (article,) = catalog.add_articles(s, [{
            "capture_id": capture.id, "url": url, "title": title, "text": "\n".join(text),
            "text_hash": str(hash(tuple(text))), "published": "2016-11-01", "published_source": "page", "status": "ok",
        }])  # fmt: skip
        changes.revise(s, [article], [None])
        return article


def _place(db: Database, origin: Article, *copies: Article) -> None:
    with db.writing() as s:
        s.add(Syndication(article_id=origin.id, cluster_id=origin.id, relation="origin", origin_id=origin.id))
        s.add_all(Syndication(article_id=copy.id, cluster_id=origin.id, relation="copy", origin_id=origin.id,
                              parent_id=origin.id, similarity=0.95) for copy in copies)


def test_a_copy_captured_before_its_origin_was_revised_carries_the_old_text(database: Database, db_url: str) -> None:
    origin = _store(database, "blog", ORIGIN, BODY, "Aleppo and the Information War", T0)
    early = _store(database, "repost", EARLY, BODY, "Aleppo and the Information War", T0 + timedelta(hours=1))
    _store(database, "blog", ORIGIN, EDITED, "Aleppo: the Information War", T0 + timedelta(hours=2))
    late = _store(database, "mirror", LATE, EDITED, "Aleppo: the Information War", T0 + timedelta(hours=3))
    _place(database, origin, early, late)

    with database.session() as s:
        [revision] = changes.revisions_of(s, ORIGIN)
        root = chains.chain(s, LATE)
    by_url = {node.url: node for node in (root, *root.children)}
    assert revision.seen_at == T0 + timedelta(hours=2)
    assert by_url[EARLY].before_revision == revision.seen_at
    assert by_url[LATE].before_revision is None and root.before_revision is None

    runner = CliRunner(env={"SYNDICRAWL_DATABASE_URL": db_url})
    text = runner.invoke(cli, ["chain", EARLY])
    assert text.exit_code == 0, text.output
    marks = [line[line.index("!"):] for line in text.output.splitlines() if "old text" in line]
    assert marks == ["! old text: first captured before its origin was revised (2016-11-01 14:00:00 UTC)"]
    tree = json.loads(runner.invoke(cli, ["chain", EARLY, "--json"]).output)
    assert tree["before_revision"] is None
    assert {child["url"]: child["before_revision"] for child in tree["children"]} == {
        EARLY: "2016-11-01T14:00:00+00:00", LATE: None}
