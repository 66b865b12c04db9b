"""JupyterHub as an identity source: a Hub token authenticates the member mapped to it.

The Hub's REST API is served here by a small HTTP server that answers ``GET /hub/api/user``
the way JupyterHub does (the real Hub is wired in with the JupyterHub issue).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningArchive, free_port, start_archive, stop_archive
from tests.server.people import add_member

HUB_TOKENS = {"hub-token-of-alice": "alice", "hub-token-of-bob": "bob"}
SERVICE_TOKEN = "archive-service-token"


class HubApi(BaseHTTPRequestHandler):
    """``GET /hub/api/user`` with ``Authorization: token <t>`` -> the user's model."""

    def do_GET(self) -> None:  # noqa: N802
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        name = HUB_TOKENS.get(token) if scheme == "token" else None
        if self.path != "/hub/api/user" or name is None:
            self.send_response(403)
            self.end_headers()
            return
        body = json.dumps({"kind": "user", "name": name, "admin": False}).encode()
        self.send_response(200)
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
                            JUPYTERHUB_API_TOKEN=SERVICE_TOKEN)
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
