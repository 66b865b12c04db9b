"""Electronic signatures of report versions (Ed25519 through ``cryptography``).

Signing the open version of a report appends a signed copy of it. The signature is over
the canonical JSON of the *signed payload*:

======================= =============================================================
``content_hash``        SHA-256 of the version's canonical document (report id, subject,
                        version number and kind, reason, author, template and values)
``signer``              ``{"name", "npi"}`` of the physician
``meaning``             ``"final"``: the signer approves this text as the report
``signed_at``           UTC time, ISO 8601 with ``Z``
``previous_hash``       :attr:`Signature.version_hash` of the previous signed version
                        (:data:`~workbench.reports.canonical.GENESIS` for the first)
``key_id``, ``algorithm`` which key signed
======================= =============================================================

:attr:`Signature.version_hash` hashes the payload with the signature value, so the
signed versions form a chain: changing any byte of any signed version, or removing or
reordering one, makes :func:`verify_report` report it. Verification trusts only the
keys handed to it (a key registry), never a key carried by the report itself.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from workbench.errors import ConflictError
from workbench.reports.canonical import GENESIS, canonical_bytes, sha256_hex
from workbench.reports.model import Report, VersionState, utc_now
from workbench.reports.templates import Template

__all__ = ["MEANING", "Signature", "Signer", "Verification", "key_id", "public_bytes",
           "sign_pending", "verify_report"]

MEANING = "final"
ALGORITHM = "Ed25519"


@dataclass(frozen=True)
class Signer:
    """The physician signing: name as printed and National Provider Identifier."""

    name: str
    npi: str


@dataclass(frozen=True)
class Signature:
    """The signature block of one signed version."""

    content_hash: str
    signer_name: str
    signer_npi: str
    meaning: str
    signed_at: str
    previous_hash: str
    key_id: str
    value: str  # base64 of the 64-byte Ed25519 signature

    def payload(self) -> dict[str, Any]:
        """What the signature is over."""
        return {"content_hash": self.content_hash,
                "signer": {"name": self.signer_name, "npi": self.signer_npi},
                "meaning": self.meaning, "signed_at": self.signed_at,
                "previous_hash": self.previous_hash, "key_id": self.key_id,
                "algorithm": ALGORITHM}

    @property
    def version_hash(self) -> str:
        """SHA-256 of the payload with the signature: the next version's link."""
        return sha256_hex({**self.payload(), "signature": self.value})

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"content_hash": self.content_hash, "signer_name": self.signer_name,
                "signer_npi": self.signer_npi, "meaning": self.meaning,
                "signed_at": self.signed_at, "previous_hash": self.previous_hash,
                "key_id": self.key_id, "value": self.value,
                "version_hash": self.version_hash}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        """Inverse of :meth:`to_dict` (``version_hash`` is recomputed, not read)."""
        return cls(*(str(data[k]) for k in (
            "content_hash", "signer_name", "signer_npi", "meaning", "signed_at",
            "previous_hash", "key_id", "value")))


def public_bytes(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey | bytes) -> str:
    """A key's id: the first 16 bytes (hex) of the SHA-256 of its raw public bytes."""
    raw = public_key if isinstance(public_key, bytes) else public_bytes(public_key)
    return hashlib.sha256(raw).hexdigest()[:32]


def sign_pending(report: Report, signer: Signer, key: Ed25519PrivateKey, *,
                 template: Template | None = None, now: str | None = None) -> Report:
    """Sign the open version of `report`; return the report with the signed copy.

    Parameters
    ----------
    report
        A report with an open (unsigned) version.
    signer
        The physician; name and NPI must not be empty.
    key
        The physician's private key.
    template
        The version's template: when given, its required fields must be filled.
    now
        The signing time (UTC ISO 8601 ``Z``); the current time by default.

    Raises
    ------
    ConflictError
        Nothing is open to sign.
    ValueError
        No signer name or NPI, or required fields are empty.
    """
    if not signer.name.strip() or not signer.npi.strip():
        raise ValueError("a signature needs the signer's name and NPI")
    pending = report.pending
    if pending is None:
        raise ConflictError("nothing to sign: every version is signed; write an addendum "
                            "or an amendment")
    if template is not None:
        missing = template.missing_required(pending.content.values)
        if missing:
            raise ValueError(f"fill in {', '.join(missing)} before signing")
    previous = report.signed[-1].signature if report.signed else None
    draft = replace(pending, number=pending.number + 1, state=VersionState.FINAL,
                    saved_at=now or utc_now())
    unsigned = Signature(report.content_hash(draft), signer.name, signer.npi, MEANING,
                         draft.saved_at, previous.version_hash if previous else GENESIS,
                         key_id(key.public_key()), "")
    value = key.sign(canonical_bytes(unsigned.payload()))
    signature = replace(unsigned, value=base64.b64encode(value).decode("ascii"))
    return report.with_signed(replace(draft, signature=signature))


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_report` found: valid, or the problems by version number."""

    signed_versions: int
    problems: dict[int, list[str]] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        """Whether every signed version verifies and the chain is intact."""
        return not self.problems and self.signed_versions > 0

    def describe(self) -> str:
        """One line per problem, or ``valid``."""
        if self.valid:
            return f"valid ({self.signed_versions} signed versions)"
        if not self.signed_versions:
            return "invalid: nothing is signed"
        return "invalid: " + "; ".join(f"version {n}: {p}" for n, ps in
                                       sorted(self.problems.items()) for p in ps)


def verify_report(report: Report, trusted: Mapping[str, bytes]) -> Verification:
    """Check every signed version of `report`.

    Parameters
    ----------
    report
        The report as stored.
    trusted
        Raw public keys by key id (the signers' registered keys, retired ones included).

    Returns
    -------
    Verification
        Valid only when every signed version's content hash, signature and link to the
        previous signed version match, each with a trusted key.
    """
    problems: dict[int, list[str]] = {}
    previous = GENESIS
    signed = report.signed
    for version in signed:
        sig = version.signature
        assert sig is not None
        found: list[str] = []
        if report.content_hash(version) != sig.content_hash:
            found.append("its content does not match the signed content hash")
        if sig.previous_hash != previous:
            found.append("it does not follow the previous signed version (a version was "
                         "changed, removed or reordered)")
        if sig.meaning != MEANING or version.state is not VersionState.FINAL:
            found.append(f"its meaning is {sig.meaning!r}, not {MEANING!r}")
        if sig.signed_at != version.saved_at:
            found.append("its time differs from the signed time")
        raw = trusted.get(sig.key_id)
        if raw is None:
            found.append(f"it is signed with an unknown key {sig.key_id}")
        else:
            try:
                Ed25519PublicKey.from_public_bytes(raw).verify(
                    base64.b64decode(sig.value, validate=True), canonical_bytes(sig.payload()))
            except (InvalidSignature, ValueError):
                found.append("the signature does not verify")
        if found:
            problems[version.number] = found
        previous = sig.version_hash
    return Verification(len(signed), problems)
