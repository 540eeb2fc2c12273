"""``--verify``: the Distribution login handshake, Basic and Bearer, against a small token registry.

The Basic case runs against Debian's real docker-registry in tests/test_secret.py; a registry that
hands out tokens needs a token service, which this stand-in plays (as Docker Hub's and Harbor's do).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from injector.errors import SourceError
from injector.shell.registry import registry_base, verify_login

TOKEN = "t0ken"


class TokenRegistry(BaseHTTPRequestHandler):
    seen: list[tuple[str, dict[str, list[str]]]]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _answer(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.seen.append((url.path, parse_qs(url.query)))
        auth = self.headers.get("Authorization", "")
        if url.path == "/token":
            if auth == "Basic " + base64.b64encode(b"robot:right").decode():
                self._answer(200, {"token": TOKEN})
            else:
                self._answer(401, {"errors": [{"code": "UNAUTHORIZED"}]})
        elif auth == f"Bearer {TOKEN}":
            self._answer(200, {})
        else:
            port = self.server.server_address[1]  # type: ignore[index]
            challenge = f'Bearer realm="http://127.0.0.1:{port}/token",service="registry.test"'
            self._answer(401, {"errors": []}, {"WWW-Authenticate": challenge})


@pytest.fixture
def token_registry() -> Iterator[tuple[str, list[tuple[str, dict[str, list[str]]]]]]:
    seen: list[tuple[str, dict[str, list[str]]]] = []
    handler = type("Handler", (TokenRegistry,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_bearer_login_gets_a_token_with_the_credentials_and_presents_it(token_registry: Any) -> None:
    host, seen = token_registry

    verify_login(host, "robot", b"right")

    token_requests = [query for path, query in seen if path == "/token"]
    assert [{"account": ["robot"], "service": ["registry.test"]}] == token_requests
    assert "/v2/" == seen[-1][0]


def test_bearer_login_with_a_wrong_password_is_refused_without_showing_it(token_registry: Any) -> None:
    host, _ = token_registry

    with pytest.raises(SourceError) as refused:
        verify_login(host, "robot", b"wrong-secret")

    assert "the token service answered 401 for user robot" in str(refused.value)
    assert "wrong-secret" not in str(refused.value)


@pytest.mark.parametrize(
    ("server", "bases"),
    [
        ("registry.example:5000", ["https://registry.example:5000"]),
        ("docker.io", ["https://registry-1.docker.io"]),
        ("127.0.0.1:5000", ["https://127.0.0.1:5000", "http://127.0.0.1:5000"]),
        ("localhost", ["https://localhost", "http://localhost"]),
        ("https://index.docker.io/v1/", ["https://index.docker.io"]),
    ],
)
def test_registry_addresses(server: str, bases: list[str]) -> None:
    assert bases == registry_base(server)
