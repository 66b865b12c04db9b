"""A real JupyterHub on loopback, configured by the repository's recipe, with a practice.

The Hub (``extensions/jupyterhub_config.py``, loaded as a sub-configuration) runs
configurable-http-proxy, the archive as its managed service ``archive`` and
``SimpleLocalProcessSpawner`` servers for users logging in through the
``DummyAuthenticator``. One more service, ``tests``, holds an admin token to create
users and tokens. The practice stores three studies and shares one with Alice and
another with Bob, both referring physicians mapped to their Hub names; the third is
shared with nobody.

Where the installed metadata lacks the ``jupyter_serverproxy_servers`` entry point of
``workbench_jupyter`` (an install from before it was declared), a dist-info folder on
``PYTHONPATH`` declares it, so that the proxy discovers the app the way it does in a
deployment.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, ROOT, RunningArchive, free_port
from tests.server.people import Person, active_practice, add_member, stow
from tests.synth import make_ct, make_patient

RECIPE = ROOT / "extensions" / "jupyterhub_config.py"
HUB_TOKEN = "tests-hub-admin-token"
HUB_PASSWORD = "hub-trial-password"
USERS = ("alice", "bob")


@dataclass
class Hub:
    """The running Hub and what the practice stored."""

    url: str
    archive: RunningArchive
    process: subprocess.Popen[bytes]
    log: Path
    studies: dict[str, str] = field(default_factory=dict)
    """Hub user name (or ``"nobody"``) -> the accession of the study shared with them."""
    uids: dict[str, str] = field(default_factory=dict)
    """Accession -> Study Instance UID."""
    people: dict[str, Person] = field(default_factory=dict)

    def api(self) -> httpx.Client:
        """The Hub's REST API as the ``tests`` service (admin)."""
        return httpx.Client(base_url=f"{self.url}/hub/api", timeout=30,
                            headers={"Authorization": f"token {HUB_TOKEN}"})

    def user_token(self, name: str) -> str:
        """A new Hub API token of user ``name`` (created, as the user, if needed)."""
        with self.api() as api:
            api.post(f"/users/{name}")
            r = api.post(f"/users/{name}/tokens", json={"note": "tests"})
            assert r.status_code in (200, 201), r.text
            return str(r.json()["token"])


def _missing() -> str | None:
    """Why the Hub cannot run here, or None."""
    for module, package in (("jupyterhub", "jupyterhub"), ("jupyterlab", "jupyterlab"),
                            ("jupyter_server_proxy", "jupyter-server-proxy")):
        if importlib.util.find_spec(module) is None:
            return f"{package} is not installed (pip install {package})"
    if not _proxy_command():
        return "configurable-http-proxy is not installed (npm install -g configurable-http-proxy)"
    return None


def _proxy_command() -> str | None:
    return shutil.which("configurable-http-proxy")


def _entry_point_site(folder: Path) -> str:
    """A folder declaring the proxy entry point, unless the installed metadata does."""
    names = {point.name for point in entry_points(group="jupyter_serverproxy_servers")}
    if "workbench" in names:
        return ""
    info = folder / "workbench_jupyter_tests-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: workbench-jupyter-tests\n"
                                   "Version: 0\n")
    (info / "entry_points.txt").write_text(
        "[jupyter_serverproxy_servers]\nworkbench = workbench_jupyter:setup_workbench\n")
    return str(folder)


def _config(root: Path) -> Path:
    path = root / "jupyterhub_config.py"
    path.write_text(f"""
load_subconfig({str(RECIPE)!r})  # noqa: F821
c.JupyterHub.services.append({{"name": "tests", "api_token": {HUB_TOKEN!r}}})
c.JupyterHub.load_roles.append({{"name": "tests", "services": ["tests"],
    "scopes": ["admin:users", "admin:servers", "tokens", "read:services"]}})
c.JupyterHub.log_level = "WARN"
c.Spawner.args = ["--ServerApp.log_level=WARN"] + {["--allow-root"] if os.geteuid() == 0 else []!r}
""")
    return path


def _wait(what: str, check: object, process: subprocess.Popen[bytes], log: Path,
          timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterHub exited with {process.returncode}: "
                               f"{log.read_text()[-3000:]}")
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s; see {log}")


def _start(root: Path) -> tuple[Hub, dict[str, str]]:
    ports = {name: free_port() for name in ("hub", "api", "proxy", "archive")}
    data, homes = root / "data", root / "homes"
    data.mkdir()
    homes.mkdir()
    python_path = [str(ROOT), str(ROOT / "extensions"), _entry_point_site(root / "site"),
                   os.environ.get("PYTHONPATH", "")]
    env = dict(
        os.environ, WORKBENCH_DATA_DIR=str(data), WORKBENCH_ADMIN_TOKEN=ADMIN_TOKEN,
        WORKBENCH_HUB_PORT=str(ports["hub"]), WORKBENCH_HUB_API_PORT=str(ports["api"]),
        WORKBENCH_HUB_PROXY_API_URL=f"http://127.0.0.1:{ports['proxy']}",
        WORKBENCH_HUB_ARCHIVE_PORT=str(ports["archive"]), WORKBENCH_HUB_HOMES=str(homes),
        WORKBENCH_HUB_PASSWORD=HUB_PASSWORD,
        PYTHONPATH=os.pathsep.join(p for p in python_path if p),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    for name in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_SERVICE_PREFIX", "WORKBENCH_URL",
                 "WORKBENCH_TOKEN", "JUPYTER_CONFIG_DIR"):
        env.pop(name, None)
    log = root / "jupyterhub.log"
    process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(_config(root))],
                               cwd=root, env=env, stdout=log.open("wb"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{ports['hub']}"
    archive = RunningArchive(f"http://127.0.0.1:{ports['archive']}", ADMIN_TOKEN, data, process)
    hub = Hub(url, archive, process, log)
    _wait("the Hub", lambda: httpx.get(f"{url}/hub/api/", timeout=2).status_code == 200,
          process, log)
    _wait("the archive service", lambda: httpx.get(
        f"{url}/services/archive/healthz", timeout=2).status_code == 200, process, log)
    return hub, env


def _practice(hub: Hub) -> None:
    archive = hub.archive
    admin = active_practice(archive, "admin@hubclinic.example")
    for name in USERS:
        hub.people[name] = add_member(archive, admin.headers, f"{name}@hubclinic.example",
                                      ["referring_physician"], hub_username=name)
    for index, who in enumerate((*USERS, "nobody")):
        accession = f"ACC-HUB-{who.upper()}"
        study = make_ct(n=2, rows=32, columns=32, seed=60 + index, accession=accession,
                        patient=make_patient(60 + index), study_uid=f"2.25.66000{index}")
        assert stow(archive, admin.headers, study).status_code == 200
        hub.studies[who], hub.uids[accession] = accession, str(study[0].StudyInstanceUID)
        if who in USERS:
            r = httpx.post(f"{archive.url}/api/shares", headers=admin.headers, json={
                "study_uid": hub.uids[accession], "user_email": f"{who}@hubclinic.example"})
            assert r.status_code == 201, r.text


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the Hub, its proxy, the archive and the users' servers (its process group)."""
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, 9)


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """JupyterHub with the archive service and the practice (skips without JupyterHub)."""
    missing = _missing()
    if missing:
        pytest.skip(missing)
    running, _ = _start(tmp_path_factory.mktemp("hub"))
    try:
        _practice(running)
        yield running
    finally:
        stop(running.process)


def xsrf(html: str) -> str:
    """The ``_xsrf`` value of a Hub form."""
    match = re.search(r'name="_xsrf" value="([^"]+)"', html)
    assert match, "no _xsrf field in the Hub's page"
    return match.group(1)


@dataclass
class LocalServer:
    """A Jupyter server (``jupyter_server`` or ``jupyterlab``) started by a test."""

    url: str
    env: dict[str, str]
    log: Path


@contextmanager
def local_jupyter(module: str, base: Path, root: Path, archive: RunningArchive, token: str,
                  *, cwd: Path | None = None, timeout: float = 90,
                  **extra_env: str) -> Iterator[LocalServer]:
    """Run ``python -m <module>`` on a free loopback port with contents root `root`.

    Its configuration, runtime and data folders are under `base`; the shipped
    ``extensions/jupyter-config`` is on the config path (the workbench server extension),
    the repository and ``workbench_jupyter`` are importable, the in-Lab app reaches
    `archive` with its token, and no Hub variable leaks in from the test's environment.
    `extra_env` is added last (e.g. ``JUPYTER_PATH`` for a labextension).
    """
    python_path = [str(ROOT), str(ROOT / "extensions"), _entry_point_site(base / "site"),
                   os.environ.get("PYTHONPATH", "")]
    env = dict(os.environ, WORKBENCH_URL=archive.url, WORKBENCH_TOKEN=archive.token,
               PYTHONPATH=os.pathsep.join(p for p in python_path if p),
               JUPYTER_CONFIG_DIR=str(base / "config"),
               JUPYTER_CONFIG_PATH=str(ROOT / "extensions" / "jupyter-config"),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               PATH=os.pathsep.join([str(Path(sys.executable).parent),
                                     os.environ.get("PATH", "")]), **extra_env)
    for name in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_SERVICE_PREFIX", "WORKBENCH_LAB_ROOT"):
        env.pop(name, None)
    log = base / f"{module}.log"
    port = free_port()
    command = [sys.executable, "-m", module, "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={root}"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    process = subprocess.Popen(command, cwd=cwd or base, env=env, stdout=log.open("wb"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{module} did not start: {log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/api/status", timeout=2,
                             headers={"Authorization": f"token {token}"}).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        yield LocalServer(url, env, log)
    finally:
        stop(process)
