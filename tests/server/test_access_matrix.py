"""Every route x every role x own / other-account / shared study: allowed or denied.

Contexts: *own* is a study of the caller's account (which a referring physician sees only
when it is shared), *other* a study of another account, *shared* another account's study
shared with the caller. Hidden studies answer like absent ones (404, empty searches).

The route list comes from the running server's OpenAPI schema; :data:`RULES` must name a
rule for each, so a new route without a rule fails this test. Expected permissions are
written here from PRODUCT.md (People and roles), independently of the server's tables.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.server.people import Person, active_practice, add_member, stow
from tests.synth import make_ct, make_patient, make_study

ROLES = ("administrator", "reading_physician", "technologist", "transcriptionist",
         "referring_physician")
MEMBER = {"study.read", "account.read", "self"}
EXPECTED: dict[str, set[str]] = {
    "administrator": MEMBER | {"study.store", "study.delete", "study.share", "members.manage",
                               "sources.manage", "teams.manage", "audit.read",
                               "account.update", "billing", "retention"},
    "reading_physician": MEMBER | {"study.store", "study.share", "report.write", "report.sign",
                                   "report.distribute", "report.transcribe"},
    "technologist": MEMBER | {"study.store"},
    "transcriptionist": MEMBER | {"report.transcribe"},
    "referring_physician": set(MEMBER),
    "upload-key": {"study.store"},
}
EXPECTED["staff"] = EXPECTED["administrator"] | EXPECTED["reading_physician"] | {"staff"}
"""The installation's bootstrap administrator: administrator, reading physician and staff."""

S = "/dicom-web/studies/{study}"
N = S + "/series/{series}/instances/{sop}"
RULES: dict[tuple[str, str], str] = {
    ("GET", "/dicom-web/studies"): "study.read",
    ("GET", "/dicom-web/series"): "study.read",
    ("GET", "/dicom-web/instances"): "study.read",
    ("POST", "/dicom-web/studies"): "study.store",
    ("POST", S): "study.store@study",
    ("GET", S): "study.read@study",
    ("DELETE", S): "study.delete@study",
    ("GET", S + "/series"): "study.search@study",
    ("GET", S + "/instances"): "study.search@study",
    ("GET", S + "/series/{series}/instances"): "study.search@study",
    ("GET", S + "/series/{series}"): "study.read@study",
    ("DELETE", S + "/series/{series}"): "study.delete@study",
    ("GET", N): "study.read@study",
    ("DELETE", N): "study.delete@study",
    ("GET", S + "/metadata"): "study.read@study",
    ("GET", S + "/series/{series}/metadata"): "study.read@study",
    ("GET", N + "/metadata"): "study.read@study",
    ("GET", N + "/frames/{frame_list}"): "study.read@study",
    ("GET", N + "/bulkdata/{path}"): "study.read@study",
    ("GET", N + "/rendered"): "study.read@study",
    ("GET", N + "/frames/{number}/rendered"): "study.read@study",
    ("GET", S + "/thumbnail"): "study.read@study",
    ("GET", S + "/series/{series}/thumbnail"): "study.read@study",
    ("GET", N + "/thumbnail"): "study.read@study",
    ("GET", "/api/patients"): "study.read",
    ("GET", "/api/patients/{patient_id}"): "study.read@patient",
    ("GET", "/"): "public",  # the reading app's page: it asks for a log-in itself
    ("POST", "/api/auth/login"): "public",
    ("POST", "/api/auth/logout"): "self",
    ("POST", "/api/auth/password"): "public",
    ("GET", "/api/auth/hub"): "public",  # to the Hub's OAuth (404 when not a Hub service)
    ("GET", "/api/me"): "self",
    ("GET", "/api/tokens"): "self",
    ("POST", "/api/tokens"): "self",
    ("DELETE", "/api/tokens/{token_id}"): "self",
    ("POST", "/api/signup"): "public",
    ("GET", "/api/signup/confirm"): "public",
    ("GET", "/api/account"): "account.read",
    ("PATCH", "/api/account"): "account.update",
    ("PUT", "/api/account/payment"): "account.update",
    ("GET", "/api/staff/accounts"): "staff",
    ("POST", "/api/staff/accounts/{account_id}/state"): "staff",
    ("GET", "/api/members"): "study.share",
    ("POST", "/api/members"): "members.manage",
    ("PATCH", "/api/members/{member_id}"): "members.manage",
    ("GET", "/api/sources"): "sources.manage",
    ("POST", "/api/sources"): "sources.manage",
    ("PUT", "/api/sources/{source_id}"): "sources.manage",
    ("DELETE", "/api/sources/{source_id}"): "sources.manage",
    ("POST", "/api/sources/{source_id}/upload-key"): "sources.manage",
    ("GET", "/api/teams"): "self",
    ("POST", "/api/teams"): "teams.manage",
    ("POST", "/api/teams/{team_id}/members"): "teams.manage",
    ("DELETE", "/api/teams/{team_id}/members/{user_id}"): "teams.manage",
    ("GET", "/api/shares"): "study.share",
    ("POST", "/api/shares"): "study.share",
    ("DELETE", "/api/shares/{share_id}"): "study.share",
    ("POST", "/api/media"): "study.store",
    ("GET", "/api/media"): "study.read",
    ("GET", "/api/media/{media_id}"): "study.read",
    ("GET", "/api/media/{media_id}/content"): "study.read",
    ("DELETE", "/api/media/{media_id}"): "study.delete",
    ("GET", "/api/me/preferences"): "self",
    ("PUT", "/api/me/preferences"): "self",
    ("GET", "/api/me/hanging-protocols"): "self",
    ("PUT", "/api/me/hanging-protocols/{name}"): "self",
    ("DELETE", "/api/me/hanging-protocols/{name}"): "self",
    ("POST", "/api/notebook-runs"): "billing",
    ("GET", "/api/notebook-runs"): "billing",
    ("GET", "/api/notebook-runs/{run_id}/files/{name}"): "billing",
    ("GET", "/api/audit"): "audit.read",
    ("GET", "/api/audit/verify"): "staff",
    ("GET", "/api/billing/prices"): "account.read",
    ("GET", "/api/billing/ledger"): "billing",
    ("GET", "/api/billing/invoices/{period}"): "billing",
    ("POST", "/api/billing/payments"): "billing",
    ("GET", "/api/staff/billing/ledger"): "staff",
    ("GET", "/api/staff/billing/invoices/{period}"): "staff",
    ("POST", "/api/staff/billing/accounts/{account_id}/credits"): "staff",
    ("POST", "/api/staff/billing/close/{period}"): "staff",
    ("GET", "/api/retention/studies"): "billing",
    ("POST", "/api/retention/studies/{study}/extend"): "retention@study",
    ("PUT", "/api/retention/studies/{study}/hold"): "retention@study",
    ("DELETE", "/api/retention/studies/{study}/hold"): "retention@study",
    ("GET", "/api/staff/retention/studies"): "staff",
    ("PUT", "/api/staff/retention/studies/{study}/hold"): "staff",
    ("DELETE", "/api/staff/retention/studies/{study}/hold"): "staff",
    ("POST", "/api/staff/retention/purge"): "staff",
    ("GET", "/api/admin/jobs"): "staff",
    ("POST", "/api/admin/jobs/{job_id}/requeue"): "staff",
    ("GET", "/api/report-templates"): "study.read",
    ("GET", "/api/report-templates/{template_id}"): "study.read",
    ("GET", "/api/me/report-preferences"): "report.write",
    ("PUT", "/api/me/report-preferences"): "report.write",
    ("GET", "/api/me/signing-keys"): "report.sign",
    ("POST", "/api/me/signing-keys"): "report.sign",
    ("GET", "/api/studies/{study}/reports"): "study.read@study",
    ("POST", "/api/studies/{study}/reports"): "report.write@study",
    ("GET", "/api/studies/{study}/report-sources"): "report.write@study",
    ("POST", "/api/studies/{study}/dictations"): "report.write@study",
    ("GET", "/api/reports/{report_id}"): "study.read",
    ("PUT", "/api/reports/{report_id}"): "report.write",
    ("POST", "/api/reports/{report_id}/preliminary"): "report.write",
    ("POST", "/api/reports/{report_id}/sign"): "report.sign",
    ("POST", "/api/reports/{report_id}/addenda"): "report.write",
    ("POST", "/api/reports/{report_id}/amendments"): "report.write",
    ("GET", "/api/reports/{report_id}/verify"): "study.read",
    ("GET", "/api/reports/{report_id}/pdf"): "study.read",
    ("GET", "/api/reports/{report_id}/fhir"): "study.read",
    ("POST", "/api/reports/{report_id}/distribute"): "report.distribute",
    ("GET", "/api/reports/{report_id}/deliveries"): "report.distribute",
    ("GET", "/api/report-deliveries"): "report.distribute",
    ("POST", "/api/report-deliveries/{delivery_id}/retry"): "report.distribute",
    ("GET", "/api/report-links/{token}"): "self",
    ("GET", "/api/dictations"): "report.transcribe",
    ("GET", "/api/dictations/{dictation_id}/audio"): "report.transcribe",
    ("POST", "/api/dictations/{dictation_id}/claim"): "report.transcribe",
    ("POST", "/api/dictations/{dictation_id}/transcript"): "report.transcribe",
    ("POST", "/api/dictations/{dictation_id}/recognize"): "report.transcribe",
    ("GET", "/api/studies/{study}/annotations"): "study.read@study",
    ("POST", "/api/studies/{study}/annotations"): "report.write@study",
    # then only the author or an administrator of the study's account (test_annotations.py)
    ("PUT", "/api/studies/{study}/annotations/{annotation_id}"): "study.read",
    ("DELETE", "/api/studies/{study}/annotations/{annotation_id}"): "study.read",
    ("POST", "/api/studies/{study}/annotations/sr"): "report.write@study",  # after the POST
}
RAW_BODIES: dict[tuple[str, str], tuple[bytes | Callable[[StudyRef], bytes], str]] = {
    ("POST", "/api/studies/{study}/dictations"): (
        b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00"
        b"\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00", "audio/wav"),
    ("POST", "/api/studies/{study}/annotations"): (lambda ref: json.dumps({
        "kind": "length", "series_uid": ref.series, "sop_instance_uid": ref.sop,
        "points": [[1, 1], [3, 4]]}).encode(), "application/json"),
}
"""Routes whose body is not an empty JSON object: the bytes (or a function of the study
called) and Content-Type a call sends."""


@dataclass
class StudyRef:
    """UIDs of one stored study (and its first instance)."""

    study: str
    series: str
    sop: str
    patient_id: str
    issuer: str


def _ref(datasets: list) -> StudyRef:  # type: ignore[type-arg]
    first = datasets[0]
    return StudyRef(first.StudyInstanceUID, first.SeriesInstanceUID, first.SOPInstanceUID,
                    first.PatientID, str(first.get("IssuerOfPatientID", "")))


@dataclass
class World:
    """Principals and the studies each context points at."""

    site: RunningArchive
    principals: dict[str, dict[str, str]]
    own: dict[str, StudyRef]
    other: StudyRef
    shared: StudyRef
    admin_a: Person
    seeds: Iterator[int]

    def sacrificial(self, principal: str) -> StudyRef:
        """A fresh study in the principal's own account (for deletions)."""
        owner = ({"Authorization": f"Bearer {self.site.token}"} if principal == "staff"
                 else self.admin_a.headers)
        datasets = make_ct(n=2, seed=next(self.seeds), rows=8, columns=8)
        assert stow(self.site, owner, datasets).status_code == 200
        return _ref(datasets)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    site = start_archive(tmp_path_factory.mktemp("matrix") / "data")
    try:
        a = active_practice(site, "admin@matrix-a.example", practice="Matrix A")
        b = active_practice(site, "admin@matrix-b.example", practice="Matrix B",
                            npi="1003000126")
        principals = {"staff": {"Authorization": f"Bearer {site.token}"}}
        users = {"staff": "admin@localhost"}
        for role in ROLES:
            extra = {"npi": "1245319599"} if role == "reading_physician" else {}
            person = add_member(site, a.headers, f"{role}@matrix-a.example", [role], **extra)
            principals[role] = person.headers
            users[role] = person.email
        source = httpx.post(f"{site.url}/api/sources", headers=a.headers,
                            json={"name": "matrix modality"}).json()
        principals["upload-key"] = {"Authorization": f"Bearer {source['upload_key']}"}
        own_a = make_study(("CT",), seed=901, patient=make_patient(0, seed=90))
        own_local = make_study(("CT",), seed=902, patient=make_patient(1, seed=90))
        other = make_study(("CT",), seed=903, patient=make_patient(2, seed=90))
        shared = make_study(("CT",), seed=904, patient=make_patient(3, seed=90))
        assert stow(site, a.headers, own_a).status_code == 200
        assert stow(site, principals["staff"], own_local).status_code == 200
        assert stow(site, b.headers, other).status_code == 200
        assert stow(site, b.headers, shared).status_code == 200
        for email in users.values():
            r = httpx.post(f"{site.url}/api/shares", headers=b.headers,
                           json={"study_uid": shared[0].StudyInstanceUID, "user_email": email})
            assert r.status_code == 201, r.text
        own = {p: _ref(own_local if p == "staff" else own_a) for p in principals}
        yield World(site, principals, own, _ref(other), _ref(shared), a, itertools.count(950))
    finally:
        stop_archive(site)


def _url(path: str, ref: StudyRef) -> str:
    return (path.replace("{study}", ref.study).replace("{series}", ref.series)
            .replace("{sop}", ref.sop).replace("{frame_list}", "1").replace("{number}", "1")
            .replace("{path}", "7FE00010").replace("{patient_id}", ref.patient_id)
            .replace("{token_id}", "999999").replace("{member_id}", "999999")
            .replace("{source_id}", "999999").replace("{team_id}", "999999")
            .replace("{user_id}", "999999").replace("{share_id}", "999999")
            .replace("{account_id}", "999999").replace("{media_id}", "999999")
            .replace("{name}", "nothing-called-so").replace("{run_id}", "0" * 32)
            .replace("{period}", "2026-01")
            .replace("{template_id}", "no-such-template").replace("{report_id}", "0" * 32)
            .replace("{delivery_id}", "999999").replace("{dictation_id}", "999999")
            .replace("{token}", "no-such-token").replace("{annotation_id}", "999999")
            .replace("{job_id}", "999999"))


def _call(world: World, method: str, path: str, ref: StudyRef, headers: dict[str, str]
          ) -> httpx.Response:
    url = world.site.url + _url(path, ref)
    params = {"issuer": ref.issuer} if "{patient_id}" in path else None
    if method == "POST" and path.startswith("/dicom-web/studies"):
        instance = make_ct(n=1, seed=next(world.seeds), rows=8, columns=8,
                           study_uid=ref.study if "{study}" in path else None)
        if "{study}" not in path:
            return stow(world.site, headers, instance)
        body, content_type = _multipart(instance)
        return httpx.post(url, headers={**headers, **content_type}, content=body, timeout=30)
    if method == "GET":
        return httpx.get(url, headers=headers, params=params, timeout=30)
    if (method, path) in RAW_BODIES:
        raw, media_type = RAW_BODIES[method, path]
        raw = raw(ref) if callable(raw) else raw
        return httpx.request(method, url, headers={**headers, "Content-Type": media_type},
                             content=raw, timeout=30)
    return httpx.request(method, url, headers=headers, json={}, timeout=30)


def _multipart(datasets: list) -> tuple[bytes, dict[str, str]]:  # type: ignore[type-arg]
    from tests.synth import to_bytes
    from workbench.dicomweb.multipart_writer import (
        multipart_chunks,
        multipart_content_type,
        new_boundary,
    )

    boundary = new_boundary()
    body = b"".join(multipart_chunks(
        [({"Content-Type": "application/dicom"}, to_bytes(d)) for d in datasets], boundary))
    return body, {"Content-Type": multipart_content_type(boundary, "application/dicom")}


def test_every_route_has_a_rule(world: World) -> None:
    schema = httpx.get(f"{world.site.url}/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in schema["paths"].items() for m in ops}
    assert routes - RULES.keys() == set(), "routes without an access rule"
    assert RULES.keys() - routes == set(), "rules for routes that no longer exist"


@pytest.mark.parametrize("principal", [*EXPECTED, "anonymous"])
def test_access_matrix(world: World, principal: str) -> None:
    headers = world.principals.get(principal, {})
    failures = []
    for (method, path), rule in RULES.items():
        scope = rule.partition("@")[2]
        contexts = ("own", "other", "shared") if scope else ("own",)
        for context in contexts:
            if context == "shared" and principal == "upload-key":
                continue
            ref = {"own": world.own.get(principal, world.other), "other": world.other,
                   "shared": world.shared}[context]
            if method == "DELETE" and scope and context == "own":
                ref = world.sacrificial(principal)
            r = _call(world, method, path, ref, headers)
            verdict = _judge(principal, rule, context, r, world)
            if verdict:
                failures.append(f"{method} {path} [{context}] -> {r.status_code}: {verdict}")
    assert not failures, "\n".join(failures)


def _judge(principal: str, rule: str, context: str, r: httpx.Response, world: World
           ) -> str | None:
    """What is wrong with the answer ``r``, or None when it is what the rules say."""
    action, _, scope = rule.partition("@")
    status = r.status_code
    if action == "public":
        return None if status not in (401, 403) else "a public route refused the caller"
    if principal == "anonymous":
        return None if status == 401 else "an anonymous caller was not refused with 401"
    if status >= 500:
        return "server error"
    permission = "study.read" if action == "study.search" else action
    if permission not in EXPECTED[principal]:
        return None if status == 403 else "should be refused with 403"
    if not scope:
        if status in (401, 403):
            return "should be allowed"
        if permission in ("study.read", "billing") and world.other.study in r.text:
            return "another account's study is listed"
        return None
    if action in ("study.delete", "retention") and context == "shared":
        return None if status == 403 else "a recipient must not delete or keep a shared study"
    # recipients see only what is shared with them, not their own account's other studies
    if context == "other" or (context == "own" and principal == "referring_physician"):
        if action == "study.search":
            return None if status == 200 and r.json() == [] else "another account's study leaks"
        if action == "study.store":
            return None if status == 409 and "not authorized" in r.text else \
                "instances were added to another account's study"
        return None if status == 404 else "another account's study is not hidden (404)"
    return None if status < 400 else "should be allowed"
