"""``secret create docker-registry --verify``: log in to the registry's ``/v2/`` as ``docker login`` does.

The Distribution API's handshake: ``GET /v2/`` answers 401 with ``WWW-Authenticate``; ``Basic``
means sending the credentials to ``/v2/`` itself, ``Bearer realm=...,service=...`` means asking the
realm for a token with them (Basic auth, ``?service=&account=``) and presenting that token to
``/v2/``. HTTPS first; a loopback registry may answer plain HTTP, as docker allows for localhost.
"""

from __future__ import annotations

import ipaddress
import re

import httpx2 as httpx

from injector.errors import SourceError

_PARAM = re.compile(r'(\w+)="([^"]*)"')


def _loopback(server: str) -> bool:
    host = server.rsplit(":", 1)[0] if server.count(":") == 1 else server
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def registry_base(server: str) -> list[str]:
    """The URLs to try for ``server`` (a host, ``host:port`` or a URL as written in docker configs)."""
    if server.startswith(("https://", "http://")):
        return [server.rstrip("/").removesuffix("/v1").removesuffix("/v2")]
    host = server.split("/", 1)[0]
    if host in ("docker.io", "index.docker.io"):
        host = "registry-1.docker.io"
    bases = [f"https://{host}"]
    if _loopback(host):
        bases.append(f"http://{host}")
    return bases


def verify_login(server: str, username: str, password: bytes, *, timeout: float = 10.0) -> None:
    """Raise SourceError unless the registry accepts ``username``/``password``; the message names the
    registry and what it answered, never the password."""
    last: str = "no answer"
    for base in registry_base(server):
        try:
            with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=True) as client:
                _login(client, base, username, password)
                return
        except httpx.HTTPError as exc:
            last = f"cannot reach {base}: {type(exc).__name__}"
    raise SourceError(last, source=f"registry {server}")


def _login(client: httpx.Client, base: str, username: str, password: bytes) -> None:
    where = f"registry {base}"
    first = client.get(f"{base}/v2/")
    if first.status_code == 200:
        return  # the registry asks for no credentials: any will do
    if first.status_code != 401:
        raise SourceError(f"GET /v2/ answered {first.status_code}, not 401", source=where)
    challenge = first.headers.get("www-authenticate", "")
    scheme = challenge.split(" ", 1)[0].lower()
    auth = httpx.BasicAuth(username.encode("utf-8"), password)
    if scheme == "basic":
        answer = client.get(f"{base}/v2/", auth=auth)
    elif scheme == "bearer":
        params = dict(_PARAM.findall(challenge))
        realm = params.pop("realm", "")
        if not realm:
            raise SourceError("Bearer challenge without a realm", source=where)
        query = {"account": username}
        if "service" in params:
            query["service"] = params["service"]
        token_answer = client.get(realm, params=query, auth=auth)
        if token_answer.status_code in (401, 403):
            raise SourceError(
                f"login refused: the token service answered {token_answer.status_code} for user {username}",
                source=where,
            )
        if token_answer.status_code != 200:
            raise SourceError(f"the token service answered {token_answer.status_code}", source=where)
        try:
            document = token_answer.json()
            token = document.get("token") or document.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise SourceError("the token service gave no token", source=where)
        answer = client.get(f"{base}/v2/", headers={"Authorization": f"Bearer {token}"})
    else:
        raise SourceError(f"unknown authentication scheme {scheme or '(none)'}", source=where)
    if answer.status_code in (401, 403):
        raise SourceError(f"login refused for user {username} ({answer.status_code})", source=where)
    if answer.status_code != 200:
        raise SourceError(f"GET /v2/ with credentials answered {answer.status_code}", source=where)
