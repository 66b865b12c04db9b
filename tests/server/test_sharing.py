"""Everyone sees exactly what they may: accounts, recipients, teams, upload keys, tokens."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.server.people import Person, active_practice, add_member, login, stow, token_for
from tests.synth import make_ct, make_patient, make_study

ISSUER = make_patient(0).issuer


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningArchive]:
    running = start_archive(tmp_path_factory.mktemp("sharing") / "data")
    yield running
    stop_archive(running)


@pytest.fixture(scope="module")
def practices(site: RunningArchive) -> dict[str, Person]:
    """Two practices with the same Patient ID for different people, and their people."""
    a = active_practice(site, "admin@practice-a.example", practice="Practice A")
    b = active_practice(site, "admin@practice-b.example", practice="Practice B",
                        npi="1003000126")
    people = {"a": a, "b": b}
    people["a_reader"] = add_member(site, a.headers, "reader@practice-a.example",
                                    ["reading_physician"])
    people["a_tech"] = add_member(site, a.headers, "tech@practice-a.example", ["technologist"])
    people["a_referrer"] = add_member(site, a.headers, "referrer@practice-a.example",
                                      ["referring_physician"], distribution="both",
                                      fax_number="+1 555 0100 200")
    people["b_reader"] = add_member(site, b.headers, "reader@practice-b.example",
                                    ["reading_physician"], npi="1760571632")
    same_id_a = make_patient(0, seed=71)
    same_id_b = make_patient(1, seed=72)
    same_id_b = type(same_id_b)(**{**same_id_b.__dict__, "patient_id": same_id_a.patient_id})
    assert stow(site, a.headers, make_study(("CT",), seed=701, patient=same_id_a)
                ).status_code == 200
    assert stow(site, a.headers, make_study(("MR",), seed=702, patient=same_id_a,
                                            accession="ACC0702")).status_code == 200
    assert stow(site, b.headers, make_study(("CT",), seed=703, patient=same_id_b)
                ).status_code == 200
    return people


def _studies(site: RunningArchive, person: Person, **params: str) -> list[str]:
    r = httpx.get(f"{site.dicomweb}/studies", headers=person.headers, params=params)
    assert r.status_code == 200, r.text
    return [s["0020000D"]["Value"][0] for s in r.json()]


def _pid(site: RunningArchive, person: Person) -> str:
    r = httpx.get(f"{site.dicomweb}/studies", headers=person.headers)
    return str(r.json()[0]["00100020"]["Value"][0])


def test_accounts_never_see_each_other(site: RunningArchive, practices: dict[str, Person]
                                       ) -> None:
    a, b = practices["a"], practices["b"]
    a_studies, b_studies = _studies(site, a), _studies(site, b)
    assert len(a_studies) == 2 and len(b_studies) == 1
    assert not set(a_studies) & set(b_studies)
    # members of A see A's studies; the installation's own account sees neither
    assert sorted(_studies(site, practices["a_tech"])) == sorted(a_studies)
    local = Person("admin@localhost", 1, 1, site.token)
    assert not set(_studies(site, local)) & set(a_studies + b_studies)
    # another account's study is as absent as one never stored: WADO 404, QIDO empty
    for path in ("", "/metadata", "/thumbnail"):
        r = httpx.get(f"{site.dicomweb}/studies/{a_studies[0]}{path}", headers=b.headers)
        assert r.status_code == 404, path
    for path in ("/series", "/instances"):
        r = httpx.get(f"{site.dicomweb}/studies/{a_studies[0]}{path}", headers=b.headers)
        assert r.status_code == 200 and r.json() == [], path
    # the same Patient ID is two folders, one per account
    pid = _pid(site, b)
    folder_a = httpx.get(f"{site.url}/api/patients/{pid}", headers=a.headers,
                         params={"issuer": ISSUER}).json()
    folder_b = httpx.get(f"{site.url}/api/patients/{pid}", headers=b.headers,
                         params={"issuer": ISSUER}).json()
    assert folder_a["num_studies"] == 2 and folder_b["num_studies"] == 1
    assert folder_a["name"] != folder_b["name"] and not folder_b["has_conflicts"]


def test_recipients_see_only_what_is_shared(site: RunningArchive,
                                            practices: dict[str, Person]) -> None:
    a, referrer = practices["a"], practices["a_referrer"]
    assert _studies(site, referrer) == []
    first, second = sorted(_studies(site, a))
    r = httpx.post(f"{site.url}/api/shares", headers=practices["a_reader"].headers,
                   json={"study_uid": first, "user_email": referrer.email})
    assert r.status_code == 201, r.text
    assert _studies(site, referrer) == [first]
    assert httpx.get(f"{site.dicomweb}/studies/{first}/metadata",
                     headers=referrer.headers).status_code == 200
    assert httpx.get(f"{site.dicomweb}/studies/{second}/metadata",
                     headers=referrer.headers).status_code == 404
    assert len(httpx.get(f"{site.dicomweb}/instances", headers=referrer.headers).json()) >= 1
    assert all(i["0020000D"]["Value"][0] == first for i in httpx.get(
        f"{site.dicomweb}/instances", headers=referrer.headers).json())
    # a recipient cannot share further, store, or delete
    assert httpx.post(f"{site.url}/api/shares", headers=referrer.headers, json={
        "study_uid": first, "user_email": "admin@practice-b.example"}).status_code == 403
    assert stow(site, referrer.headers, make_ct(n=1, seed=704, rows=8, columns=8)
                ).status_code == 403
    assert httpx.delete(f"{site.dicomweb}/studies/{first}",
                        headers=referrer.headers).status_code == 403
    # unsharing takes effect at once
    httpx.delete(f"{site.url}/api/shares/{r.json()['id']}", headers=a.headers)
    assert _studies(site, referrer) == []


def test_patient_folder_shares_cover_later_studies(site: RunningArchive,
                                                   practices: dict[str, Person]) -> None:
    a, b_reader = practices["a"], practices["b_reader"]
    pid = _pid(site, a)
    r = httpx.post(f"{site.url}/api/shares", headers=a.headers,
                   json={"patient_id": pid, "issuer": ISSUER, "user_email": b_reader.email})
    assert r.status_code == 201, r.text
    seen = _studies(site, b_reader)
    assert len(seen) == 3  # B's own study and A's two of that patient
    folder = httpx.get(f"{site.url}/api/patients/{pid}", headers=b_reader.headers,
                       params={"account_id": a.account_id, "issuer": ISSUER}).json()
    assert folder["num_studies"] == 2
    # B may view A's shared study but not delete from it
    shared = next(s for s in seen if s in _studies(site, a))
    assert httpx.delete(f"{site.dicomweb}/studies/{shared}",
                        headers=practices["b"].headers).status_code == 404
    httpx.delete(f"{site.url}/api/shares/{r.json()['id']}", headers=a.headers)
    assert len(_studies(site, b_reader)) == 1


def test_virtual_workflow_partner_uploads_for_a_reader(site: RunningArchive,
                                                       practices: dict[str, Person]) -> None:
    a, b = practices["a"], practices["b"]
    team = httpx.post(f"{site.url}/api/teams", headers=a.headers, json={"name": "Night reads"})
    assert team.status_code == 201
    team_id = team.json()["id"]
    for email, role in ((practices["a_reader"].email, "reader"), (b.email, "sender")):
        r = httpx.post(f"{site.url}/api/teams/{team_id}/members", headers=a.headers,
                       json={"email": email, "role": role})
        assert r.status_code == 200, r.text
    # B's administrator sends a study to the team; A's reader sees it, A's technologist not
    uploaded = make_study(("CT",), seed=705)
    uid = uploaded[0].StudyInstanceUID
    assert stow(site, b.headers, uploaded, **{"X-Workbench-Team": str(team_id)}
                ).status_code == 200
    assert uid in _studies(site, practices["a_reader"])
    assert uid not in _studies(site, practices["a_tech"])
    assert uid in _studies(site, b)
    # a team one is not a sender of is refused
    refused = stow(site, practices["b_reader"].headers, make_study(("CT",), seed=706),
                   **{"X-Workbench-Team": str(team_id)})
    assert refused.status_code == 403 and "sender" in refused.json()["detail"]
    # B's reader cannot add instances to A's studies it does not see
    a_study = _studies(site, a)[0]
    intruder = make_ct(n=1, seed=707, rows=8, columns=8, study_uid=a_study)
    r = stow(site, b.headers, intruder)
    assert r.status_code == 409
    assert "not authorized" in r.json()["00081198"]["Value"][0]["00000902"]["Value"][0]


def test_upload_keys_only_store(site: RunningArchive, practices: dict[str, Person]) -> None:
    a = practices["a"]
    title = "CT" + uuid.uuid4().hex[:6].upper()
    r = httpx.post(f"{site.url}/api/sources", headers=a.headers,
                   json={"name": "CT scanner", "kind": "modality", "ae_title": title})
    assert r.status_code == 201, r.text
    key = {"Authorization": f"Bearer {r.json()['upload_key']}"}
    listed = httpx.get(f"{site.url}/api/sources", headers=a.headers).json()
    assert all(source["upload_key"] is None for source in listed)
    sent = make_study(("CT",), seed=708)
    assert stow(site, key, sent).status_code == 200
    assert sent[0].StudyInstanceUID in _studies(site, a)
    assert httpx.get(f"{site.dicomweb}/studies", headers=key).status_code == 403
    dup = httpx.post(f"{site.url}/api/sources", headers=a.headers,
                     json={"name": "other", "ae_title": title})
    assert dup.status_code == 409
    bad = httpx.post(f"{site.url}/api/sources", headers=a.headers,
                     json={"name": "other", "ae_title": "BAD\\TITLE"})
    assert bad.status_code == 422
    rotated = httpx.post(f"{site.url}/api/sources/{r.json()['id']}/upload-key",
                         headers=a.headers)
    assert stow(site, key, make_study(("CT",), seed=709)).status_code == 401
    new_key = {"Authorization": f"Bearer {rotated.json()['upload_key']}"}
    assert stow(site, new_key, make_study(("CT",), seed=709)).status_code == 200
    # other accounts cannot see or edit the source
    assert httpx.put(f"{site.url}/api/sources/{r.json()['id']}", headers=practices["b"].headers,
                     json={"name": "mine now"}).status_code == 404


def test_token_scopes_expiry_and_revocation(site: RunningArchive,
                                            practices: dict[str, Person]) -> None:
    client = login(site, practices["a_reader"].email)
    read_only = {"Authorization": f"Bearer {token_for(client, ('read',))}"}
    assert httpx.get(f"{site.dicomweb}/studies", headers=read_only).status_code == 200
    r = stow(site, read_only, make_study(("CT",), seed=710))
    assert r.status_code == 403 and "scope" in r.json()["detail"]
    escalate = httpx.post(f"{site.url}/api/tokens", headers=read_only,
                          json={"name": "x", "scopes": ["admin"]})
    assert escalate.status_code in (403, 422)
    tokens = client.get("/api/tokens").json()
    victim = tokens[-1]["id"]
    assert client.delete(f"/api/tokens/{victim}").status_code == 200
    gone = httpx.get(f"{site.dicomweb}/studies", headers=read_only)
    assert gone.status_code == 401 and "revoked" in gone.json()["detail"]
    client.close()


def test_sessions_need_csrf_for_changes(site: RunningArchive, practices: dict[str, Person]
                                        ) -> None:
    client = login(site, practices["a"].email)
    assert client.cookies.get("wb_session")
    no_csrf = httpx.post(f"{site.url}/api/teams", json={"name": "x"},
                         cookies={"wb_session": client.cookies["wb_session"]})
    assert no_csrf.status_code == 403 and "CSRF" in no_csrf.json()["detail"]
    assert client.post("/api/teams", json={"name": "with csrf"}).status_code == 201
    client.post("/api/auth/logout")
    client.cookies.clear()
    client.close()


def test_login_lockout(site: RunningArchive, practices: dict[str, Person]) -> None:
    address = practices["a_tech"].email
    for _ in range(5):
        r = httpx.post(f"{site.url}/api/auth/login",
                       json={"email": address, "password": "wrong password!"})
        assert r.status_code == 401 and "wrong e-mail address or password" in r.json()["detail"]
    locked = httpx.post(f"{site.url}/api/auth/login",
                        json={"email": address, "password": "correct horse battery"})
    assert locked.status_code == 429 and "locked" in locked.json()["detail"]
    assert int(locked.headers["Retry-After"]) > 60


def test_login_rate_limit_per_address(tmp_path: Path) -> None:
    running = start_archive(tmp_path / "data", WORKBENCH_LOGIN_ATTEMPTS_PER_MINUTE="5")
    try:
        statuses = [httpx.post(f"{running.url}/api/auth/login", json={
            "email": "nobody@x.example", "password": "x" * 10}).status_code for _ in range(7)]
    finally:
        stop_archive(running)
    assert statuses[:5] == [401] * 5 and statuses[5:] == [429, 429]
