"""E-signature: valid chains verify; a changed byte anywhere, or an unknown key, does not."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from tests.workbench.reports.conftest import SIGNER, signed_report
from workbench.errors import WorkbenchError
from workbench.reports import Content, Report, TemplateRegistry, canonical_bytes
from workbench.reports.keys import MasterKeys, new_signing_key
from workbench.reports.signing import Signature, sign_pending, verify_report

Key = tuple[Ed25519PrivateKey, str, bytes]


def _swap_signature(report: Report, index: int, **changes: str) -> Report:
    versions = list(report.versions)
    position = versions.index(report.signed[index])
    sig = versions[position].signature
    assert sig is not None
    versions[position] = replace(versions[position], signature=replace(sig, **changes))
    return replace(report, versions=tuple(versions))


def test_signed_report_verifies(registry: TemplateRegistry, key: Key) -> None:
    report = signed_report(registry, key[0])
    result = verify_report(report, {key[1]: key[2]})
    assert result.valid, result.describe()
    assert result.signed_versions == 2


@pytest.mark.parametrize("field,value", [
    ("signer_name", "Dr Mallory"), ("signer_npi", "1245319599"), ("meaning", "reviewed"),
    ("signed_at", "2026-01-05T10:00:00.000001Z"), ("previous_hash", "1" * 64),
    ("content_hash", "2" * 64),
])
def test_changed_signature_fields_are_detected(registry: TemplateRegistry, key: Key,
                                               field: str, value: str) -> None:
    report = _swap_signature(signed_report(registry, key[0]), 0, **{field: value})
    assert not verify_report(report, {key[1]: key[2]}).valid


def test_one_flipped_bit_in_content_or_signature_is_detected(registry: TemplateRegistry,
                                                              key: Key) -> None:
    report = signed_report(registry, key[0])
    first = report.signed[0]
    values = dict(first.content.values)
    values["lvef"] = {"value": 57.0, "unit": "%"}  # was 58
    changed = replace(report, versions=tuple(
        replace(v, content=Content(v.content.template, v.content.template_version, values))
        if v == first else v for v in report.versions))
    result = verify_report(changed, {key[1]: key[2]})
    assert not result.valid and first.number in result.problems
    assert first.signature is not None
    raw = bytearray(base64.b64decode(first.signature.value))
    raw[10] ^= 1
    flipped = _swap_signature(report, 0, value=base64.b64encode(bytes(raw)).decode())
    assert "does not verify" in verify_report(flipped, {key[1]: key[2]}).describe()
    renamed = replace(report, subject=replace(report.subject, patient_id="P-0002"))
    assert not verify_report(renamed, {key[1]: key[2]}).valid


def test_removed_or_forged_versions_are_detected(registry: TemplateRegistry, key: Key) -> None:
    report = signed_report(registry, key[0])
    without_original = replace(report, versions=tuple(v for v in report.versions
                                                      if v != report.signed[0]))
    assert "does not follow" in verify_report(without_original, {key[1]: key[2]}).describe()
    forger, forger_id, forger_raw = new_signing_key()
    forged = sign_pending(report.add_addendum(
        Content.of(registry.get("addendum"), {"text": "forged"}), "X"), SIGNER, forger)
    assert "unknown key" in verify_report(forged, {key[1]: key[2]}).describe()
    assert verify_report(forged, {key[1]: key[2], forger_id: forger_raw}).valid
    nothing = Report.create("n" * 32, report.subject, report.versions[0].content, "A")
    assert not verify_report(nothing, {}).valid


def test_key_rotation_keeps_old_signatures_valid(registry: TemplateRegistry, key: Key,
                                                 tmp_path: Path) -> None:
    report = signed_report(registry, key[0])
    new_private, new_id, new_raw = new_signing_key()
    later = sign_pending(report.add_addendum(
        Content.of(registry.get("addendum"), {"text": "after rotation"}), "A"), SIGNER,
        new_private)
    assert verify_report(later, {key[1]: key[2], new_id: new_raw}).valid
    ring = MasterKeys.generate()
    sealed = ring.seal(key[0], f"{key[1]}:7")
    path = tmp_path / "ring.json"
    ring.rotated().save(path)
    assert path.stat().st_mode & 0o777 == 0o600
    rotated = MasterKeys.load(path)
    resealed = rotated.reseal(sealed, f"{key[1]}:7")
    assert resealed.kek_id == rotated.current != sealed.kek_id
    reopened = rotated.without(ring.keys).unseal(resealed, f"{key[1]}:7")
    again = sign_pending(later.add_addendum(
        Content.of(registry.get("addendum"), {"text": "resealed key"}), "A"), SIGNER, reopened)
    assert verify_report(again, {key[1]: key[2], new_id: new_raw}).valid
    with pytest.raises(WorkbenchError, match="not in the key ring"):
        rotated.without(ring.keys).unseal(sealed, f"{key[1]}:7")
    with pytest.raises(WorkbenchError, match="another key or owner"):
        ring.unseal(sealed, f"{key[1]}:8")


def test_signature_round_trips_as_json(registry: TemplateRegistry, key: Key) -> None:
    sig = signed_report(registry, key[0]).signed[0].signature
    assert sig is not None
    assert Signature.from_dict(sig.to_dict()) == sig


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4), max_leaves=12)


@given(json_values)
def test_canonical_bytes_ignore_key_order(value: object) -> None:
    if isinstance(value, dict):
        assert canonical_bytes(dict(reversed(list(value.items())))) == canonical_bytes(value)
    assert canonical_bytes(value) == canonical_bytes(value)


def test_canonical_bytes_refuse_nan() -> None:
    with pytest.raises(ValueError):
        canonical_bytes({"a": float("nan")})
