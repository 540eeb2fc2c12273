"""``injector webhook``: a mutating admission webhook that wires injector into Pods as ``inject`` does.

    run_webhook        one nursery, opened here; nothing left running on return
    └── serve_http     POST /mutate (AdmissionReview), GET /healthz, over TLS (the certificate re-read
                       when its files change), connections kept alive as the API server keeps them

Each review is logged as one JSON line (uid, namespace, name, operations: never a value).
"""

from __future__ import annotations

import time
from functools import partial

import trio

from injector.core.admission import ReviewError, answer
from injector.core.inject import InjectOptions
from injector.settings import WebhookSettings
from injector.shell.http import Response, serve_http
from injector.shell.process import STOP_SIGNALS
from injector.shell.report import Reporter
from injector.shell.tls import CertificateFiles

MAX_REVIEW = 4 * 1024 * 1024
"""Largest AdmissionReview read: a Pod is at most what etcd stores (1.5 MiB), sent as the object (and, for
updates, the old object too)."""
JSON = "application/json"


def mutate(body: bytes, options: InjectOptions, reporter: Reporter) -> Response:
    """POST /mutate: the review answered, or 400 with the reason a body is not a review."""
    start = time.perf_counter()
    try:
        out, review = answer(body, options)
    except ReviewError as exc:
        reporter.event("bad-review", reason=str(exc))
        return Response("400 Bad Request", f"{exc}\n".encode())
    reporter.event(
        "review",
        uid=review.uid,
        namespace=review.namespace,
        name=review.name,
        operation=review.operation,
        patch_operations=review.patched,
        denied=review.denied or None,
        ms=round(1000 * (time.perf_counter() - start), 2),
    )
    return Response("200 OK", out, JSON)


async def run_webhook(settings: WebhookSettings, reporter: Reporter) -> int:
    """Serve until SIGTERM/SIGINT, then return 0."""
    certificates = CertificateFiles(settings.tls_cert, settings.tls_key, reporter)
    certificates.load()
    options = InjectOptions(settings.image, fuse=settings.fuse)
    routes = {"/healthz": lambda: Response("200 OK", b"ok\n")}
    post = {"/mutate": lambda body: mutate(body, options, reporter)}
    with trio.open_signal_receiver(*STOP_SIGNALS) as signals:
        async with trio.open_nursery() as nursery:
            serve = partial(serve_http, post=post, tls=certificates.current, max_body=MAX_REVIEW, keep_alive=True)
            await nursery.start(serve, settings.listen, routes, reporter)
            async for _ in signals:
                break
            nursery.cancel_scope.cancel()
    reporter.event("stopped")
    return 0
