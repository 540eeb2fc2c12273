"""Read manifest files and directories, decrypting ``.age`` files in memory (I/O shell).

Nothing read here is ever written anywhere: decrypted plaintext lives only in this process.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator, Sequence

from injector.core.manifest import MAX_MANIFEST_BYTES, Document, parse_documents
from injector.errors import InjectorError, ManifestError, Setting, SourceError, UsageError
from injector.shell.age import AGE_SUFFIX, decrypt_age, parse_identities

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_READ_SUFFIXES = (*MANIFEST_SUFFIXES, *(suffix + AGE_SUFFIX for suffix in MANIFEST_SUFFIXES))


def is_manifest_name(name: str) -> bool:
    """Whether a file of that name in a manifest directory is read (``*.yaml``, ``*.json.age``...)."""
    return name.endswith(_READ_SUFFIXES)


def read_bytes(path: str) -> bytes:
    """Read a whole file (or ``-`` for stdin), refusing anything over the manifest size limit."""
    try:
        if path == "-":
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
    so that a manifest directory cannot be used to read arbitrary files. Names starting with ``..``
    are skipped: the kubelet's atomic writer reserves them (``..data``, ``..2025_...``), so a
    Secret or ConfigMap volume given as a directory is read through its visible names, once.
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
        subdirs[:] = sorted(name for name in subdirs if not name.startswith(".."))
        for name in sorted(files):
            if name.startswith("..") or not is_manifest_name(name):
                continue
            path = os.path.join(directory, name)
            if os.path.islink(path):
                target = os.path.realpath(path)
                if os.path.commonpath([real_root, target]) != real_root:
                    raise SourceError(f"symbolic link points outside {root}", source=path)
            yield path


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
                        raise UsageError(("encrypted file needs ", Setting("age_identity")), source=path)
                    if identity_failed:
                        continue  # the identity file's problem is reported once, not once per .age file
                    if identities is None:
                        try:
                            identities = parse_identities([(p, read_bytes(p)) for p in age_identity_files])
                        except InjectorError:
                            identity_failed = True
                            raise
                    data = decrypt_age(data, identities, path)
                documents.extend(parse_documents(data, path))
            except InjectorError as exc:
                errors.append(exc)
    return documents, errors
