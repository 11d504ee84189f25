"""The CDX API's output formats, written as pywb's CDX server writes them.

pywb's ``warcserver/handlers.py`` and ``cdxobject.py``: ``cdxj`` (the default) is the index
line, ``fl`` keeping the named JSON fields; ``json`` one JSON object a row; ``text`` the
fields separated by spaces, ``-`` for one a row lacks; ``link`` one Memento link a row
(``application/link-format``), rows joined by ``,\\n``, each pointing at the original URL as
pywb's CDX server does (``/timemap/link/`` points at the replay URLs instead).

Without ``fl``, ``text`` gives the eleven CDX fields in their CDX11 order (``CDX11``), the
lines OpenWayback and pywb serve from a CDX11 index; pywb over a CDXJ index echoes the CDXJ
line there, or its fields plus the collection's in stored order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from archive.db.timestamps import http_date, parse_timestamp
from archive.lookup.cdx import CdxQuery, CdxRow

CONTENT_TYPES = {"cdxj": "text/x-cdxj", "json": "text/x-ndjson", "text": "text/plain",
                 "link": "application/link-format"}
#: pywb's ``CDXObject.CDX_FORMATS`` "CDX 11 Format", as ``CDX N b a m s k r M S V g`` files hold it.
CDX11 = ("urlkey", "timestamp", "url", "mime", "status", "digest", "redirect", "robotflags", "length", "offset",
         "filename")


def lines(q: CdxQuery, rows: Iterable[CdxRow]) -> Iterator[str]:
    """The answer's text, a line (newline included) per row; for ``link``, the separators too."""
    if q.output == "link":
        yield from _links(rows)
        return
    for row in rows:
        if q.output == "json":
            yield json.dumps(row.select(q.fields)) + "\n"
        elif q.output == "text":
            yield " ".join(row.get(name) or "-" for name in q.fields or CDX11) + "\n"
        elif q.fields is None:
            yield row.line + "\n"
        else:
            chosen = {k: v for k, v in row.select(q.fields).items() if k not in ("urlkey", "timestamp")}
            yield f"{row.urlkey} {row.timestamp} {json.dumps(chosen)}\n"


def _links(rows: Iterable[CdxRow]) -> Iterator[str]:
    """pywb's ``MementoUtils.make_timemap``: ``<URL>; rel="memento"; datetime="..."`` per row."""
    separator = ""
    for row in rows:
        moment = http_date(parse_timestamp(row.timestamp))
        yield f'{separator}<{row.get("url")}>; rel="memento"; datetime="{moment}"'
        separator = ",\n"
    if separator:
        yield "\n"
