"""The Kubernetes API as a source of Secrets and ConfigMaps (I/O shell).

Built on lightkube (a maintained, typed client whose httpx transport runs under trio through
anyio). Its kubeconfig *parsing* is used as it is; its connection set-up is not, because it writes
embedded certificate and key data to temporary files. ``KubeClient`` replaces that one step:
the CA is loaded from memory (``cadata``), and a client certificate and key, which ``ssl`` loads
only from paths, are handed over as ``/proc/self/fd/N`` of memfds, which are not on disk.

Least privilege: every referenced object is fetched by name (``get``), so RBAC with
``resourceNames`` is enough.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2 as httpx
import lightkube
from lightkube.config import client_adapter
from lightkube.config.kubeconfig import KubeConfig, SingleConfig
from lightkube.core.exceptions import ApiError, ConfigError
from lightkube.core.generic_client import GenericAsyncClient
from lightkube.resources.core_v1 import ConfigMap, Secret

from injector.core.manifest import Document
from injector.core.objects import DATA_KINDS, DataObject, ObjectKey, ObjectSet, parse_data_object
from injector.errors import InjectorError, SourceError
from injector.settings import KubeSettings

RESOURCE_TYPES: Mapping[str, Any] = {"Secret": Secret, "ConfigMap": ConfigMap}
"""lightkube's class for each data kind."""


def load_config(settings: KubeSettings) -> SingleConfig:
    try:
        if (
            settings.kubeconfig is None
            and settings.service_host
            and os.path.exists(os.path.join(settings.service_account_dir, "token"))
        ):
            config = _in_cluster(settings)
        else:
            config = KubeConfig.from_file(settings.kubeconfig_file).get(settings.context)
    except (ConfigError, KeyError, OSError, ValueError) as exc:
        raise SourceError(f"cannot load Kubernetes configuration: {exc}", source="kubeconfig") from None
    if config is None:
        raise SourceError("no current context in the Kubernetes configuration", source="kubeconfig")
    return config


def _in_cluster(settings: KubeSettings) -> SingleConfig | None:
    """The in-cluster configuration (as KubeConfig.from_service_account, from settings, not os.environ).

    The token file is kept as such: it is read again whenever the API server answers 401, which is
    how a projected token rotated by the kubelet is picked up.
    """
    from lightkube.config.models import Cluster, User

    directory = settings.service_account_dir
    host, port = str(settings.service_host), settings.service_port
    host = f"[{host}]" if ":" in host else host
    token_file = os.path.join(directory, "token")
    with open(os.path.join(directory, "namespace")) as handle:
        namespace = handle.read().strip()
    return KubeConfig.from_one(
        cluster=Cluster(server=f"https://{host}:{port}", certificate_auth=os.path.join(directory, "ca.crt")),
        user=User(token_file=token_file),
        namespace=namespace,
    ).get()


def _memfd_path(name: str, data: bytes) -> tuple[int, str]:
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    os.write(fd, data)
    return fd, f"/proc/self/fd/{fd}"


def ssl_context(config: SingleConfig) -> ssl.SSLContext:
    """TLS for the cluster, with every piece of key material kept in memory."""
    cluster, user = config.cluster, config.user
    if cluster.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif cluster.certificate_auth_data:
        context = ssl.create_default_context(cadata=base64.b64decode(cluster.certificate_auth_data).decode())
    elif cluster.certificate_auth:
        context = ssl.create_default_context(cafile=str(config.abs_file(cluster.certificate_auth)))
    else:
        context = ssl.create_default_context()
    if user is not None and (user.client_cert or user.client_cert_data):
        opened: list[int] = []
        try:
            if user.client_cert_data:
                fd, cert_path = _memfd_path("client.crt", base64.b64decode(user.client_cert_data))
                opened.append(fd)
            else:
                cert_path = str(config.abs_file(user.client_cert))  # type: ignore[arg-type]
            if user.client_key_data:
                fd, key_path = _memfd_path("client.key", base64.b64decode(user.client_key_data))
                opened.append(fd)
            else:
                key_path = str(config.abs_file(user.client_key))  # type: ignore[arg-type]
            context.load_cert_chain(cert_path, key_path)
        finally:
            for fd in opened:
                os.close(fd)
    return context


class ExecAuth(client_adapter.ExecAuth):
    """Exec credential plugins, run with anyio (lightkube's own uses asyncio, which trio cannot run)."""

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        import json

        if self._last_bearer:
            request.headers["Authorization"] = self._last_bearer
            response = yield request
            if response.status_code != 401:
                return
        command, env = self._prepare()
        result = await anyio.run_process(command, env=env, check=False)
        if result.returncode != 0:
            raise SourceError(
                f"exec credential plugin {command[0]} exited with {result.returncode}", source="kubeconfig"
            )
        token = json.loads(result.stdout)["status"]["token"]
        request.headers["Authorization"] = self._last_bearer = f"Bearer {token}"
        yield request


def _auth(config: SingleConfig) -> httpx.Auth | None:
    user = config.user
    if user is not None and user.exec and not user.token and not user.token_file:
        return ExecAuth(user.exec)
    return client_adapter.user_auth(user)  # token, token file (re-read on 401), basic


def _adapter(config: SingleConfig, conn_parameters: client_adapter.ConnectionParams) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=config.cluster.server,
        auth=_auth(config),
        transport=httpx.AsyncHTTPTransport(verify=ssl_context(config)),
        timeout=conn_parameters.timeout,
        trust_env=False,
    )


class _InMemoryGenericClient(GenericAsyncClient):
    AdapterClient = staticmethod(_adapter)


class KubeClient(lightkube.AsyncClient):
    """lightkube's AsyncClient, connecting without writing key material to disk.

    lightkube builds its connection in ``GenericAsyncClient.AdapterClient``; the only change is
    that step (``_adapter``). The rest (requests, decoding, watches) is lightkube's own.
    """

    def __init__(self, config: SingleConfig, *, timeout: float = 10.0) -> None:
        # lightkube.AsyncClient.__init__ would build the default (temporary-file) adapter.
        self._timeout = httpx.Timeout(timeout)
        params = client_adapter.ConnectionParams(timeout=self._timeout, trust_env=False)
        self._client = _InMemoryGenericClient(params, config)


def describe_api_error(exc: ApiError, verb: str, resource: str, namespace: str, name: str) -> str:
    code = exc.status.code
    if code == 403:
        return (
            f'forbidden: cannot {verb} {resource} "{name}" in namespace "{namespace}" '
            "(grant it with a Role rule naming it in resourceNames)"
        )
    if code == 401:
        return "unauthorized: the API server did not accept the credentials"
    return f"API error {code} ({exc.status.reason or 'unknown'}) on {verb} {resource} {namespace}/{name}"


def to_data_object(raw: Mapping[str, Any], kind: str, server: str) -> tuple[DataObject | None, list[InjectorError]]:
    body = dict(raw)
    body["apiVersion"], body["kind"] = "v1", kind
    metadata = body.get("metadata") or {}
    resource = DATA_KINDS[kind].resource
    origin = f"{server}/api/v1/namespaces/{metadata.get('namespace')}/{resource}/{metadata.get('name')}"
    return parse_data_object(Document(origin, body), str(metadata.get("namespace") or "default"))


def server_of(client: KubeClient) -> str:
    return str(client.config.cluster.server)


async def get_object(client: KubeClient, key: ObjectKey) -> dict[str, Any] | None:
    """The object named by ``key`` as the API returns it, or None when it does not exist.

    Raises lightkube's ApiError for any other status, httpx's errors when the server is unreachable.
    """
    try:
        found = await client.get(RESOURCE_TYPES[key.kind], name=key.name, namespace=key.namespace)
    except ApiError as exc:
        if exc.status.code == 404:
            return None
        raise
    return dict(found.to_dict())


def unreachable(exc: BaseException) -> str:
    """Why a connection failed, as the system says it (``Connection refused``), not a class name."""
    pending: list[BaseException] = [exc]
    while pending:
        cause = pending.pop(0)
        if isinstance(cause, socket.gaierror) and cause.strerror:
            return str(cause.strerror)
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno)
        if isinstance(cause, TimeoutError | httpx.TimeoutException):
            return "timed out"
        if isinstance(cause, BaseExceptionGroup):
            pending += cause.exceptions
        pending += [chained for chained in (cause.__cause__, cause.__context__) if chained is not None]
    return type(exc).__name__


class UnreachableError(Exception):
    """The API server did not answer (raised by ``fetch`` when asked to, for a failover)."""


async def fetch(client: KubeClient, keys: Iterable[ObjectKey], *, raise_unreachable: bool = False) -> ObjectSet:
    """Get every object by name; a missing one is simply absent (the resolver decides if it matters)."""
    objects: dict[ObjectKey, DataObject] = {}
    errors: list[InjectorError] = []
    invalid: set[ObjectKey] = set()
    server = server_of(client)
    for key in sorted(set(keys)):
        try:
            raw = await get_object(client, key)
        except ApiError as exc:
            resource = DATA_KINDS[key.kind].resource
            errors.append(SourceError(describe_api_error(exc, "get", resource, key.namespace, key.name), source=server))
            continue
        except httpx.HTTPError as exc:
            if raise_unreachable:
                raise UnreachableError(unreachable(exc)) from None
            # One line for the server, not one per object: it is the server that is unreachable.
            errors.append(SourceError(f"cannot reach the API server: {unreachable(exc)}", source=server))
            break
        if raw is None:
            continue
        obj, problems = to_data_object(raw, key.kind, server)
        errors.extend(problems)
        if obj is not None:
            objects[obj.key] = obj
        else:
            invalid.add(key)
    return ObjectSet(objects, errors, frozenset(invalid))


@asynccontextmanager
async def open_client(settings: KubeSettings) -> AsyncIterator[KubeClient]:
    """A client for the API server of ``settings``, closed on exit (under a shielded deadline)."""
    import trio

    client = KubeClient(load_config(settings))
    try:
        yield client
    finally:
        with trio.move_on_after(5, shield=True):
            await client.close()


async def fetch_once(clusters: Sequence[KubeSettings], keys: Iterable[ObjectKey]) -> ObjectSet:
    """``fetch`` from the first of ``clusters`` that answers, with a client of its own."""
    wanted = sorted(set(keys))
    for settings in clusters[:-1]:
        async with open_client(settings) as client:
            with contextlib.suppress(UnreachableError):
                return await fetch(client, wanted, raise_unreachable=True)
    async with open_client(clusters[-1]) as client:
        return await fetch(client, wanted)


# -- writing Secrets (``injector secret``) -----------------------------------------------------------------


class ApiRefusalError(Exception):
    """The API server answered a write with an error Status: its code, reason and message."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason
        self.message = message


class SecretApi:
    """Secrets of one cluster (one kubeconfig context) read and written as JSON, with server-side dry runs.

    The connection is the one ``KubeClient`` makes (key material in memory); requests are plain
    JSON so that what is sent is exactly the manifest built (stringData, immutable...), and a delete
    carries preconditions (the uid and resourceVersion that were shown and confirmed).
    """

    def __init__(self, settings: KubeSettings, label: str) -> None:
        self.config = load_config(settings)
        self.label = label
        """How messages name this cluster: the context's name."""
        self.server = str(self.config.cluster.server)
        self.default_namespace = self.config.namespace
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> SecretApi:
        params = client_adapter.ConnectionParams(timeout=httpx.Timeout(10.0), trust_env=False)
        self._http = _adapter(self.config, params)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        import trio

        if self._http is not None:
            with trio.move_on_after(5, shield=True):
                await self._http.aclose()

    def _path(self, namespace: str, name: str | None = None) -> str:
        path = f"/api/v1/namespaces/{namespace}/secrets"
        return f"{path}/{name}" if name else path

    async def _request(
        self, method: str, path: str, *, body: Mapping[str, Any] | None = None, dry_run: bool = False
    ) -> dict[str, Any] | None:
        import json

        assert self._http is not None
        params = {"dryRun": "All"} if dry_run else {}
        if method in ("POST", "PUT"):
            params["fieldValidation"] = "Strict"
        content = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise SourceError(f"cannot reach the API server: {unreachable(exc)}", source=self.where) from None
        if method == "GET" and response.status_code == 404:
            return None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code >= 400:
            answer = answer if isinstance(answer, dict) else {}
            raise ApiRefusalError(
                response.status_code,
                str(answer.get("reason") or ""),
                str(answer.get("message") or response.reason_phrase),
            )
        return answer if isinstance(answer, dict) else {}

    @property
    def where(self) -> str:
        return f"context {self.label} ({self.server})"

    async def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        return await self._request("GET", self._path(namespace, name))

    async def create(self, body: Mapping[str, Any], *, dry_run: bool) -> dict[str, Any]:
        namespace = body["metadata"]["namespace"]
        return await self._request("POST", self._path(namespace), body=body, dry_run=dry_run) or {}

    async def replace(self, body: Mapping[str, Any], *, dry_run: bool) -> dict[str, Any]:
        metadata = body["metadata"]
        return (
            await self._request("PUT", self._path(metadata["namespace"], metadata["name"]), body=body, dry_run=dry_run)
            or {}
        )

    async def delete(self, namespace: str, name: str, *, uid: str, resource_version: str, dry_run: bool) -> None:
        options = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "preconditions": {"uid": uid, "resourceVersion": resource_version},
        }
        await self._request("DELETE", self._path(namespace, name), body=options, dry_run=dry_run)
