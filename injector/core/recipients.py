"""Who an age-encrypted manifest is for, kept where ``edit`` can find it again.

An age file does not name its recipients: an X25519 stanza holds an ephemeral share, an SSH stanza a
4-byte tag of the key. So injector writes the recipients (public keys) as comment lines at the top of
the manifest it encrypts, inside the encryption::

    # age-recipient: age1...
    # age-recipient: ssh-ed25519 AAAA... alice@laptop

``edit`` re-encrypts to those, after checking them against the file's stanzas (their count and kinds,
and the tags of SSH keys), so that a file re-encrypted by hand to other keys is not silently narrowed
or widened. ``--age-recipient`` replaces them (and the comment) on purpose.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import NamedTuple

HEADER_PREFIX = "# age-recipient: "
AGE_INTRO = b"age-encryption.org/v1\n"
ARMOR_BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_END = b"-----END AGE ENCRYPTED FILE-----"
SSH_KINDS = ("ssh-ed25519", "ssh-rsa")


class Stanza(NamedTuple):
    kind: str
    """``X25519``, ``ssh-ed25519``, ``ssh-rsa``, ``scrypt``, or a plugin's."""
    tag: str | None
    """The SSH key's tag (base64 of the first 4 bytes of the sha256 of its wire form)."""


def recipients_header(recipients: Sequence[str]) -> str:
    return "".join(f"{HEADER_PREFIX}{recipient}\n" for recipient in recipients)


def read_recipients(text: str) -> list[str]:
    """The recipients of the leading comment lines of a manifest."""
    found = []
    for line in text.splitlines():
        if line.startswith(HEADER_PREFIX):
            found.append(line[len(HEADER_PREFIX) :].strip())
        elif line.strip() and not line.startswith("#"):
            break
    return found


def strip_recipients(text: str) -> str:
    """``text`` without its recipient comment lines (they are written again from the recipients used)."""
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith(HEADER_PREFIX))


def parse_recipients_file(text: str) -> list[str]:
    """``--age-recipients-file`` as ``age -R`` reads it: one recipient a line, ``#`` comments, blank lines."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def ssh_tag(recipient: str) -> str | None:
    """age's tag of an SSH public key (``ssh-ed25519 AAAA...``), None when it is not one."""
    parts = recipient.split()
    if len(parts) < 2 or parts[0] not in SSH_KINDS:
        return None
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        return None
    return base64.b64encode(hashlib.sha256(blob).digest()[:4]).decode("ascii").rstrip("=")


def stanzas(data: bytes) -> list[Stanza] | None:
    """The recipient stanzas of an age file's header (binary or armored), None when it is not one."""
    text = data.strip()
    if text.startswith(ARMOR_BEGIN):
        body = text[len(ARMOR_BEGIN) :].split(ARMOR_END, 1)[0]
        try:
            text = base64.b64decode(b"".join(body.split()))
        except (binascii.Error, ValueError):
            return None
    if not text.startswith(AGE_INTRO):
        return None
    found: list[Stanza] = []
    for line in text[len(AGE_INTRO) :].split(b"\n"):
        if line.startswith(b"---"):
            return found
        if line.startswith(b"-> "):
            args = line[3:].decode("ascii", "replace").split()
            if args and not args[0].endswith("-grease"):  # rage adds a random "grease" stanza
                tag = args[1] if args[0] in SSH_KINDS and len(args) > 1 else None
                found.append(Stanza(args[0], tag))
    return None


def mismatch(recipients: Sequence[str], found: Sequence[Stanza]) -> str | None:
    """Why ``recipients`` are not those the file was encrypted to (as far as its stanzas tell), or None."""
    if len(recipients) != len(found):
        return f"the file is encrypted to {len(found)} recipient(s), its header names {len(recipients)}"
    expected = sorted(ssh_tag(recipient) or "X25519" for recipient in recipients)
    actual = sorted(stanza.tag or stanza.kind for stanza in found)
    if expected != actual:
        return "the file's recipients are not those its header names"
    return None
