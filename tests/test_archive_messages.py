"""archive.ingest.messages: the crawl-to-writer framing keeps page bodies out of the pickle."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from archive.ingest.messages import Fetched, dump, load
from archive.warc.exchange import HttpExchange

BODY = b"<html>" + b"x" * 200_000 + b"</html>"


def message(number: int) -> tuple[object, ...]:
    exchange = HttpExchange(
        url=f"http://127.0.0.1/{number}",
        method="GET",
        request_headers=[("Host", "127.0.0.1")],
        request_body=b"",
        status=200,
        reason="OK",
        protocol="HTTP/1.1",
        response_headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
        body=BODY,
        fetched_at=datetime(2016, 11, 1, 12, tzinfo=UTC),
        ip_address="127.0.0.1",
    )
    return ("capture", "rbn", number, Fetched(exchange, metadata={"kind": "article"}, extract=True))


def test_messages_round_trip_with_the_body_sent_as_is() -> None:
    pieces = [piece for n in range(3) for piece in dump(message(n))]
    # Each body is a view of the crawler's own bytes, not a copy inside the pickle.
    bodies = [piece for piece in pieces if isinstance(piece, memoryview)]
    assert len(bodies) == 3 and all(view.obj is BODY for view in bodies)
    assert all(len(piece) < 1000 for piece in pieces if not isinstance(piece, memoryview))

    stream = io.BytesIO(b"".join(pieces))
    assert [load(stream) for _ in range(3)] == [message(n) for n in range(3)]
    with pytest.raises(EOFError):
        load(stream)


def test_a_message_cut_short_is_an_error_not_a_short_body() -> None:
    whole = b"".join(dump(message(1)))
    for cut in (3, 20, len(whole) - 1):
        with pytest.raises(ValueError, match="short of a whole message"):
            load(io.BytesIO(whole[:cut]))
