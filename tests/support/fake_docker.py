"""A stand-in Docker engine on a unix socket that records what the real docker CLI sends.

It lets tests use the real ``docker`` client as the parser of ``--env-file`` without a running
engine: the CLI parses the file, then posts the resulting ``Env`` list to ``containers/create``,
which this stand-in captures and refuses.
"""

from __future__ import annotations

import json
import os
import shutil
import socketserver
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    captured: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def address_string(self) -> str:
        return "docker-cli"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _reply(self, code: int, body: dict[str, Any] | None = None) -> None:
        payload = json.dumps(body or {}).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Api-Version", "1.45")
        self.send_header("Ostype", "linux")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_HEAD(self) -> None:
        self._reply(200)

    def do_GET(self) -> None:
        if self.path.endswith("/_ping"):
            self._reply(200)
        else:
            self._reply(404, {"message": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if "/containers/create" in self.path:
            self.server.captured.append(json.loads(body))
            self._reply(500, {"message": "fake engine: captured"})
        else:
            self._reply(404, {"message": "not found"})


def docker_cli() -> str | None:
    return shutil.which("docker")


@contextmanager
def fake_engine() -> Iterator[_Server]:
    directory = tempfile.mkdtemp(prefix="fake-docker-")
    server = _Server(os.path.join(directory, "docker.sock"), _Handler)
    server.captured = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(directory, ignore_errors=True)


def env_as_docker_reads_it(env_file_path: str) -> tuple[list[str] | None, str]:
    """Run the real docker CLI with ``--env-file``; returns the Env list it sent, or its error."""
    cli = docker_cli()
    assert cli is not None
    with fake_engine() as server, tempfile.TemporaryDirectory(prefix="docker-config-") as config:
        socket_path = server.server_address
        result = subprocess.run(
            [cli, "run", "--rm", "--env-file", env_file_path, "example/image", "true"],
            env={
                "DOCKER_HOST": f"unix://{socket_path}",
                "PATH": os.environ.get("PATH", ""),
                "HOME": tempfile.gettempdir(),
                "DOCKER_CONFIG": config,
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if server.captured:
            return server.captured[0].get("Env") or [], result.stderr
        return None, result.stderr
