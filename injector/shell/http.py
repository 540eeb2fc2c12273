"""A minimal HTTP/1.1 endpoint under trio: probes and metrics (GET, HEAD) and, for the webhook, POST with a body
of bounded size, over TLS, with connections kept alive.

It knows nothing of what it serves: ``routes`` maps a path to a function giving the response at the time of
the request, ``post`` a path to a function of the request's body. A request it cannot read gets a 4xx with a
one-line reason and the connection is closed; a handler that fails gets a 500, never a crash of the server.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple

import trio

from injector.errors import Setting, UsageError
from injector.shell.report import Reporter

MAX_REQUEST = 8192
"""Largest request line and headers."""
READ_TIMEOUT = 5.0
"""Seconds a client has to send a whole request once it started (or, kept alive, to start the next one)."""
KEEP_ALIVE_TIMEOUT = 60.0
MAX_DISCARD = 16 * 1024 * 1024
"""Most of a refused body read (and dropped) before the refusal is sent."""
TEXT = "text/plain; charset=utf-8"


class Response(NamedTuple):
    status: str
    """``200 OK``, ``503 Service Unavailable``..."""
    body: bytes
    content_type: str = TEXT


Routes = Mapping[str, Callable[[], Response]]
"""GET (and HEAD) routes."""
PostRoutes = Mapping[str, Callable[[bytes], Response]]
"""POST routes: the body in, the response out."""


class _Request(NamedTuple):
    method: str
    path: str
    body: bytes
    keep_alive: bool


class _RefusedError(Exception):
    """The request cannot be served; ``response`` says why, and the connection is closed after it."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def _refuse(status: str, reason: str) -> _RefusedError:
    return _RefusedError(Response(status, reason.encode() + b"\n"))


class _Connection:
    """One client connection: requests are read from it in turn (bytes past one request start the next)."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self.buffer = b""

    async def _more(self) -> bool:
        chunk = await self.stream.receive_some(65536)
        self.buffer += chunk
        return bool(chunk)

    async def read_request(self, max_body: int, timeout: float) -> _Request | None:
        """The next request; None when the client closed the connection (or stayed silent) between requests."""
        with trio.move_on_after(timeout) as waiting:
            while not self.buffer:
                if not await self._more():
                    return None
        if waiting.cancelled_caught:
            return None
        with trio.fail_after(READ_TIMEOUT):
            while b"\r\n\r\n" not in self.buffer:
                if len(self.buffer) > MAX_REQUEST:
                    raise _refuse("431 Request Header Fields Too Large", "request head too large")
                if not await self._more():
                    return None
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            if len(head) > MAX_REQUEST:
                raise _refuse("431 Request Header Fields Too Large", "request head too large")
            line, *header_lines = head.decode("latin-1").split("\r\n")
            parts = line.split()
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                raise _refuse("400 Bad Request", "not an HTTP/1.x request line")
            method, target, version = parts
            headers = {}
            for header in header_lines:
                name, colon, value = header.partition(":")
                if not colon:
                    raise _refuse("400 Bad Request", "malformed header line")
                headers[name.strip().lower()] = value.strip()
            if "transfer-encoding" in headers:
                raise _refuse("501 Not Implemented", "chunked bodies are not supported: send Content-Length")
            length_text = headers.get("content-length", "0")
            if not length_text.isdigit():
                raise _refuse("400 Bad Request", "Content-Length is not a number")
            length = int(length_text)
            if length > max_body:
                # Read what the client sends before answering (up to a bound), or it may never see the answer.
                await self.discard(min(length, MAX_DISCARD))
                raise _refuse("413 Content Too Large", f"body larger than {max_body} bytes")
            while len(self.buffer) < length:
                if not await self._more():
                    raise _refuse("400 Bad Request", "body shorter than Content-Length")
            body, self.buffer = self.buffer[:length], self.buffer[length:]
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
        return _Request(method, target.split("?")[0], body, keep_alive)

    async def discard(self, count: int) -> None:
        """Read and drop ``count`` bytes, those already read included (the connection is closed after)."""
        remaining = count - len(self.buffer)
        self.buffer = b""
        while remaining > 0:
            chunk = await self.stream.receive_some(min(65536, remaining))
            if not chunk:
                return
            remaining -= len(chunk)

    async def send(self, response: Response, *, head_only: bool, keep_alive: bool) -> None:
        head = (
            f"HTTP/1.1 {response.status}\r\nContent-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\nConnection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        ).encode("ascii")
        await self.stream.send_all(head + (b"" if head_only else response.body))


def _respond(request: _Request, routes: Routes, post: PostRoutes, reporter: Reporter) -> Response:
    get_route, post_route = routes.get(request.path), post.get(request.path)
    if request.method in ("GET", "HEAD") and get_route is not None:
        handler: Callable[[], Response] = get_route
    elif request.method == "POST" and post_route is not None:
        handler = partial(post_route, request.body)
    elif get_route is not None or post_route is not None:
        return Response("405 Method Not Allowed", f"{'GET' if get_route else 'POST'} only\n".encode())
    else:
        return Response("404 Not Found", b"not found\n")
    try:
        return handler()
    except Exception as exc:  # noqa: BLE001 - a bug in a handler: answer for it, keep serving everyone else
        reporter.event("internal-error", path=request.path, error=type(exc).__name__)
        return Response("500 Internal Server Error", b"internal error\n")


async def _handle(
    stream: trio.abc.Stream,
    *,
    routes: Routes,
    post: PostRoutes,
    tls: Callable[[], ssl.SSLContext] | None,
    max_body: int,
    keep_alive: bool,
    reporter: Reporter,
) -> None:
    if tls is not None:
        stream = trio.SSLStream(stream, tls(), server_side=True)
    async with stream:
        # The client went away, or its TLS handshake failed: nothing to answer.
        with contextlib.suppress(trio.BrokenResourceError, trio.TooSlowError, trio.ClosedResourceError):
            connection = _Connection(stream)
            timeout = READ_TIMEOUT
            while True:
                try:
                    request = await connection.read_request(max_body, timeout)
                except _RefusedError as refused:
                    await connection.send(refused.response, head_only=False, keep_alive=False)
                    return
                if request is None:
                    return
                response = _respond(request, routes, post, reporter)
                again = keep_alive and request.keep_alive
                await connection.send(response, head_only=request.method == "HEAD", keep_alive=again)
                if not again:
                    return
                timeout = KEEP_ALIVE_TIMEOUT


async def serve_http(
    address: tuple[str, int],
    routes: Routes,
    reporter: Reporter,
    *,
    post: PostRoutes | None = None,
    tls: Callable[[], ssl.SSLContext] | None = None,
    max_body: int = 0,
    keep_alive: bool = False,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Answer requests on ``address`` (host, port) until cancelled; ``started()`` once listening.

    ``tls`` gives the TLS context for each new connection (so that a renewed certificate is taken up);
    ``max_body`` bounds POST bodies; ``keep_alive`` serves several requests per connection.
    """
    host, port = address
    try:
        listeners = await trio.open_tcp_listeners(port, host=host)
    except OSError as exc:
        raise UsageError((Setting("listen"), f" {host}:{port}: cannot listen: {exc.strerror}")) from None
    reporter.event("listening", address=f"{host}:{port}")
    task_status.started()
    handle = partial(
        _handle, routes=routes, post=post or {}, tls=tls, max_body=max_body, keep_alive=keep_alive, reporter=reporter
    )
    await trio.serve_listeners(handle, listeners)
