"""A server's TLS certificate and key, taken up again when their files change (I/O shell).

Each new connection asks for the context; the files are looked at (two ``stat`` calls) and read again only
when one changed, which is how a Secret volume's renewal (cert-manager, the kubelet's ``..data`` swap)
reaches the server without a restart. A pair that does not load (a key written before its certificate) is
reported, and the last good context keeps serving until the pair is whole again.
"""

from __future__ import annotations

import os
import ssl

from injector.errors import SourceError
from injector.shell.report import Reporter


class CertificateFiles:
    """The TLS context of ``cert`` and ``key``, as of the last time they loaded."""

    def __init__(self, cert: str, key: str, reporter: Reporter) -> None:
        self.cert = cert
        self.key = key
        self.reporter = reporter
        self._stamp: tuple[tuple[int, int, int], ...] | None = None
        self._context: ssl.SSLContext | None = None
        self._failing: str | None = None
        self.loads = 0
        """How many times a pair was loaded (the first included)."""

    def _look(self) -> tuple[tuple[int, int, int], ...]:
        stamps = []
        for path in (self.cert, self.key):
            info = os.stat(path)
            stamps.append((info.st_ino, info.st_mtime_ns, info.st_size))
        return tuple(stamps)

    def _load(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert, self.key)
        return context

    def load(self) -> None:
        """The first load, at start: a pair that cannot be used is a SourceError (nothing to serve with)."""
        try:
            self._stamp = self._look()
            self._context = self._load()
        except (OSError, ssl.SSLError) as exc:
            raise SourceError(f"cannot load the TLS certificate and key: {_reason(exc)}", source=self.cert) from None
        self.loads = 1

    def current(self) -> ssl.SSLContext:
        """The context for a new connection: loaded again first when a file changed since the last look."""
        assert self._context is not None, "load() first"
        try:
            stamp = self._look()
            if stamp != self._stamp:
                self._context = self._load()
                self._stamp = stamp
                self.loads += 1
                self._failing = None
                self.reporter.event("certificate-loaded", cert=self.cert)
        except (OSError, ssl.SSLError) as exc:
            reason = _reason(exc)
            if reason != self._failing:
                self._failing = reason
                self.reporter.event("certificate-not-loaded", cert=self.cert, error=reason)
        return self._context


def _reason(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError):  # OpenSSL's reason: PEM_LIB (not PEM), KEY_VALUES_MISMATCH...
        return "not a PEM certificate chain and its key" + (f" ({exc.reason})" if exc.reason else "")
    return exc.strerror or type(exc).__name__
