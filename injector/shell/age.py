"""age decryption in memory, compatible with the age CLI, through pyrage (I/O shell).

pyrage is imported only when an ``.age`` file is met: most commands never pay for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from injector.errors import SourceError, UsageError

AGE_SUFFIX = ".age"
AGE_HEADERS = (b"age-encryption.org/v1\n", b"-----BEGIN AGE ENCRYPTED FILE-----")


def parse_identities(files: Sequence[tuple[str, bytes]]) -> list[object]:
    """Identities from the contents of identity files (path, bytes): X25519 (``AGE-SECRET-KEY-1...``)
    lines or an SSH private key."""
    import pyrage

    identities: list[object] = []
    for path, data in files:
        text = data.decode("utf-8", "replace")
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
        raise UsageError("no age identities found", source=", ".join(path for path, _ in files))
    return identities


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


def parse_recipients(recipients: Sequence[str], source: str = "--age-recipient") -> list[object]:
    """age recipients: X25519 (``age1...``) or SSH public keys (``ssh-ed25519 ...``, ``ssh-rsa ...``)."""
    import pyrage

    parsed: list[object] = []
    for recipient in recipients:
        try:
            if recipient.startswith(("ssh-ed25519 ", "ssh-rsa ")):
                parsed.append(pyrage.ssh.Recipient.from_str(recipient))
            else:
                parsed.append(pyrage.x25519.Recipient.from_str(recipient))
        except Exception:  # noqa: BLE001 - pyrage raises its own opaque error types
            shown = recipient.split()[0][:24] if recipient.split() else "(empty)"
            raise UsageError(
                f"not an age recipient (age1... or an ssh-ed25519/ssh-rsa public key): {shown}", source=source
            ) from None
    if not parsed:
        raise UsageError("no age recipients", source=source)
    return parsed


def encrypt_age(data: bytes, recipients: Sequence[object]) -> bytes:
    """``data`` encrypted to ``recipients`` in age's binary format, as the age CLI writes it."""
    import pyrage

    return bytes(pyrage.encrypt(data, list(recipients)))
