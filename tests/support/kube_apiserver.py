"""A small stand-in Kubernetes API server for tests: core/v1 Secrets, ConfigMaps and Pods.

Faithful where clients depend on it: discovery, bearer-token authentication, RBAC on verbs and
resourceNames, get/list/create/update/delete, ``fieldSelector=metadata.name=``, watch from a
resourceVersion with bookmarks and ``410 Expired`` for compacted versions, and ``Status`` bodies
on errors as the real API server writes them. The real ``kubectl`` works against it.

Writes behave as the real API server's do for what injector relies on: ``dryRun=All`` validates,
authorises and answers without storing; an update whose ``metadata.resourceVersion`` is not the
stored one is a ``409 Conflict``, as is a delete whose preconditions (uid, resourceVersion) fail; a
Secret is validated as ValidateSecret does (name, keys, per-type required keys, size, ``immutable``),
answering ``422 Invalid`` with the causes.

Faults can be injected: drop every open watch, fail the next requests with a code, delay
responses, compact history (so old resourceVersions expire), or restart (watches dropped,
history gone).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

RESOURCES = {
    "secrets": ("Secret", "secret"),
    "configmaps": ("ConfigMap", "configmap"),
    "pods": ("Pod", "pod"),
}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Rule:
    """One RBAC rule: verbs on resources (in a namespace, or all), optionally only some names."""

    verbs: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str] | None = None
    namespace: str | None = None

    def allows(self, verb: str, resource: str, namespace: str, name: str | None) -> bool:
        if verb not in self.verbs and "*" not in self.verbs:
            return False
        if resource not in self.resources and "*" not in self.resources:
            return False
        if self.namespace is not None and self.namespace != namespace:
            return False
        if self.resource_names is not None:
            # As in Kubernetes: resourceNames can only restrict requests that name the object
            # (list/watch must select it with fieldSelector=metadata.name=).
            return name is not None and name in self.resource_names
        return True


def rule(
    verbs: Iterable[str], resources: Iterable[str], names: Iterable[str] | None = None, namespace: str | None = None
) -> Rule:
    return Rule(frozenset(verbs), frozenset(resources), None if names is None else frozenset(names), namespace)


ADMIN = (rule(["*"], ["*"]),)


@dataclass
class Account:
    user: str
    rules: tuple[Rule, ...]


INJECTOR_USER = "system:serviceaccount:shop:injector"


def injector_accounts(*names: str, resources: Iterable[str] = ("secrets",)) -> dict[str, Account]:
    """An admin (token ``admin-token``) and injector's service account (``injector-token``), which may only
    get, watch and list (by name) the given objects in namespace shop."""
    reader = rule(["get", "watch", "list"], resources, names=names, namespace="shop")
    return {"admin-token": Account("admin", ADMIN), "injector-token": Account(INJECTOR_USER, (reader,))}


@dataclass
class Faults:
    fail_next: list[int] = field(default_factory=list)
    """Status codes for the next requests (500, 429...), one per request."""
    delay: float = 0.0
    fail_writes: int | None = None
    """A status code for every write that is not a dry run (storage failing after validation passed)."""


class Store:
    """Objects by (resource, namespace, name), with a resourceVersion counter and event history."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.version = 100
        self.history: list[tuple[int, str, str, dict[str, Any]]] = []
        self.oldest = 100
        """Events with resourceVersion <= oldest are compacted: watching from before it gives 410."""
        self.generation = 0
        """Bumped by restarts and dropped watches: open watch streams end when it changes."""

    def record(self, resource: str, kind: str, obj: dict[str, Any]) -> None:
        self.history.append((self.version, resource, kind, json.loads(json.dumps(obj))))
        self.lock.notify_all()


class ApiServer:
    """Start with ``start()``; ``url``, ``ca_pem`` (HTTPS), ``stop()``."""

    def __init__(self, accounts: dict[str, Account], *, tls: bool = False, bookmark_interval: float = 1.0) -> None:
        self.accounts = accounts
        self.store = Store()
        self.faults = Faults()
        self.tls = tls
        self.bookmark_interval = bookmark_interval
        self.requests: list[tuple[str, str, str]] = []
        """(method, path with query, user) of every request, for tests counting API calls."""
        self.ca_pem = b""
        self._tls: ssl.SSLContext | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle and faults ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> ApiServer:
        handler = type("Handler", (_Handler,), {"api": self})
        server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        server.daemon_threads = True
        if self.tls:
            if self._tls is None:  # one certificate for the server's life: clients trust it across restarts
                self._tls = self._tls_context()
            server.socket = self._tls.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="kube-apiserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self.drop_watches()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop listening (clients get connection refused), forget history, listen again on the same port."""
        self.stop()
        time.sleep(down_for)
        with self.store.lock:
            self.store.oldest = self.store.version
            self.store.history.clear()
        self.start()

    def drop_watches(self) -> None:
        with self.store.lock:
            self.store.generation += 1
            self.store.lock.notify_all()

    def compact(self) -> None:
        """Forget history: watches from any earlier resourceVersion now get 410 Expired."""
        with self.store.lock:
            self.store.oldest = self.store.version
            self.store.history.clear()

    def _tls_context(self) -> ssl.SSLContext:
        self.ca_pem, key_pem = self_signed("kube-apiserver", server=True)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # ssl loads keys only from paths: a memfd's path keeps even this test key off the disk.
        fd = os.memfd_create("apiserver.pem")
        try:
            os.write(fd, self.ca_pem + key_pem)
            context.load_cert_chain(f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
        return context

    def kubeconfig(self, token: str, *, namespace: str = "shop", user: dict[str, Any] | None = None) -> dict[str, Any]:
        """A kubeconfig for this server: its CA embedded, the given token (and extra user fields)."""
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self.ca_pem).decode()
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "test",
            "clusters": [{"name": "test", "cluster": cluster}],
            "users": [{"name": "user", "user": {"token": token, **(user or {})} if token else dict(user or {})}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": "user", "namespace": namespace}}],
        }

    # -- object access for tests -------------------------------------------------------------------------

    def put(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or update an object directly (as another client would)."""
        kind = obj["kind"]
        resource = next(r for r, (k, _) in RESOURCES.items() if k == kind)
        namespace = obj["metadata"].get("namespace", "default")
        with self.store.lock:
            existing = self.store.objects.get((resource, namespace, obj["metadata"]["name"]))
            return self._save(resource, namespace, obj, existing)

    def remove(self, kind: str, namespace: str, name: str) -> None:
        resource = next(r for r, (k, _) in RESOURCES.items() if k == kind)
        with self.store.lock:
            obj = self.store.objects.pop((resource, namespace, name))
            self.store.version += 1
            obj["metadata"]["resourceVersion"] = str(self.store.version)
            self.store.record(resource, "DELETED", obj)

    def _save(
        self, resource: str, namespace: str, obj: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        store = self.store
        obj = json.loads(json.dumps(obj))
        metadata = obj.setdefault("metadata", {})
        metadata["namespace"] = namespace
        kind = RESOURCES[resource][0]
        obj["apiVersion"], obj["kind"] = "v1", kind
        if kind == "Secret":
            data = dict(obj.get("data") or {})
            for key, value in (obj.pop("stringData", None) or {}).items():
                data[key] = base64.b64encode(value.encode()).decode()
            obj["data"] = data
            obj.setdefault("type", "Opaque")
        store.version += 1
        metadata["resourceVersion"] = str(store.version)
        if existing is None:
            metadata["uid"] = str(uuid.uuid4())
            metadata["creationTimestamp"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            metadata["uid"] = existing["metadata"]["uid"]
            metadata["creationTimestamp"] = existing["metadata"]["creationTimestamp"]
        store.objects[(resource, namespace, metadata["name"])] = obj
        store.record(resource, "ADDED" if existing is None else "MODIFIED", obj)
        return obj


def self_signed(common_name: str, *, server: bool = False) -> tuple[bytes, bytes]:
    """A self-signed certificate and its key, PEM (a CA and server certificate for 127.0.0.1 when ``server``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        ).add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    cert = builder.sign(key, hashes.SHA256())
    return (
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body


class _Handler(BaseHTTPRequestHandler):
    api: ApiServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    # -- plumbing --------------------------------------------------------------------------------------

    def _send(self, code: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _user(self) -> Account | None:
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        return self.api.accounts.get(header[len("Bearer ") :].strip())

    body: bytes

    def _body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.body or b"{}")
        return body

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        # Always consume the body (DELETE carries DeleteOptions), or the connection desynchronises.
        length = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(length) if length else b""
        parts = [part for part in url.path.split("/") if part]
        account = self._user()
        self.api.requests.append((method, self.path, account.user if account else ""))
        if self.api.faults.delay:
            time.sleep(self.api.faults.delay)
        dry = "dryRun=All" in url.query or b'"dryRun": ["All"]' in self.body
        if self.api.faults.fail_writes and method in ("POST", "PUT", "DELETE") and not dry:
            code = self.api.faults.fail_writes
            self._send(code, status(code, "InternalError", f"injected fault {code} on a write"))
            return
        if self.api.faults.fail_next:
            code = self.api.faults.fail_next.pop(0)
            reason = {429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable"}.get(
                code, "InternalError"
            )
            headers = {"Retry-After": "1"} if code == 429 else {}
            self._send(code, status(code, reason, f"injected fault {code}"), headers)
            return
        if account is None:
            self._send(401, status(401, "Unauthorized", "Unauthorized"))
            return
        if parts == ["version"]:
            self._send(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0", "platform": "linux/amd64"})
        elif parts == ["api"]:
            self._send(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [
                        {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.api.port}"}
                    ],
                },
            )
        elif len(parts) == 4 and parts[:3] == ["api", "v1", "namespaces"]:
            # Every namespace exists (kubectl asks after a NotFound to word its message).
            self._send(
                200,
                {
                    "kind": "Namespace",
                    "apiVersion": "v1",
                    "metadata": {"name": parts[3]},
                    "status": {"phase": "Active"},
                },
            )
        elif parts == ["openapi", "v3"]:
            self._send(200, {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=injector"}}})
        elif parts == ["openapi", "v3", "api", "v1"]:
            self._send(200, _openapi_v1())
        elif parts == ["apis"]:
            self._send(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        elif parts == ["api", "v1"]:
            self._send(
                200,
                {
                    "kind": "APIResourceList",
                    "groupVersion": "v1",
                    "resources": [
                        {
                            "name": resource,
                            "singularName": singular,
                            "namespaced": True,
                            "kind": kind,
                            "verbs": VERBS,
                            "shortNames": ["cm"]
                            if resource == "configmaps"
                            else (["po"] if resource == "pods" else []),
                        }
                        for resource, (kind, singular) in RESOURCES.items()
                    ],
                },
            )
        elif (
            len(parts) >= 4
            and parts[:3] == ["api", "v1", "namespaces"]
            and len(parts) in (5, 6)
            and parts[4] in RESOURCES
        ):
            self._resource(
                method,
                account,
                namespace=parts[3],
                resource=parts[4],
                name=parts[5] if len(parts) == 6 else None,
                query=query,
            )
        else:
            self._send(404, status(404, "NotFound", "the server could not find the requested resource"))

    # -- resources ---------------------------------------------------------------------------------------

    def _resource(
        self, method: str, account: Account, *, namespace: str, resource: str, name: str | None, query: dict[str, str]
    ) -> None:
        selected = _selected_name(query.get("fieldSelector", ""))
        if method == "GET" and name is None:
            verb = "watch" if query.get("watch") in ("1", "true") else "list"
        else:
            verb = {"GET": "get", "POST": "create", "PUT": "update", "DELETE": "delete"}[method]
        target = name or selected
        if method == "POST":
            body = self._body()
            target = (body.get("metadata") or {}).get("name")
        if not any(r.allows(verb, resource, namespace, target) for r in account.rules):
            what = f'{resource} "{target}" is forbidden' if target and verb != "list" else f"{resource} is forbidden"
            self._send(
                403,
                status(
                    403,
                    "Forbidden",
                    f'{what}: User "{account.user}" cannot {verb} resource '
                    f'"{resource}" in API group "" in the namespace "{namespace}"',
                    {"name": target, "kind": resource} if target else {"kind": resource},
                ),
            )
            return
        store = self.api.store
        kind, _ = RESOURCES[resource]
        dry_run = query.get("dryRun") == "All"
        if query.get("dryRun") not in (None, "All"):
            self._send(400, status(400, "BadRequest", f"unsupported dry run option: {query['dryRun']}"))
            return
        if verb == "watch":
            self._watch(namespace, resource, selected, query)
            return
        with store.lock:
            if verb == "list":
                items = [
                    obj
                    for (res, ns, obj_name), obj in sorted(store.objects.items())
                    if res == resource and ns == namespace and (selected is None or obj_name == selected)
                ]
                self._send(
                    200,
                    {
                        "kind": f"{kind}List",
                        "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(store.version)},
                        "items": items,
                    },
                )
                return
            if verb == "create":
                if not target:
                    self._send(422, status(422, "Invalid", f"{kind} is invalid: metadata.name: Required value"))
                elif (resource, namespace, target) in store.objects:
                    self._send(
                        409,
                        status(
                            409,
                            "AlreadyExists",
                            f'{resource} "{target}" already exists',
                            {"name": target, "kind": resource},
                        ),
                    )
                else:
                    invalid = _invalid(kind, target, body, None)
                    if invalid is not None:
                        self._send(422, invalid)
                    elif dry_run:
                        self._send(201, _as_stored(kind, namespace, body))
                    else:
                        self._send(201, self.api._save(resource, namespace, body, None))
                return
            existing = store.objects.get((resource, namespace, target or ""))
            if existing is None:
                self._send(
                    404, status(404, "NotFound", f'{resource} "{target}" not found', {"name": target, "kind": resource})
                )
                return
            if verb == "get":
                self._send(200, existing)
            elif verb == "update":
                body = self._body()
                given = (body.get("metadata") or {}).get("resourceVersion")
                if (body.get("metadata") or {}).get("name") != target:
                    self._send(
                        400, status(400, "BadRequest", "the name of the object does not match the name on the URL")
                    )
                elif given and given != existing["metadata"]["resourceVersion"]:
                    self._send(409, _conflict(resource, str(target)))
                elif (invalid := _invalid(kind, str(target), body, existing)) is not None:
                    self._send(422, invalid)
                elif dry_run:
                    stored = _as_stored(kind, namespace, body)
                    stored["metadata"].update(
                        {key: existing["metadata"][key] for key in ("uid", "creationTimestamp", "resourceVersion")}
                    )
                    self._send(200, stored)
                else:
                    self._send(200, self.api._save(resource, namespace, body, existing))
            else:
                options = json.loads(self.body or b"{}")
                preconditions = options.get("preconditions") or {}
                dry_run = dry_run or "All" in (options.get("dryRun") or [])  # DeleteOptions may carry it
                meta = existing["metadata"]
                if preconditions.get("uid") and preconditions["uid"] != meta["uid"]:
                    self._send(
                        409,
                        status(
                            409,
                            "Conflict",
                            f'Operation cannot be fulfilled on {resource} "{target}": Precondition failed: '
                            f"UID in precondition: {preconditions['uid']}, UID in object meta: {meta['uid']}",
                            {"name": target, "kind": resource},
                        ),
                    )
                    return
                if preconditions.get("resourceVersion") and preconditions["resourceVersion"] != meta["resourceVersion"]:
                    self._send(
                        409,
                        status(
                            409,
                            "Conflict",
                            f'Operation cannot be fulfilled on {resource} "{target}": Precondition failed: '
                            f"ResourceVersion in precondition: {preconditions['resourceVersion']}, "
                            f"ResourceVersion in object meta: {meta['resourceVersion']}",
                            {"name": target, "kind": resource},
                        ),
                    )
                    return
                if dry_run:
                    self._send(
                        200,
                        {
                            "kind": "Status",
                            "apiVersion": "v1",
                            "metadata": {},
                            "status": "Success",
                            "details": {"name": target, "kind": resource, "uid": meta["uid"]},
                        },
                    )
                    return
                del store.objects[(resource, namespace, target or "")]
                store.version += 1
                existing["metadata"]["resourceVersion"] = str(store.version)
                store.record(resource, "DELETED", existing)
                self._send(
                    200,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "metadata": {},
                        "status": "Success",
                        "details": {"name": target, "kind": resource, "uid": existing["metadata"]["uid"]},
                    },
                )

    def _watch(self, namespace: str, resource: str, selected: str | None, query: dict[str, str]) -> None:
        store = self.api.store
        bookmarks = query.get("allowWatchBookmarks") in ("1", "true")
        timeout = float(query.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        since_text = query.get("resourceVersion", "")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def matches(res: str, obj: dict[str, Any]) -> bool:
            meta = obj["metadata"]
            return res == resource and meta["namespace"] == namespace and (selected is None or meta["name"] == selected)

        def emit(event_type: str, obj: dict[str, Any]) -> None:
            line = json.dumps({"type": event_type, "object": obj}).encode() + b"\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            self.wfile.flush()

        try:
            with store.lock:
                generation = store.generation
                if since_text in ("", "0"):
                    since = store.version
                    initial = [obj for (res, _, _), obj in sorted(store.objects.items()) if matches(res, obj)]
                else:
                    since = int(since_text)
                    initial = []
                    if since < store.oldest:
                        emit("ERROR", status(410, "Expired", f"too old resource version: {since} ({store.oldest})"))
                        self.wfile.write(b"0\r\n\r\n")
                        return
            for obj in initial:
                emit("ADDED", obj)
            last_bookmark = time.monotonic()
            while time.monotonic() < deadline:
                with store.lock:
                    pending = [
                        (rv, event, obj) for rv, res, event, obj in store.history if rv > since and matches(res, obj)
                    ]
                    if not pending and store.generation == generation:
                        store.lock.wait(timeout=min(0.1, self.api.bookmark_interval))
                        pending = [
                            (rv, event, obj)
                            for rv, res, event, obj in store.history
                            if rv > since and matches(res, obj)
                        ]
                    if store.generation != generation:
                        break
                    current = store.version
                for rv, event, obj in pending:
                    emit(event, obj)
                    since = rv
                if bookmarks and time.monotonic() - last_bookmark >= self.api.bookmark_interval:
                    kind = RESOURCES[resource][0]
                    emit("BOOKMARK", {"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": str(current)}})
                    since = max(since, current)
                    last_bookmark = time.monotonic()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            return
        finally:
            self.close_connection = True


def _openapi_v1() -> dict[str, Any]:
    """Just enough OpenAPI v3 for kubectl to see that the server validates fields itself
    (``fieldValidation``), so that ``kubectl create -f`` needs no client-side schema."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for resource, (kind, _) in RESOURCES.items():
        gvk = [{"group": "", "version": "v1", "kind": kind}]
        ref = {"$ref": f"#/components/schemas/io.k8s.api.core.v1.{kind}"}
        # kubectl looks for fieldValidation among the PATCH operation's parameters.
        paths[f"/api/v1/namespaces/{{namespace}}/{resource}/{{name}}"] = {
            "patch": {
                "operationId": f"patchCoreV1Namespaced{kind}",
                "parameters": [
                    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
                    for name in ("dryRun", "fieldManager", "fieldValidation", "force")
                ],
                "requestBody": {"content": {"application/merge-patch+json": {"schema": {"type": "object"}}}},
                "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk[0],
            },
        }
        schemas[f"io.k8s.api.core.v1.{kind}"] = {
            "type": "object",
            "x-kubernetes-group-version-kind": gvk,
            "x-kubernetes-preserve-unknown-fields": True,
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.31.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _conflict(resource: str, name: str) -> dict[str, Any]:
    return status(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        {"name": name, "kind": resource},
    )


def _as_stored(kind: str, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    """What the server would store for ``body`` (stringData merged into data), without storing it."""
    obj: dict[str, Any] = json.loads(json.dumps(body))
    obj.setdefault("metadata", {})["namespace"] = namespace
    obj["apiVersion"], obj["kind"] = "v1", kind
    if kind == "Secret":
        data = dict(obj.get("data") or {})
        for key, value in (obj.pop("stringData", None) or {}).items():
            data[key] = base64.b64encode(value.encode()).decode()
        obj["data"] = data
        obj.setdefault("type", "Opaque")
    return obj


_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
_KEY = re.compile(r"[-._a-zA-Z0-9]+\Z")
_REQUIRED_KEYS = {
    "kubernetes.io/tls": ("tls.crt", "tls.key"),
    "kubernetes.io/dockerconfigjson": (".dockerconfigjson",),
    "kubernetes.io/dockercfg": (".dockercfg",),
    "kubernetes.io/ssh-auth": ("ssh-privatekey",),
}


def _invalid(kind: str, name: str, body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any] | None:
    """ValidateSecret (and ValidateSecretUpdate) for the rules injector's writes meet; a 422 Status or None."""
    if kind != "Secret":
        return None
    causes: list[tuple[str, str]] = []
    if len(name) > 253 or not _SUBDOMAIN.match(name):
        causes.append(("metadata.name", f'Invalid value: "{name}": a lowercase RFC 1123 subdomain must consist of ...'))
    stored = _as_stored(kind, "x", body)
    data: dict[str, str] = stored["data"]
    for key in data:
        if not _KEY.match(key) or key in (".", "..") or key.startswith(".."):
            causes.append((f"data[{key}]", f'Invalid value: "{key}": a valid config key must consist of ...'))
    secret_type = stored["type"]
    for key in _REQUIRED_KEYS.get(secret_type, ()):
        if key not in data:
            causes.append((f"data[{key}]", "Required value"))
    if secret_type == "kubernetes.io/basic-auth" and "username" not in data and "password" not in data:
        causes.append(("data[username]", "Required value"))
    if sum(len(base64.b64decode(value)) for value in data.values()) > 1024 * 1024:
        causes.append(("data", "Too long: must have at most 1048576 bytes"))
    if existing is not None:
        if stored["type"] != existing.get("type", "Opaque"):
            causes.append(("type", f'Invalid value: "{secret_type}": field is immutable'))
        if existing.get("immutable") and (data != existing.get("data") or not body.get("immutable")):
            causes.append(("data", "Forbidden: field is immutable when `immutable` is set"))
    if not causes:
        return None
    listed = ", ".join(f"{field}: {detail}" for field, detail in causes)
    message = f'Secret "{name}" is invalid: ' + (f"[{listed}]" if len(causes) > 1 else listed)  # as ToAggregate
    return status(
        422,
        "Invalid",
        message,
        {
            "name": name,
            "kind": "Secret",
            "causes": [{"reason": "FieldValueInvalid", "message": detail, "field": field} for field, detail in causes],
        },
    )


def _selected_name(selector: str) -> str | None:
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if key.strip() == "metadata.name" and value:
            return value.lstrip("=").strip()
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
