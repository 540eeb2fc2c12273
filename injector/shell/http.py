"""A minimal HTTP/1.1 endpoint under trio, for probes and metrics: GET and HEAD, one request per connection.

It knows nothing of what it serves: ``routes`` maps a path to a function giving the status line,
the content type and the body at the time of the request.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from functools import partial
from typing import NamedTuple

import trio

from injector.shell.report import Reporter

MAX_REQUEST = 8192
READ_TIMEOUT = 5.0
TEXT = "text/plain; charset=utf-8"


class Response(NamedTuple):
    status: str
    """``200 OK``, ``503 Service Unavailable``..."""
    body: bytes
    content_type: str = TEXT


Routes = Mapping[str, Callable[[], Response]]


async def _read_request_line(stream: trio.abc.Stream) -> list[bytes]:
    request = b""
    with trio.move_on_after(READ_TIMEOUT):
        while b"\r\n\r\n" not in request and len(request) < MAX_REQUEST:
            chunk = await stream.receive_some(1024)
            if not chunk:
                break
            request += chunk
    return request.split(b"\r\n", 1)[0].split()


def _respond(line: list[bytes], routes: Routes) -> Response:
    if len(line) < 2 or line[0] not in (b"GET", b"HEAD"):
        return Response("405 Method Not Allowed", b"GET only\n")
    path = line[1].decode("ascii", "replace").split("?")[0]
    route = routes.get(path)
    return route() if route is not None else Response("404 Not Found", b"not found\n")


async def _handle(stream: trio.abc.Stream, *, routes: Routes) -> None:
    async with stream:
        with contextlib.suppress(trio.BrokenResourceError):  # the client went away: nothing to answer
            line = await _read_request_line(stream)
            response = _respond(line, routes)
            head = (
                f"HTTP/1.1 {response.status}\r\nContent-Type: {response.content_type}\r\n"
                f"Content-Length: {len(response.body)}\r\nConnection: close\r\n\r\n"
            ).encode("ascii")
            await stream.send_all(head + (response.body if line[:1] != [b"HEAD"] else b""))


async def serve_http(
    address: tuple[str, int],
    routes: Routes,
    reporter: Reporter,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Answer requests on ``address`` (host, port) until cancelled; ``started()`` once listening."""
    host, port = address
    listeners = await trio.open_tcp_listeners(port, host=host)
    reporter.event("listening", address=f"{host}:{port}")
    task_status.started()
    await trio.serve_listeners(partial(_handle, routes=routes), listeners)
