"""A real HTTP/1.1 server for a `Site`, and the bundled demo pair on two loopback hosts.

The server is a transport only: it sends each reply's status, headers (in order, repeats
kept) and body as the site made them, adding a Content-Length when the reply has none, or
chunked framing when the reply asks for `Transfer-Encoding: chunked`. Pages hold absolute
links, so the server binds its port first and then builds the site for its base URL.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, NamedTuple, TypeVar

from archive.errors import cannot_listen
from syndicrawl.demo.articles import load_demo
from syndicrawl.demo.base import Site
from syndicrawl.demo.blogger import BloggerSite
from syndicrawl.demo.wordpress import WordPressSite

logger = logging.getLogger(__name__)

S = TypeVar("S", bound=Site)

# Small enough that an article page goes out in several chunks.
CHUNK_SIZE = 4096
# How often serve_forever checks for shutdown: stopping a server takes up to this long.
_POLL_SECONDS = 0.05


class Request(NamedTuple):
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: SiteServer[Any]

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (timeout tests do) is not a server fault: keep stderr quiet.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "syndicrawl-demo/1.0"
    sys_version = ""
    server: _HTTPServer

    def do_GET(self) -> None:
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        self._answer(with_body=False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class names it so
        logger.debug("%s %s", self.address_string(), format % args)

    def _answer(self, with_body: bool) -> None:
        owner = self.server.owner
        headers = dict(self.headers.items())
        owner.record(Request(self.command, self.path, headers))
        try:
            reply = owner.site.route(self.path, headers)
        except Exception:
            logger.exception("%s failed to answer %s %s", type(owner.site).__name__, self.command, self.path)
            self.send_error(500)
            return
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        chunked = "chunked" in (reply.header("Transfer-Encoding") or "").lower()
        has_body = reply.status >= 200 and reply.status not in (204, 304)
        if has_body and not chunked and reply.header("Content-Length") is None:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if not (with_body and has_body):
            return
        if chunked:
            for start in range(0, len(reply.body), CHUNK_SIZE):
                piece = reply.body[start : start + CHUNK_SIZE]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.wfile.write(reply.body)


class SiteServer(Generic[S]):
    """Serve the site `factory(base_url)` on `host`; use as a context manager.

    The port is bound at construction, so `base_url` is known before the site renders
    its pages; the server answers from `start()` (or `with`) until `stop()`.
    """

    def __init__(self, factory: Callable[[str], S], *, host: str = "127.0.0.1", port: int = 0) -> None:
        try:
            self._httpd = _HTTPServer((host, port))
        except OSError as exc:
            raise cannot_listen(host, port, exc) from exc
        self._httpd.owner = self
        bound_host, bound_port = self._httpd.server_address[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        try:
            self.site: S = factory(self.base_url)
        except BaseException:
            self._httpd.server_close()
            raise
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def url(self, path: str) -> str:
        """Return the absolute URL of `path` on this server."""
        return self.base_url + path

    @property
    def requests(self) -> list[Request]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the requests received so far (servers are shared by many tests)."""
        with self._lock:
            self._requests.clear()

    def record(self, request: Request) -> None:
        """Remember `request`; called by the handler threads."""
        with self._lock:
            self._requests.append(request)

    def start(self) -> SiteServer[S]:
        """Start answering requests in a daemon thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name=f"SiteServer {self.base_url}",
            daemon=True,
        )
        self._thread.start()
        logger.debug("serving %s at %s", type(self.site).__name__, self.base_url)
        return self

    def stop(self) -> None:
        """Stop answering, close the port and drop open keep-alive connections."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()
        with self._httpd.connections_lock:
            for connection in self._httpd.connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    logger.debug("connection already closed", exc_info=True)

    def __enter__(self) -> SiteServer[S]:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


@contextmanager
def serve_demo_sites(
    *, blog_address: tuple[str, int] = ("127.0.0.1", 0), rbn_address: tuple[str, int] = ("127.0.0.3", 0)
) -> Iterator[tuple[SiteServer[BloggerSite], SiteServer[WordPressSite]]]:
    """Serve the author's blog and the RBN repost site on two loopback hosts.

    Different hosts make them different sites to the crawler (robots.txt, politeness,
    allowed domains), as the real blogspot.com blog and the RBN site are.
    """
    blog, rbn = load_demo()
    with ExitStack() as stack:
        blog_server = stack.enter_context(
            SiteServer(
                lambda base: BloggerSite(blog.name, blog.posts, base_url=base, tagline=blog.tagline),
                host=blog_address[0],
                port=blog_address[1],
            )
        )
        rbn_server = stack.enter_context(
            SiteServer(
                lambda base: WordPressSite(rbn.name, rbn.posts, base_url=base, tagline=rbn.tagline),
                host=rbn_address[0],
                port=rbn_address[1],
            )
        )
        yield blog_server, rbn_server
