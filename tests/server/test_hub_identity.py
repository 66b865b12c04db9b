"""JupyterHub as an identity source: a Hub token authenticates the member mapped to it.

The Hub's REST API is served here by a small HTTP server that answers ``GET /hub/api/user``
(the token's user and its scopes) and ``POST /hub/api/oauth2/token`` (an OAuth code for a
token) the way JupyterHub does; ``tests/jupyter/test_hub.py`` runs against the real Hub.
A token (or OAuth identity) must grant ``access:services!service=archive`` or
``access:services``; one without is refused with a 403 naming the scope.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import RunningArchive, free_port, start_archive, stop_archive
from tests.server.people import add_member

ACCESS = "access:services!service=archive"
HUB_TOKENS = {  # token -> (Hub user, the token's scopes as the Hub lists them)
    "hub-token-of-alice": ("alice", ["self", ACCESS, "read:users:name!user=alice"]),
    "hub-token-of-bob": ("bob", ["self", ACCESS]),
    "hub-token-of-carol": ("carol", ["self", "access:services!service=other"]),
    "broad-token-of-carol": ("carol", ["access:services", "read:users:name!user=carol"]),
}
OAUTH_CODES = {"code-of-carol": "hub-token-of-carol", "broad-code-of-carol":
               "broad-token-of-carol"}
SERVICE_TOKEN = "archive-service-token"
CLIENT_ID = "service-archive"
CALLBACK = "/oauth_callback"
PREFIX = "/services/archive"


class HubApi(BaseHTTPRequestHandler):
    """``GET /hub/api/user`` with ``Authorization: token <t>`` -> the user's model;
    ``POST /hub/api/oauth2/token`` with the service's credentials and a code -> a token."""

    def do_GET(self) -> None:  # noqa: N802
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        found = HUB_TOKENS.get(token) if scheme == "token" else None
        if self.path != "/hub/api/user" or found is None:
            self._answer(403, {"status": 403, "message": "Forbidden"})
            return
        self._answer(200, {"kind": "user", "name": found[0], "admin": False,
                           "scopes": found[1]})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        token = OAUTH_CODES.get(form.get("code", ""))
        if (urlsplit(self.path).path != "/hub/api/oauth2/token" or token is None
                or form.get("client_secret") != SERVICE_TOKEN
                or form.get("client_id") != CLIENT_ID):
            self._answer(400, {"error": "invalid_grant"})
            return
        self._answer(200, {"access_token": token, "token_type": "Bearer"})

    def _answer(self, status: int, model: dict[str, object]) -> None:
        body = json.dumps(model).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def hub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), HubApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hub/api"
    server.shutdown()


@pytest.fixture
def hub_archive(tmp_path: Path, hub: str) -> Iterator[RunningArchive]:
    running = start_archive(tmp_path / "data", JUPYTERHUB_API_URL=hub,
                            JUPYTERHUB_API_TOKEN=SERVICE_TOKEN, JUPYTERHUB_SERVICE_NAME="archive",
                            JUPYTERHUB_CLIENT_ID=CLIENT_ID,
                            JUPYTERHUB_OAUTH_CALLBACK_URL=CALLBACK,
                            JUPYTERHUB_SERVICE_PREFIX=PREFIX + "/")
    yield running
    stop_archive(running)


def test_hub_tokens_act_as_the_mapped_member(hub_archive: RunningArchive) -> None:
    site = hub_archive
    add_member(site, site.headers, "alice@hub.example", ["reading_physician"],
               hub_username="alice")
    alice = {"Authorization": "token hub-token-of-alice"}
    me = httpx.get(f"{site.url}/api/me", headers=alice)
    assert me.status_code == 200, me.text
    assert me.json()["email"] == "alice@hub.example" and me.json()["via"] == "hub"
    assert httpx.get(f"{site.dicomweb}/studies", headers=alice).status_code == 200
    # a Hub user without a mapped member, and a token the Hub does not know, get nothing
    assert httpx.get(f"{site.url}/api/me",
                     headers={"Authorization": "token hub-token-of-bob"}).status_code == 401
    assert httpx.get(f"{site.url}/api/me",
                     headers={"Authorization": "token forged"}).status_code == 401
    taken = httpx.post(f"{site.url}/api/members", headers=site.headers, json={
        "email": "other@hub.example", "name": "Other", "roles": ["technologist"],
        "hub_username": "alice"})
    assert taken.status_code == 409


def test_hub_tokens_need_the_services_access_scope(hub_archive: RunningArchive) -> None:
    site = hub_archive
    add_member(site, site.headers, "carol@hub.example", ["reading_physician"],
               hub_username="carol")
    narrow = {"Authorization": "token hub-token-of-carol"}
    for _ in range(2):   # refused again from the cache
        refused = httpx.get(f"{site.dicomweb}/studies", headers=narrow)
        assert refused.status_code == 403, refused.text
        assert ACCESS in refused.json()["detail"]
    broad = httpx.get(f"{site.url}/api/me", headers={"Authorization": "token broad-token-of-carol"})
    assert broad.status_code == 200, broad.text               # access:services covers it
    assert broad.json()["email"] == "carol@hub.example"


def _oauth(site: RunningArchive, code: str, prefix: str = "") -> httpx.Response:
    """Start the Hub log-in at the archive, then come back with ``code`` as the Hub would."""
    with httpx.Client(base_url=site.url, timeout=30) as browser:
        start = browser.get(f"{prefix}/api/auth/hub", params={"next": "/api/me"})
        assert start.status_code == 302, start.text
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        back = browser.get(prefix + CALLBACK, params={"code": code, "state": state})
        if back.status_code == 302:
            return browser.get(back.headers["location"])
        return back


def test_hub_oauth_identity_needs_the_services_access_scope(
        hub_archive: RunningArchive) -> None:
    site = hub_archive
    add_member(site, site.headers, "carol@hub.example", ["reading_physician"],
               hub_username="carol")
    refused = _oauth(site, "code-of-carol")
    assert refused.status_code == 403, refused.text
    assert ACCESS in refused.json()["detail"]
    admitted = _oauth(site, "broad-code-of-carol")
    assert admitted.status_code == 200, admitted.text
    assert admitted.json()["email"] == "carol@hub.example"


def test_the_page_under_the_prefix_sends_browsers_without_a_session_to_the_hub(
        hub_archive: RunningArchive) -> None:
    site = hub_archive
    add_member(site, site.headers, "carol@hub.example", ["reading_physician"],
               hub_username="carol")
    with httpx.Client(base_url=site.url, timeout=30) as browser:
        bare = browser.get(PREFIX, params={"study": "2.25.1"})
        assert (bare.status_code, bare.headers["location"]) == (302, PREFIX + "/?study=2.25.1")
        first = browser.get(PREFIX + "/", params={"study": "2.25.1"})
        assert first.status_code == 302   # to the Hub's log-in, the page's query kept
        assert first.headers["location"] == f"{PREFIX}/api/auth/hub?next=%2F%3Fstudy%3D2.25.1"
        stale = browser.get(PREFIX + "/", headers={"Cookie": "wb_session=ended-long-ago"})
        assert stale.status_code == 302   # a session the archive no longer knows: the same
        assert stale.headers["location"] == f"{PREFIX}/api/auth/hub"
    me = _oauth(site, "broad-code-of-carol", prefix=PREFIX)
    assert me.status_code == 200 and me.json()["email"] == "carol@hub.example"
    assert str(me.url) == f"{site.url}{PREFIX}/api/me"
