"""Read manifest files and directories, decrypting ``.age`` files in memory (I/O shell).

Nothing read here is ever written anywhere: decrypted plaintext lives only in this process.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence

from injector.errors import InjectorError, ManifestError, SourceError, UsageError
from injector.manifest import MAX_MANIFEST_BYTES, Document, parse_documents

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
AGE_SUFFIX = ".age"


def read_bytes(path: str) -> bytes:
    """Read a whole file (or ``-`` for stdin), refusing anything over the manifest size limit."""
    try:
        if path == "-":
            import sys

            data = sys.stdin.buffer.read(MAX_MANIFEST_BYTES + 1)
        else:
            with open(path, "rb") as handle:
                data = handle.read(MAX_MANIFEST_BYTES + 1)
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror}", source=path) from None
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"file is larger than {MAX_MANIFEST_BYTES} bytes", source=path)
    return data


def manifest_files(root: str) -> Iterator[str]:
    """Files under ``root`` that hold manifests, sorted; a file given directly is always read.

    Symbolic links inside a directory must stay inside it: a link out of the tree is an error,
    so that a manifest directory cannot be used to read arbitrary files.
    """
    try:
        info = os.stat(root)
    except OSError as exc:
        raise SourceError(f"cannot read: {exc.strerror}", source=root) from None
    if not stat.S_ISDIR(info.st_mode):
        yield root
        return
    real_root = os.path.realpath(root)
    for directory, subdirs, files in os.walk(root, followlinks=False):
        subdirs.sort()
        for name in sorted(files):
            if not name.endswith(MANIFEST_SUFFIXES) and not name.endswith(
                tuple(suffix + AGE_SUFFIX for suffix in MANIFEST_SUFFIXES)
            ):
                continue
            path = os.path.join(directory, name)
            if os.path.islink(path):
                target = os.path.realpath(path)
                if os.path.commonpath([real_root, target]) != real_root:
                    raise SourceError(f"symbolic link points outside {root}", source=path)
            yield path


def load_age_identities(paths: Sequence[str]) -> list[object]:
    """Parse age identity files: native X25519 (``AGE-SECRET-KEY-1...``) lines or an SSH key."""
    import pyrage

    identities: list[object] = []
    for path in paths:
        text = read_bytes(path).decode("utf-8", "replace")
        if "PRIVATE KEY-----" in text:
            try:
                identities.append(pyrage.ssh.Identity.from_buffer(text.encode("utf-8")))
            except Exception:  # noqa: BLE001 - pyrage raises its own opaque error types
                raise SourceError("not a usable SSH private key for age", source=path) from None
            continue
        for number, raw_line in enumerate(text.splitlines(), start=1):
            line = raw_line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                identities.append(pyrage.x25519.Identity.from_str(line))
            except Exception:  # noqa: BLE001
                raise SourceError(f"line {number}: not an age identity (AGE-SECRET-KEY-1...)", source=path) from None
    if not identities:
        raise UsageError("no age identities found", source=", ".join(paths))
    return identities


AGE_HEADERS = (b"age-encryption.org/v1\n", b"-----BEGIN AGE ENCRYPTED FILE-----")


def decrypt_age(data: bytes, identities: Sequence[object], source: str) -> bytes:
    import pyrage

    if not data.lstrip().startswith(AGE_HEADERS):
        raise SourceError("cannot decrypt age file: not an age file (no age-encryption.org/v1 header)", source=source)
    try:
        return bytes(pyrage.decrypt(data, list(identities)))
    except pyrage.DecryptError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else "no identity matched"
        raise SourceError(f"cannot decrypt age file: {reason}", source=source) from None
    except Exception:  # noqa: BLE001 - pyrage raises opaque errors for malformed headers
        raise SourceError("cannot decrypt age file: not an age file", source=source) from None


def read_documents(
    paths: Sequence[str], *, age_identity_files: Sequence[str], exclude: str | None = None
) -> tuple[list[Document], list[InjectorError]]:
    """Every document of every manifest under ``paths``; problems are collected, not raised.

    ``exclude`` (a real path) is skipped: the pod manifest, already read, when it lies among them.
    """
    documents: list[Document] = []
    errors: list[InjectorError] = []
    identities: list[object] | None = None
    identity_failed = False
    for root in paths:
        try:
            files = list(manifest_files(root))
        except InjectorError as exc:
            errors.append(exc)
            continue
        for path in files:
            if exclude is not None and os.path.realpath(path) == exclude:
                continue
            try:
                data = read_bytes(path)
                if path.endswith(AGE_SUFFIX):
                    if not age_identity_files:
                        raise UsageError("encrypted file needs --age-identity (or INJECTOR_AGE_IDENTITY)", source=path)
                    if identity_failed:
                        continue  # the identity file's problem is reported once, not once per .age file
                    if identities is None:
                        try:
                            identities = load_age_identities(age_identity_files)
                        except InjectorError:
                            identity_failed = True
                            raise
                    data = decrypt_age(data, identities, path)
                documents.extend(parse_documents(data, path))
            except InjectorError as exc:
                errors.append(exc)
    return documents, errors
