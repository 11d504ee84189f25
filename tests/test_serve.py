"""``syndicrawl serve`` against hostile clients (issue #17.9, #17.10): regex filters that
backtrack, connections that stall half-way through a request, malformed parameters (fuzzed in
process with hypothesis), and archived headers that would act on the archive's own origin.

The archive is written by the real store (``CaptureStore``); the server is the real command,
on loopback, except for the fuzzing, which calls the WSGI application directly (thousands of
requests in seconds).
"""

from __future__ import annotations

import http.client
import json
import re
import resource
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote_to_bytes
from wsgiref.util import setup_testing_defaults

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.db.engine import Database, sqlite_url
from archive.ingest.messages import Fetched
from archive.ingest.store import CaptureStore
from archive.lookup.cdx import FIELD_ALIASES, FIELDS, MATCH_TYPES, MAX_REGEX, OUTPUTS, SORTS

FIELD_NAMES = {*FIELDS, *FIELD_ALIASES}  # a field's short names (pywb's 's', 'm', ...) are fields too
from syndicrawl.web.api import ARCHIVED_PREFIX, SANDBOX, ArchiveApp
from tests.test_archive_warc import exchange

PAGE = "http://news.example/story?id=7"
LONG = "http://news.example/" + "a" * 5000  # (.+)+X against it never ends in a backtracking engine
MOVED = "http://news.example/old"
# Headers of the archived page that must not act on the archive's origin or its client.
HOSTILE = [
    ("Set-Cookie", "session=archived; Path=/"),
    ("Set-Cookie2", "legacy=1"),
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Credentials", "true"),
    ("Content-Security-Policy", "script-src *"),
    ("Content-Security-Policy-Report-Only", "default-src 'none'"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
    ("Public-Key-Pins", 'pin-sha256="AAAA"; max-age=1'),
    ("Clear-Site-Data", '"cookies", "storage"'),
    ("Refresh", "0; url=http://evil.example/"),
    ("Link", "<http://evil.example/s.js>; rel=preload; as=script"),
    ("WWW-Authenticate", 'Basic realm="news"'),
    ("Server-Timing", "db;dur=53"),
    ("X-Frame-Options", "DENY"),
    ("Service-Worker-Allowed", "/"),
    ("Etag", '"abc"'),
    ("Memento-Datetime", "Thu, 01 Jan 1970 00:00:00 GMT"),
    # not the archive's: a cache would date its reply by the archived Date
    ("Date", "Mon, 06 May 2024 07:08:09 GMT"),
    ("Server", "Apache/2.4.1 (archived)"),
]


@dataclass
class Archive:
    data: Path
    app: ArchiveApp


def write_archive(database: Database, data: Path) -> ArchiveApp:
    """Four captures: PAGE twice (the first with the HOSTILE headers), LONG, and MOVED (a 301)."""
    store = CaptureStore(database, data / "warcs", "gazette", "repost", max_size=10_000_000, software="test")
    page = exchange(PAGE)
    page = replace(page, response_headers=[*page.response_headers, *HOSTILE])
    later = timedelta(days=1)
    store.store_exchanges([
        Fetched(page, metadata=None),
        Fetched(replace(exchange(PAGE), body=b"x" + page.body, fetched_at=page.fetched_at + later), metadata=None),
        Fetched(exchange(LONG), metadata=None),
        Fetched(replace(exchange(MOVED), status=301, reason="Moved Permanently", body=b"",
                        response_headers=[("Location", PAGE), ("Content-Length", "0")]), metadata=None),
    ])
    store.finish("finished", {})
    return ArchiveApp(database, data / "warcs")


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    data = tmp_path_factory.mktemp("serve") / "data"
    data.mkdir()
    database = Database(sqlite_url(data))
    yield Archive(data, write_archive(database, data))
    database.dispose()


@pytest.fixture(scope="module")
def server(archive: Archive) -> Iterator[str]:
    """``syndicrawl serve`` with the open-file limit of a stock Linux login (soft 1,024) cut to
    256, below the 300 connections the half-open test holds: serve must raise it itself."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicrawl", "serve", "--port", "0", "--data-dir", str(archive.data)],
        stderr=subprocess.PIPE, text=True, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)),
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    found = re.search(r"on http://(127\.0\.0\.1:\d+)/", line)
    assert found, line
    logged: list[str] = []  # read as it comes: a full pipe would stop the server
    reader = threading.Thread(target=lambda: logged.extend(process.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    yield found.group(1)
    process.terminate()
    process.wait(timeout=10)
    reader.join(timeout=10)
    assert not [line for line in logged if "Traceback" in line], "".join(logged)


def get(address: str, target: str, headers: Mapping[str, str] | None = None, timeout: float = 10) -> tuple[
        http.client.HTTPResponse, bytes]:
    conn = http.client.HTTPConnection(address, timeout=timeout)
    conn.request("GET", target, headers=dict(headers or {}))
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response, body


# --- regex filters ------------------------------------------------------------------------------


def test_a_backtracking_regex_filter_answers_and_others_are_served(server: str) -> None:
    """``(.+)+X`` against a 5,000-character URL: Python's re never finishes it, holding the GIL,
    so every client of the server waits; RE2 answers at once (no row matches)."""
    answers: list[tuple[int, bytes]] = []

    def evil() -> None:
        response, body = get(server, f"/cdx?url={quote(LONG)}&filter=~url:(.%2B)%2BX")
        answers.append((response.status, body))

    attackers = [threading.Thread(target=evil) for _ in range(3)]
    for thread in attackers:
        thread.start()
    response, body = get(server, f"/cdx?url={quote(LONG)}&fl=url")  # a client at the same time
    for thread in attackers:
        thread.join(timeout=15)
    assert response.status == 200 and body.decode().split(" ", 2)[2] == json.dumps({"url": LONG}) + "\n"
    assert answers == [(200, b"")] * 3


@pytest.mark.parametrize(("pattern", "reason"), [
    (r"(a)\1", "invalid escape sequence: \\1"),
    ("(?=a)", "invalid perl operator: (?="),
    ("(?<!a)b", "invalid perl operator: (?<!"),
    ("[", "missing ]: ["),
])
def test_a_regex_re2_refuses_is_a_400_naming_it(archive: Archive, pattern: str, reason: str) -> None:
    status, _, answer = call(archive.app, f"/cdx?url={PAGE}&filter={quote('~url:' + pattern)}")
    assert status == 400
    assert answer == {"message": f"bad filter {'~url:' + pattern!r}: {reason} (RE2 syntax: no backreferences or lookaround)"}


def test_a_regex_over_the_length_limit_is_a_400(archive: Archive) -> None:
    status, _, answer = call(archive.app, f"/cdx?url={PAGE}&filter=~" + "a" * (MAX_REGEX + 1))
    assert status == 400
    assert answer == {"message": f"bad filter {'~' + 'a' * 39!r}...: a regex of at most {MAX_REGEX} characters"}
    status, _, _ = call(archive.app, f"/cdx?url={PAGE}&filter=~" + "a" * MAX_REGEX)
    assert status == 200


# --- half-open connections -----------------------------------------------------------------------


def test_300_stalled_connections_do_not_lock_a_new_client_out(server: str) -> None:
    """Under waitress's defaults (100 connections) the 101st client waited for the stalled ones
    to time out (120 s); now the limit is 1,000 and the open-file limit is raised to hold it."""
    host, port = server.split(":")
    stalled = []
    try:
        for _ in range(300):
            sock = socket.create_connection((host, int(port)), timeout=5)
            sock.sendall(b"GET /cdx?url=http://news.exa")  # and nothing more
            stalled.append(sock)
        response, body = get(server, f"/cdx?url={PAGE}&fl=timestamp&output=json", timeout=5)
        assert response.status == 200
        assert [json.loads(line) for line in body.splitlines()] == [
            {"timestamp": "20240506070809"}, {"timestamp": "20240507070809"}]
    finally:
        for sock in stalled:
            sock.close()


# --- replay headers ------------------------------------------------------------------------------


def test_replay_renames_archived_headers_that_act_on_this_origin_and_sandboxes_the_page(server: str) -> None:
    response, body = get(server, f"/20240506070809id_/{PAGE}")
    assert response.status == 200
    served = [(name.lower(), value) for name, value in response.getheaders()]  # names are case-insensitive
    for name, value in HOSTILE:
        assert ((ARCHIVED_PREFIX + name).lower(), value) in served
        assert (name.lower(), value) not in served, name
    assert [v for n, v in served if n == "x-archive-orig-set-cookie"] == ["a=1; Path=/", "b=2; Path=/",
                                                                              "session=archived; Path=/"]
    # the archive's own: one policy, its Memento headers; the payload's headers kept as archived
    assert [v for n, v in served if n == "content-security-policy"] == [SANDBOX]
    assert response.getheader("Memento-Datetime") == "Mon, 06 May 2024 07:08:09 GMT"
    assert "evil.example" not in response.getheader("Link", "")
    assert [v for n, v in served if n == "server"] == ["waitress"]
    dates = [parsedate_to_datetime(v) for n, v in served if n == "date"]
    assert len(dates) == 1 and abs(dates[0] - datetime.now(UTC)) < timedelta(minutes=1), dates
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert response.getheader("Content-Encoding") == "gzip"
    assert response.getheader("Content-Length") == str(len(body))
    assert response.getheader(ARCHIVED_PREFIX + "Content-Length") == str(len(body))

    response, body = get(server, f"/id_/{MOVED}")  # a redirect: kept as archived, not followed
    assert response.status == 301 and body == b""
    assert response.getheader("Location") is None
    assert response.getheader(ARCHIVED_PREFIX + "Location") == PAGE
    assert response.getheader("Content-Security-Policy") == SANDBOX


# --- malformed parameters, in process ------------------------------------------------------------


def call(app: ArchiveApp, target: str, headers: Mapping[str, str] | None = None, *,
         request_uri: bool = True) -> tuple[int, str, Any]:
    """One request, its target as sent on the wire, through the WSGI app with the environ
    waitress builds (PEP 3333: the decoded path and the raw query, bytes as latin-1), or
    without the raw target (``REQUEST_URI``), as wsgiref's server builds it."""
    path, _, query = target.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        **({"REQUEST_URI": target} if request_uri else {}),
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in (headers or {}).items()},
    }
    setup_testing_defaults(environ)
    started: list[tuple[str, list[tuple[str, str]]]] = []
    body = b"".join(app(environ, lambda status, headers: started.append((status, headers))))
    [(status, response_headers)] = started
    content_type = dict(response_headers)["Content-Type"]
    return int(status[:3]), content_type, json.loads(body) if content_type.startswith("application/json") else body


def assert_clear_answer(status: int, content_type: str, answer: Any) -> None:
    """Never a 500; an error is JSON with a one-line message."""
    assert status in (200, 302, 400, 404), status
    if status >= 400:
        assert content_type == "application/json; charset=utf-8"
        assert set(answer) == {"message"} and answer["message"] and "\n" not in answer["message"], answer


def escaped(text: str) -> str:
    return quote(text, safe="")


def raw(data: bytes) -> str:
    """Bytes as percent-escapes: invalid UTF-8 included."""
    return "".join(f"%{byte:02x}" for byte in data)


ESCAPES = st.sampled_from(["%", "%z", "%zz", "%f", "%ff", "%c3", "%c3%28", "%ed%a0%80", "%00", "%0a", "%25", "+", "&", "=",
                           ";", "%26%3d"])
TIMES = st.one_of(st.from_regex(r"[0-9]{0,20}", fullmatch=True),
                  st.sampled_from(["0000", "0001", "9999", "99991231235959", "00010101000000", "20241301", "20240230",
                                   "2024-05-06", "2024050607080 9", "-2024"]))
VALUES = st.one_of(
    st.sampled_from([escaped(PAGE), escaped(PAGE) + "*", "*.news.example", "*", "*.", "http://news.example/*",
                     "http://[::1", "http://x:99999/", "http://a:b/", escaped(LONG[:300]), *MATCH_TYPES, *SORTS,
                     "json", "cdxj", "text", "true", "1", "status:200", "!mime:warc/revisit", "=status:200",
                     escaped("~url:.*story.*"), escaped("~(.+)+X"), escaped(r"~url:(a)\1"), "~" + "a" * (MAX_REGEX + 1),
                     ",".join(FIELDS), "url,bogus", "k,t,m,s", "", "bogus:1"]),
    TIMES,
    st.from_regex(r"-?[0-9]{1,30}", fullmatch=True),  # ints: negative, huge
    st.text(max_size=20).map(escaped),
    st.binary(max_size=12).map(raw),
    ESCAPES,
    st.lists(ESCAPES | st.text("a:/~*,.", max_size=4), max_size=5).map("".join),
)
NAMES = st.one_of(st.sampled_from(["url", "matchType", "from", "to", "closest", "sort", "reverse", "limit", "filter",
                                   "fl", "fields", "output", "collapseTime"]),
                  st.text(max_size=6).map(escaped), ESCAPES)
QUERIES = st.lists(st.tuples(NAMES, VALUES, st.booleans()), max_size=7).map(
    lambda pairs: "&".join(f"{name}={value}" if equals else name + value for name, value, equals in pairs))
FUZZ = settings(max_examples=1000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(endpoint=st.sampled_from(["/cdx", "/api/article", "/api/chain"]), query=QUERIES)
def test_fuzzed_query_strings_get_a_clear_answer(archive: Archive, endpoint: str, query: str) -> None:
    assert_clear_answer(*call(archive.app, f"{endpoint}?{query}"))


@pytest.mark.postgres
def test_fuzzed_query_strings_get_a_clear_answer_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL refuses what SQLite takes (a NUL in a text parameter): the fuzz again, on it."""
    database = Database(postgres_url)
    app = write_archive(database, tmp_path)
    for endpoint in ("/cdx", "/api/article", "/api/chain"):  # the two /api/ ones were a 500
        assert call(app, f"{endpoint}?url=http://a/%00")[0::2] == (400, {"message": "bad url 'http://a/\\x00': control characters"})

    @settings(FUZZ, max_examples=300)
    @given(endpoint=st.sampled_from(["/cdx", "/api/article", "/api/chain"]), query=QUERIES)
    def fuzz(endpoint: str, query: str) -> None:
        assert_clear_answer(*call(app, f"{endpoint}?{query}"))

    try:
        fuzz()
    finally:
        database.dispose()


@FUZZ
@given(
    endpoint=st.sampled_from(["/timemap/link/", "/timemap/json/", "/timegate/", "/id_/", "/{}id_/", "/{}id_"]),
    stamp=TIMES,
    url=VALUES,
    accept_datetime=st.one_of(st.none(), st.text(max_size=40), st.sampled_from([
        "Fri, 31 Dec 9999 23:59:59 -2359", "Mon, 01 Jan 0001 00:00:00 +2359", "Mon, 06 May 2024 07:08:09 GMT",
        "Mon, 32 Foo 99999 99:99:99 GMT", "0"])),
)
def test_fuzzed_memento_and_replay_targets_get_a_clear_answer(
        archive: Archive, endpoint: str, stamp: str, url: str, accept_datetime: str | None) -> None:
    target = endpoint.format(stamp) + url
    headers = {"Accept-Datetime": accept_datetime.encode("utf-8", "replace").decode("latin-1")} if accept_datetime else {}
    assert_clear_answer(*call(archive.app, target, headers))


def not_digits(min_size: int = 1) -> st.SearchStrategy[str]:
    return st.text(min_size=min_size, max_size=12).filter(lambda t: not (t.isascii() and t.isdigit()))


# Each parameter with values that are wrong, and the words its message must start with.
BAD = {
    "limit": (st.one_of(st.integers(max_value=-1).map(str), st.integers(min_value=10**18, max_value=10**40).map(str),
                        not_digits()), "bad limit "),
    "from": (st.one_of(st.from_regex(r"[0-9]{1,3}|[0-9]{15,25}", fullmatch=True), st.sampled_from(
        ["0000", "20241301", "20240230", "2024-05-06", "2024 05"])), "from: bad timestamp "),
    "to": (st.one_of(st.from_regex(r"[0-9]{1,3}|[0-9]{15,25}", fullmatch=True), st.sampled_from(
        ["0000", "2024-05-06"])), "to: bad timestamp "),
    "closest": (st.sampled_from(["1", "202405060708091", "yesterday", "2024-05"]), "closest: bad timestamp "),
    "output": (not_digits().filter(lambda t: t not in OUTPUTS), "bad output "),
    "collapseTime": (st.one_of(st.sampled_from(["0", "15", "99", "014", "-8", "8.0"]), not_digits()), "bad collapseTime "),
    "matchType": (not_digits().filter(lambda t: t not in MATCH_TYPES), "bad matchType "),
    "sort": (not_digits().filter(lambda t: t not in SORTS), "bad sort "),
    "fl": (st.lists(st.sampled_from(FIELDS), max_size=3).flatmap(
        lambda known: not_digits().filter(lambda t: t not in FIELD_NAMES and "," not in t).map(
            lambda bogus: ",".join([*known, bogus]))), "bad field "),
    "filter": (st.one_of(st.sampled_from([r"~url:(a)\1", "~(?=x)", "~url:[", "!~status:(?<!a)"]),
                         not_digits().filter(lambda t: t not in FIELD_NAMES and ":" not in t and t[:1] not in "!=~")
                         .map(lambda bogus: f"{bogus}:200")), "bad f"),
    "url": (st.one_of(st.text(max_size=5).map(lambda t: f"http://news.example/{t}\x00"),
                      st.sampled_from(["http://x:99999/", "http://a:b/", "http://news.example/\x7f"])), "bad url "),
}


@settings(max_examples=400, deadline=None, database=None)
@given(bad=st.sampled_from(sorted(BAD)).flatmap(lambda name: st.tuples(st.just(name), BAD[name][0])),
       good=st.sampled_from(["", "&output=json", "&output=text", "&output=link", "&limit=1", "&sort=reverse", "&fl=url",
                             "&filter=status:200", "&collapseTime=8"]))
def test_each_bad_parameter_is_a_400_naming_it(archive: Archive, bad: tuple[str, str], good: str) -> None:
    name, value = bad
    query = f"url={escaped(PAGE)}{good}&{name}={escaped(value)}" if name != "url" else f"{name}={escaped(value)}{good}"
    status, content_type, answer = call(archive.app, f"/cdx?{query}")
    assert_clear_answer(status, content_type, answer)
    assert status == 400 and answer["message"].startswith(BAD[name][1]), (query, answer)


@pytest.mark.parametrize("target", [
    f"/cdx?url={PAGE}&to=9999",  # the end of time: no upper bound, not an overflow
    f"/cdx?url={PAGE}&closest=99991231235959",
    f"/cdx?url={PAGE}&closest=0001&limit=1",
])
def test_times_at_the_ends_of_the_calendar_are_answered(archive: Archive, target: str) -> None:
    status, _, body = call(archive.app, target)
    assert status == 200 and len(body.splitlines()) in (1, 2)


def test_accept_datetime_out_of_range_is_a_400(archive: Archive) -> None:
    status, _, answer = call(archive.app, f"/timegate/{PAGE}", {"Accept-Datetime": "Fri, 31 Dec 9999 23:59:59 -2359"})
    assert (status, answer) == (400, {"message": "bad Accept-Datetime 'Fri, 31 Dec 9999 23:59:59 -2359': give an HTTP "
                                                 "date such as 'Thu, 03 Nov 2016 12:00:00 GMT'"})


def test_a_url_without_a_key_is_a_400_on_every_endpoint(archive: Archive) -> None:
    for target in ["/cdx?url=http://x:99999/", "/timemap/link/http://x:99999/", "/timemap/json/http://x:99999/",
                   "/timegate/http://x:99999/",
                   "/id_/http://x:99999/", "/20240506070809id_/http://x:99999/",
                   "/api/article?url=http://x:99999/", "/api/chain?url=http://x:99999/"]:
        assert call(archive.app, target)[0::2] == (400, {"message": "bad url 'http://x:99999/': Port out of range 0-65535"})


def test_a_server_without_the_raw_target_finds_the_url_in_the_path(archive: Archive) -> None:
    """WSGI servers other than waitress give only the decoded path: it is quoted back without
    touching the URL's own delimiters (``http%3A//`` found nothing)."""
    for target in [f"/timegate/{PAGE}", f"/20240506070809id_/{PAGE}", "/timemap/link/http://news.example/%C3%A9t%C3%A9"]:
        assert call(archive.app, target, request_uri=False)[0::2] == call(archive.app, target)[0::2], target
    assert call(archive.app, f"/timegate/{PAGE}", request_uri=False)[0] == 302


def test_each_output_has_pywbs_content_type_and_the_json_timemap_is_the_json_rows(archive: Archive) -> None:
    for output, content_type in [("", "text/x-cdxj"), ("&output=cdxj", "text/x-cdxj"), ("&output=json", "text/x-ndjson"),
                                 ("&output=text", "text/plain"), ("&output=link", "application/link-format")]:
        status, got, body = call(archive.app, f"/cdx?url={escaped(PAGE)}{output}")
        assert (status, got, len(body.splitlines())) == (200, content_type, 2), output
    _, _, rows = call(archive.app, f"/cdx?url={escaped(PAGE)}&output=json")
    assert call(archive.app, f"/timemap/json/{PAGE}") == (200, "text/x-ndjson", rows)
    assert [json.loads(line)["url"] for line in rows.splitlines()] == [PAGE, PAGE]
    assert call(archive.app, "/timemap/json/http://news.example/never")[0::2] == (
        404, {"message": "http://news.example/never: no capture in the archive"})
