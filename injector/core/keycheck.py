"""The checks a console makes on key material before it becomes a Secret: TLS certificate and key parse
and belong together, an SSH private key parses. Pure (``cryptography`` computes, nothing is read here);
messages name what is wrong, never the material.
"""

from __future__ import annotations

import datetime
from typing import NamedTuple

from injector.errors import InjectorWarning, ManifestError

EXPIRY_WARNING = datetime.timedelta(days=30)
"""A certificate that expires sooner than this is warned about."""


class TlsFacts(NamedTuple):
    subject: str
    not_after: datetime.datetime
    chain_length: int


def check_tls(
    cert_pem: bytes, key_pem: bytes, now: datetime.datetime, *, where: str = ""
) -> tuple[TlsFacts, list[InjectorWarning]]:
    """``tls.crt`` and ``tls.key`` as an Ingress controller loads them: PEM certificates (the leaf first),
    an unencrypted PEM private key, and the key must be the leaf's. Raises ManifestError otherwise;
    returns warnings for an expired, soon expiring or not yet valid leaf."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise ManifestError(
            "not a PEM certificate (-----BEGIN CERTIFICATE-----)", source=where, field="tls.crt"
        ) from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise ManifestError(
            "the private key is encrypted: Kubernetes and Ingress controllers need it unencrypted",
            source=where,
            field="tls.key",
        ) from None
    except (ValueError, NotImplementedError):
        raise ManifestError(
            "not a PEM private key (-----BEGIN PRIVATE KEY-----)", source=where, field="tls.key"
        ) from None
    leaf = chain[0]
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if leaf.public_key().public_bytes(der, spki) != key.public_key().public_bytes(der, spki):
        raise ManifestError(
            "the private key does not match the certificate (the first certificate must be the key's)",
            source=where,
            field="tls.key",
        )
    subject = leaf.subject.rfc4514_string() or "(no subject)"
    not_after, not_before = leaf.not_valid_after_utc, leaf.not_valid_before_utc
    warnings = []
    if not_after <= now:
        warnings.append(InjectorWarning(f"certificate {subject} expired on {not_after:%Y-%m-%d}", field="tls.crt"))
    elif not_after - now < EXPIRY_WARNING:
        warnings.append(InjectorWarning(f"certificate {subject} expires on {not_after:%Y-%m-%d}", field="tls.crt"))
    if not_before > now:
        warnings.append(
            InjectorWarning(f"certificate {subject} is not valid before {not_before:%Y-%m-%d}", field="tls.crt")
        )
    return TlsFacts(subject, not_after, len(chain)), warnings


def check_ssh_private_key(data: bytes, *, where: str = "") -> str:
    """The key's algorithm (``ssh-ed25519``...), if ``data`` is an unencrypted SSH private key in OpenSSH
    or PEM format, as git and Flux/Argo read ``ssh-privatekey``; ManifestError otherwise."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

    try:
        if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
            key = serialization.load_ssh_private_key(data, password=None)
        else:
            key = serialization.load_pem_private_key(data, password=None)  # type: ignore[assignment]
    except (TypeError, UnsupportedAlgorithm):  # an encrypted OpenSSH key asks for bcrypt first
        raise ManifestError(
            "the SSH key is passphrase-protected: git and the controllers that read ssh-auth Secrets need it without",
            source=where,
            field="ssh-privatekey",
        ) from None
    except (ValueError, NotImplementedError):
        raise ManifestError("not an SSH private key", source=where, field="ssh-privatekey") from None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ssh-ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ssh-rsa"
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return f"ecdsa-sha2-nistp{key.curve.key_size}"
    if isinstance(key, dsa.DSAPrivateKey):
        return "ssh-dss"
    raise ManifestError("not an SSH private key type ssh supports", source=where, field="ssh-privatekey")
