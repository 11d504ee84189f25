"""Revisions as the archive records them (``archive.ingest.changes``): a page captured again whose
text changed is one revision, with what changed and whether the page said so; a page whose
date line alone changed is none."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from archive.db import catalog
from archive.db.engine import Database
from archive.db.models import Revision
from archive.ingest import changes

URL = "http://news.example/2016/11/01/aleppo-siege/"
T0 = datetime(2016, 11, 1, 12, 0, tzinfo=UTC)
BODY = [
    "November 1, 2016",
    "Government forces repelled more than a dozen offensives around the city on Monday.",
    "Aid agencies said the corridors opened last week were still empty of civilians.",
    "The monitoring group counted forty dead on both sides since the weekend began.",
    "Talks in Geneva are to resume next week, diplomats said.",
]


def _store(db: Database, text: str, title: str, at: datetime, modified: str | None = None) -> Revision | None:
    """One capture of URL with its article, as a crawl stores it; the revision it made, if any."""
    with db.writing() as s:
        source = catalog.ensure_source(s, "news", "origin")
        (capture,) = catalog.add_captures(s, [{
            "source_id": source.id, "url": URL, "timestamp": at, "status": 200, "mime": "text/html",
            "warc_file": "news.warc.gz", "warc_offset": 0, "warc_length": 1,
            "record_id": f"<urn:uuid:{at.isoformat()}>", "payload_digest": f"sha1:{at.isoformat()}",
        }])  # fmt: skip
        (article,) = catalog.add_articles(s, [{
            "capture_id": capture.id, "url": URL, "title": title, "text": text, "text_hash": str(hash(text)),
            "published": "2016-11-01T08:00:00-05:00", "status": "ok",
        }])  # fmt: skip
        revisions = changes.revise(s, [article], [modified])
        return revisions[0] if revisions else None


def test_a_headline_changed_a_paragraph_cut_and_a_correction_appended_is_one_declared_revision(
    database: Database,
) -> None:
    assert _store(database, "\n".join(BODY), "Siege Holds", T0) is None
    edited = [*BODY[:3], *BODY[4:], "Correction: An earlier version gave the wrong day for the talks."]

    revision = _store(database, "\n".join(edited), "Siege Holds, for Now", T0 + timedelta(hours=1))

    assert revision is not None
    assert json.loads(revision.counts) == {"title": 1, "paragraph_dropped": 1, "paragraph_added": 1}
    assert revision.declared == "note: Correction: An earlier version gave the wrong day for the talks."
    with database.session() as s:
        assert [row.seen_at for row in changes.revisions_of(s, URL)] == [T0 + timedelta(hours=1)]
        assert len(changes.changed_since(s, T0, "news")) == 1


def test_a_stealth_edit_is_undeclared_and_a_modification_time_declares_one(database: Database) -> None:
    _store(database, "\n".join(BODY), "Siege Holds", T0)
    softened = "\n".join([BODY[0], BODY[1].replace("more than a dozen", "several"), *BODY[2:]])

    stealth = _store(database, softened, "Siege Holds", T0 + timedelta(hours=1), "2016-11-01T08:00:00-05:00")
    stated = _store(database, "\n".join(BODY), "Siege Holds", T0 + timedelta(hours=2), "2016-11-02T10:00:00Z")

    assert stealth is not None and stealth.declared is None
    assert json.loads(stealth.counts) == {"rewritten": 1}
    assert stated is not None and stated.declared == "modified 2016-11-02T10:00:00Z"


def test_a_new_date_line_alone_is_no_revision(database: Database) -> None:
    _store(database, "\n".join(BODY), "Siege Holds", T0)

    again = _store(database, "\n".join(["Updated November 2, 2016", *BODY[1:]]), "Siege Holds", T0 + timedelta(days=1))

    assert again is None
    with database.session() as s:
        assert s.scalars(select(Revision)).all() == []
