"""End to end with a real JupyterHub: two users, each sees exactly what is shared with them.

* the notebook API run as each Hub user (``wb.connect()`` from the Hub environment and
  the user's Hub token) lists only that user's study;
* a notebook stored in each user's server and run in a kernel of that server (through
  the Hub's proxy, the server's REST API and the kernel's WebSocket, with the user's Hub
  token) finds the archive and the server's credential in the kernel's environment and
  lists only that user's study; the user cannot reach the other user's server;
* the archive behind the Hub's proxy (``/services/archive/``) answers Hub tokens as the
  mapped workbench user, refuses (403, naming the scope) a token without
  ``access:services!service=archive``, and a browser logs in to it through the Hub's OAuth;
* in Chromium, each user logs in to the Hub, the Lab opens, the launcher's "Workbench"
  item opens the reading app, whose worklist shows only that user's study;
* in Chromium, a user logged in to the Hub opens the full reading app at
  ``/services/archive/`` (through the Hub's OAuth), sees their study and its CT drawn,
  and every request of the page stays under the prefix or the Hub's log-in pages.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import ROOT
from tests.jupyter.conftest import HUB_PASSWORD, USERS, Hub, xsrf
from tests.jupyter.kernels import UserServer, notebook, run_notebook, text

pytestmark = pytest.mark.slow

NOTEBOOK = "import workbench as wb; wb.connect(); print(sorted(wb.studies().accession))"


def _expected(hub: Hub, name: str) -> list[str]:
    return [hub.studies[name]]


def test_notebook_api_lists_only_the_users_studies(hub: Hub) -> None:
    for name in USERS:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WORKBENCH_",
                                                                         "JUPYTERHUB_"))}
        env.update(WORKBENCH_URL=hub.archive.url, JUPYTERHUB_API_TOKEN=hub.user_token(name),
                   PYTHONPATH=str(ROOT))
        done = subprocess.run([sys.executable, "-c", NOTEBOOK], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == str(_expected(hub, name)), (name, done.stdout)


def _start_servers(hub: Hub) -> None:
    """Start the users' servers (those not running) and wait until the Hub calls them ready."""
    with hub.api() as api:
        for name in USERS:
            api.post(f"/users/{name}")   # 409 when the user exists
            r = api.post(f"/users/{name}/server")
            assert r.status_code in (201, 202, 400), r.text   # 400: already running
        def ready(name: str) -> bool:
            return bool(api.get(f"/users/{name}").json()["servers"].get("", {}).get("ready"))

        for name in USERS:
            _wait(lambda name=name: ready(name), 90, f"{name}'s server")


KERNEL_NOTEBOOK = (
    "import os\nimport workbench as wb\nconnection = wb.connect()\n"
    "print(os.environ['JUPYTERHUB_USER'], connection.url == os.environ['WORKBENCH_URL'],\n"
    "      connection.token == os.environ['JUPYTERHUB_API_TOKEN'])",
    "found = wb.studies()\nprint(sorted(found['accession']))\nprint(sorted(found['study_uid']))",
)


def test_notebook_in_the_users_kernel_lists_only_the_users_studies(hub: Hub) -> None:
    _start_servers(hub)
    for name in USERS:
        server = UserServer(f"{hub.url}/user/{name}", hub.user_token(name))
        ran, kernel = run_notebook(server, "workbench-studies.ipynb", notebook(*KERNEL_NOTEBOOK))
        printed = [text(cell) for cell in ran["cells"]]
        assert printed[0] == f"{name} True True\n", (name, printed)
        accession = _expected(hub, name)[0]
        assert printed[1] == f"{[accession]}\n{[hub.uids[accession]]}\n", (name, printed)
        with server.api() as api:   # the session's end shut the kernel down
            assert kernel not in [k["id"] for k in api.get("/kernels").json()]
        other = next(user for user in USERS if user != name)
        refused = httpx.get(f"{hub.url}/user/{other}/api/kernels", headers=server.headers,
                            timeout=30)
        assert refused.status_code == 403, (name, other, refused.status_code)


def test_hub_tokens_through_the_proxy(hub: Hub) -> None:
    base = f"{hub.url}/services/archive"
    for name in USERS:
        headers = {"Authorization": f"token {hub.user_token(name)}"}
        me = httpx.get(f"{base}/api/me", headers=headers, timeout=30)
        assert me.status_code == 200, me.text
        assert me.json()["email"] == f"{name}@hubclinic.example"
        found = httpx.get(f"{base}/dicom-web/studies", headers=headers, timeout=30).json()
        assert [s["00080050"]["Value"][0] for s in found] == _expected(hub, name)
    assert httpx.get(f"{base}/dicom-web/studies", timeout=30,
                     headers={"Authorization": "token not-a-hub-token"}).status_code == 401


def test_hub_tokens_without_the_access_scope_are_refused(hub: Hub) -> None:
    with hub.api() as api:   # a token of Alice's that may only read her name
        r = api.post("/users/alice/tokens", json={"note": "narrow",
                                                  "scopes": ["read:users:name!user=alice"]})
        assert r.status_code in (200, 201), r.text
        narrow = str(r.json()["token"])
    refused = httpx.get(f"{hub.url}/services/archive/api/me", timeout=30,
                        headers={"Authorization": f"token {narrow}"})
    assert refused.status_code == 403, refused.text
    assert "access:services!service=archive" in refused.json()["detail"]


def _hub_login(client: httpx.Client, name: str) -> None:
    form = client.get("/hub/login")
    r = client.post("/hub/login", data={"username": name, "password": HUB_PASSWORD,
                                        "_xsrf": xsrf(form.text)})
    assert r.status_code in (200, 302), r.text


def test_browser_logs_in_to_the_archive_with_the_hub_identity(hub: Hub) -> None:
    with httpx.Client(base_url=hub.url, timeout=30, follow_redirects=False) as client:
        _hub_login(client, "alice")
        r = client.get("/services/archive/api/auth/hub", params={"next": "/api/me"})
        for _ in range(6):  # archive -> Hub authorize -> archive callback -> /api/me
            if r.status_code != 302:
                break
            r = client.get(r.headers["location"])
        assert r.status_code == 200, r.text
        assert r.json()["email"] == "alice@hubclinic.example"
        cookie = next(c for c in client.cookies.jar if c.name == "wb_session")
        assert cookie.path == "/services/archive/"   # other Hub paths never receive it
    with httpx.Client(base_url=hub.url, timeout=30) as anonymous:
        first = anonymous.get("/services/archive/", follow_redirects=False)
        assert first.status_code == 302
        assert first.headers["location"] == "/services/archive/api/auth/hub"


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _open_workbench(chromium: Any, hub: Hub, name: str) -> None:
    """Log in to the Hub as ``name``, open "Workbench" from the Lab's launcher and check
    the worklist inside the Lab."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(f"{hub.url}/hub/login")
        page.locator("#username_input").fill(name)
        page.locator("#password_input").fill(HUB_PASSWORD)
        page.locator("#login_submit").click()
        try:
            page.wait_for_url(f"**/user/{name}/lab**", timeout=60_000)
        except Exception as error:
            raise AssertionError(f"{name}: no Lab at {page.url}: "
                                 f"{page.locator('body').inner_text()[:500]}") from error
        card = page.locator(".jp-LauncherCard", has_text="Workbench").first
        card.wait_for(timeout=60_000)
        card.click()
        frame = page.frame_locator(f"iframe[src*='/user/{name}/workbench/']")
        rows = frame.locator(".wb-table .wb-row")
        rows.first.wait_for(timeout=60_000)
        _wait(lambda: rows.count() == 1, 20, f"{name}'s worklist")
        assert _expected(hub, name)[0] in rows.first.inner_text()
        thumbnail = frame.locator(".wb-table img.wb-thumb").first
        _wait(lambda: thumbnail.evaluate("img => img.naturalWidth") > 0, 20,
              "the thumbnail, fetched through the in-Lab forwarder")
    finally:
        context.close()


@pytest.mark.browser
def test_lab_launcher_opens_the_reading_app(hub: Hub, chromium: Any) -> None:
    for name in USERS:
        _open_workbench(chromium, hub, name)


@pytest.mark.browser
def test_reading_app_at_the_service_prefix(hub: Hub, chromium: Any) -> None:
    """The full reading app at ``/services/archive/`` after the Hub's OAuth log-in."""
    prefix = "/services/archive/"
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    requests: list[str] = []
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{hub.url}/hub/login")
        page.locator("#username_input").fill("alice")
        page.locator("#password_input").fill(HUB_PASSWORD)
        page.locator("#login_submit").click()
        page.wait_for_url(lambda url: "/hub/login" not in url, timeout=60_000)
        page.close()   # the Hub's pages (and the Lab) stay out of the record
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: requests.append(request.url))
        page.on("websocket", lambda socket: requests.append(socket.url))
        study = hub.uids[_expected(hub, "alice")[0]]
        page.goto(f"{hub.url}{prefix}")   # -> the Hub's authorize page -> back, logged in
        rows = page.locator(".wb-table .wb-row")
        rows.first.wait_for(timeout=90_000)
        _wait(lambda: rows.count() == 1, 30, "Alice's worklist")
        assert _expected(hub, "alice")[0] in rows.first.inner_text()
        thumbnail = page.locator(".wb-table img.wb-thumb").first
        _wait(lambda: thumbnail.evaluate("img => img.naturalWidth") > 0, 30, "the thumbnail")
        page.goto(f"{hub.url}{prefix}?study={study}")   # a study's page, session kept
        page.locator(".wb-card").first.click(timeout=90_000)
        view = page.locator(".wb-viewport").first
        _wait(lambda: view.get_attribute("data-count") == "2"
              and view.get_attribute("data-drawn") == "0", 90, "the CT drawn")
    finally:
        context.close()
    assert errors == []
    origin = urlsplit(hub.url).netloc
    paths = [urlsplit(url).path for url in requests if urlsplit(url).netloc == origin]
    assert f"{prefix}ws" in paths
    assert any(path.startswith(f"{prefix}dicom-web/") for path in paths)
    outside = [path for path in paths
               if not path.startswith((prefix, "/hub/api/oauth2/authorize"))]
    assert outside == [], f"requests outside {prefix}: {outside}"
