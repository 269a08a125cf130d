"""The `/metrics` endpoint: prometheus_client's WSGI app on its threading WSGI server.

The server runs on a daemon thread of its own, so a scrape (rendering every family) never
holds up the engine's event loop beyond the interpreter's own switching, and a server
left running can never keep the process from exiting. prometheus_client's metric objects
are thread-safe; the rolling windows take their own lock (windows.py).

Around prometheus_client's app a few lines keep the endpoint answering as it always has:
`/metrics` (GET or HEAD) in the text format Grafana's Prometheus has always read, whatever
the scraper offers (no OpenMetrics, no gzip: the same bytes as before), a link on `/`,
404 elsewhere, 405 for other methods, and HTTP/1.1 status lines with one request per
connection.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any
from wsgiref.simple_server import ServerHandler, WSGIRequestHandler

from prometheus_client import CONTENT_TYPE_LATEST, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import CollectorRegistry

log = logging.getLogger("dialer.outputs.metrics")

# The Prometheus text format (same body as `generate_latest`); pinned so a scraper that
# prefers OpenMetrics still gets the exposition the dashboards were written against.
_TEXT_FORMAT = "text/plain; version=1.0.0; escaping=underscores"

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
_StartResponse = Callable[..., Callable[[bytes], object]]
_App = Callable[[dict[str, Any], _StartResponse], Iterable[bytes]]


def metrics_app(registry: CollectorRegistry) -> _App:
    """The WSGI app: `/metrics` from `registry`, a link on `/`, 404 and 405 otherwise."""
    prometheus = make_wsgi_app(registry, disable_compression=True)

    def app(environ: dict[str, Any], start_response: _StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        if method not in ("GET", "HEAD"):
            return _reply(start_response, "405 Method Not Allowed", b"GET only\n", "text/plain")
        if path == "/metrics":
            answer: list[Any] = []

            def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
                answer[:] = [status, headers]
                return lambda _: None

            scrape = {**environ, "REQUEST_METHOD": "GET", "HTTP_ACCEPT": _TEXT_FORMAT}
            body = b"".join(prometheus(scrape, keep))
            status, headers = answer
            # the Content-Type generate_latest() has always been served with (no escaping=)
            headers = [(k, CONTENT_TYPE_LATEST if k == "Content-Type" else v) for k, v in headers]
            start_response(status, [*headers, ("Content-Length", str(len(body)))])
            return [body if method == "GET" else b""]
        if path == "/":
            return _reply(start_response, "200 OK", b'<a href="/metrics">/metrics</a>\n', "text/html")
        return _reply(start_response, "404 Not Found", b"not found\n", "text/plain")

    return app


def _reply(start_response: _StartResponse, status: str, body: bytes, content_type: str) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


class _ScrapeHandler(ServerHandler):
    http_version = "1.1"  # the status line scrapers have always seen

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        self.headers["Connection"] = "close"  # type: ignore[attr-defined]  # one scrape per connection

    def log_exception(self, exc_info: _ExcInfo) -> None:
        log.error("metrics: a scrape failed", exc_info=exc_info)


class _RequestHandler(WSGIRequestHandler):
    timeout = 10  # a client that connects and sends nothing is dropped

    def handle(self) -> None:
        # wsgiref's own handle(), with the handler above (the stdlib one says HTTP/1.0)
        self.raw_requestline = self.rfile.readline(65537)
        if len(self.raw_requestline) > 65536:
            self.requestline = self.request_version = self.command = ""
            self.send_error(414)
            return
        if not self.parse_request():
            return
        handler = _ScrapeHandler(
            self.rfile, self.wfile, self.get_stderr(), self.get_environ(), multithread=True  # type: ignore[arg-type]
        )
        handler.request_handler = self  # type: ignore[attr-defined]
        handler.run(self.server.get_app())  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged (Prometheus scrapes every few seconds)."""


class MetricsServer:
    """Serves one registry on host:port from a daemon thread until `stop`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._app = metrics_app(registry)
        self._server: ThreadingWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self, host: str, port: int) -> int:
        """Bind (port 0: an ephemeral port) and serve; returns the bound port. Raises OSError."""
        family, *_, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        # prometheus_client picks the address family the same way (IPv6 hosts work too)
        server_class = type("MetricsWSGIServer", (ThreadingWSGIServer,), {"address_family": family})
        server: ThreadingWSGIServer = server_class((sockaddr[0], port), _RequestHandler)
        server.set_app(self._app)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="dialer-metrics", daemon=True
        )
        self._thread.start()
        return int(server.server_address[1])

    def stop(self) -> None:
        """Stop serving and close the socket (blocks up to one poll interval)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
