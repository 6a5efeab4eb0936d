"""The HTTP side of the fake servers (standard library only): a threaded loopback server, and a
request handler that routes each request to an endpoint of its `FakeServer`, reads bounded JSON
bodies, sends JSON answers and error bodies, streams clip files, and hangs up on purpose."""

from __future__ import annotations

import json
import logging
import re
import shutil
import socket
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from .server import FakeServer

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answer in the shape OpenAI-style APIs share (Together's among them)."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def invalid(message: str, param: str | None, code: str = "invalid_value") -> ApiError:
    """A 400 for a request the API refuses."""
    return ApiError(400, message, param=param, code=code)


class LoopbackServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default listen backlog (5) makes the 6th simultaneous connection wait for a
    # SYN retry (1 s), which real APIs behind load balancers never do.
    request_queue_size = 128
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (timeouts, the faults we inject) are routine, not tracebacks.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            log.debug("%s: connection from %s ended: %s", self.fake.label, client_address, exc)
            return
        log.exception("%s: error while answering %s", self.fake.label, client_address)


Endpoint = Callable[["FakeHandler", "re.Match[str]"], None]
Route = tuple[str, "re.Pattern[str]", Endpoint]  # (method, path pattern, endpoint)


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end
    server: LoopbackServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @property
    def fake(self) -> FakeServer:
        return self.server.fake

    @property
    def server_version(self) -> str:  # type: ignore[override]  # each fake names itself
        return self.fake.server_version

    # ---- routing ----
    def do_POST(self) -> None:  # noqa: N802
        self._safely(self._route)

    def do_GET(self) -> None:  # noqa: N802
        self._safely(self._route)

    def do_PUT(self) -> None:  # noqa: N802  # uploads to signed URLs
        self._safely(self._route)

    def _safely(self, route: Callable[[], None]) -> None:
        # A bug here must answer 500, not drop the connection (which a client reads as ambiguous).
        try:
            route()
        except (ConnectionError, TimeoutError):
            raise
        except Exception:  # noqa: BLE001
            log.exception("%s: internal error on %s %s", self.fake.label, self.command, self.path)
            self.close_connection = True
            self.send_error_answer(ApiError(500, "Internal server error (fake).", type_="server_error"))

    def _route(self) -> None:
        path = urlsplit(self.path).path
        if self.command == "POST":
            path = path.rstrip("/")
        for method, pattern, endpoint in self.fake.routes():
            match = pattern.fullmatch(path) if method == self.command else None
            if match:
                return endpoint(self, match)
        if self.command in ("POST", "PUT"):
            self._discard(int(self.headers.get("Content-Length") or 0))
        self.send_error_answer(ApiError(404, f"Unknown path: {self.command} {path}", code="not_found"))

    # ---- endpoints (routes name them) ----
    def serve_create(self, match: re.Match[str]) -> None:
        raw = self._read_body()
        if raw is None:
            return
        if not self.fake.authorized(self.headers.get("Authorization")):
            self.fake.count("rejected")
            return self.send_error_answer(self.fake.unauthorized())
        outcome, result = self.fake.create(raw)
        if outcome in ("drop", "drop_after"):
            return self._drop()
        if isinstance(result, ApiError):
            return self.send_error_answer(result)
        delay = self.fake.faults.create_delay
        if delay:
            time.sleep(delay)
        self.send_json(200, result)

    def serve_job(self, match: re.Match[str]) -> None:
        if not self.fake.authorized(self.headers.get("Authorization")):
            return self.send_error_answer(self.fake.unauthorized())
        outcome, result = self.fake.get(match.group(1), self._base_url())
        if outcome == "drop":
            return self._drop()
        if isinstance(result, ApiError):
            return self.send_error_answer(result)
        self.send_json(200, result)

    def serve_file(self, match: re.Match[str]) -> None:
        outcome, result = self.fake.open_file(match.group(1))
        if isinstance(result, ApiError):
            if result.status == 403:  # signed-URL stores answer in their own dialect
                return self._send(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired"
                                       b"</Message></Error>", "application/xml")
            return self.send_error_answer(result)
        size = result.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with result.open("rb") as f:
            if outcome == "truncate":
                self.wfile.write(f.read(size // 2))
                self.wfile.flush()
                return self._drop()
            delay = self.fake.faults.download_delay
            if delay > 0:  # half now, the rest later: a slow transfer
                self.wfile.write(f.read(size // 2))
                self.wfile.flush()
                time.sleep(delay)
            shutil.copyfileobj(f, self.wfile, 64 * 1024)

    def serve_stats(self, match: re.Match[str]) -> None:
        self.send_json(200, self.fake.stats())

    def serve_reset(self, match: re.Match[str]) -> None:
        if self._read_body() is None:
            return
        self.fake.reset()
        self.send_json(200, {"ok": True})

    def serve_faults(self, match: re.Match[str]) -> None:
        raw = self._read_body()
        if raw is None:
            return
        try:
            changes = json.loads(raw or b"{}")
            faults = self.fake.set_faults(**changes)
        except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            return self.send_error_answer(invalid(str(exc), None))
        self.send_json(200, faults)

    # ---- plumbing ----
    def _base_url(self) -> str:
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}"

    def _read_body(self) -> bytes | None:
        """The body, or None once the request has been answered with an error."""
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                self.send_error_answer(ApiError(411, "Content-Length is required.", code="length_required"))
                return None
            return b""
        size = int(length)
        if size > self.fake.max_body_bytes:
            self._discard(size)
            self.send_error_answer(ApiError(413, f"Request body is larger than {self.fake.max_body_bytes} bytes.",
                                            code="request_too_large"))
            return None
        return self.rfile.read(size)

    def _discard(self, size: int) -> None:
        while size > 0:
            chunk = self.rfile.read(min(size, 1 << 20))
            if not chunk:
                break
            size -= len(chunk)

    def _drop(self) -> None:
        """Close without answering, as a crashed proxy would."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send_error_answer(self, err: ApiError) -> None:
        self.send_json(err.status, self.fake.error_body(err), err.headers)

    def send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def _send(self, status: int, payload: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # Request lines and status codes only: headers (and so the key) are never logged.
        log.info("%s %s", self.address_string(), format % args)
