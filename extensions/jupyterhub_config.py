"""JupyterHub with the workbench archive as a managed service (a deployment recipe).

Run ``jupyterhub -f extensions/jupyterhub_config.py`` from the environment where
workbench is installed with the ``server``, ``viewer`` and ``jupyter`` extras (and
``configurable-http-proxy`` from npm). The Hub then

* starts the archive (``workbench serve``) and serves it at ``/services/archive/``, on the
  same origin as every user's JupyterLab, with an OAuth client so that browsers log in
  to it with their Hub identity (``/services/archive/oauth_callback``);
* lets every user's server call the archive as that user: the server's Hub token
  (``JUPYTERHUB_API_TOKEN``) is resolved by the archive at the Hub and mapped to the
  workbench user whose ``hub_username`` is the Hub user's name (set it with
  ``PATCH /api/members/{id}``);
* tells user servers where the archive is (``WORKBENCH_URL``), for the notebook API
  (``import workbench as wb; wb.connect()``) and the in-Lab reading app (launcher item
  "Workbench", served by ``jupyter-server-proxy`` at ``/user/<name>/workbench/``).

Every setting below can be changed through the ``WORKBENCH_HUB_*`` variables named
next to it; replace the authenticator and the spawner with your organisation's (the
defaults are for a trial on one machine). See ``docs/jupyter.md``.
"""

import os
import shutil
import sys

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (provided by JupyterHub)

HUB_IP = os.environ.get("WORKBENCH_HUB_IP", "127.0.0.1")
HUB_PORT = int(os.environ.get("WORKBENCH_HUB_PORT", "8000"))
ARCHIVE_PORT = int(os.environ.get("WORKBENCH_HUB_ARCHIVE_PORT", "8042"))
DATA_DIR = os.environ.get("WORKBENCH_DATA_DIR", os.path.abspath("workbench-data"))
HOMES = os.environ.get("WORKBENCH_HUB_HOMES", os.path.abspath("hub-homes"))
ARCHIVE = f"http://127.0.0.1:{ARCHIVE_PORT}"

c.JupyterHub.ip = HUB_IP
c.JupyterHub.port = HUB_PORT
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("WORKBENCH_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = os.environ.get(
    "WORKBENCH_HUB_PROXY_API_URL", "http://127.0.0.1:8001")
c.JupyterHub.cookie_secret_file = os.path.join(DATA_DIR, "jupyterhub_cookie_secret")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(DATA_DIR, "jupyterhub.sqlite")
c.JupyterHub.pid_file = os.path.join(DATA_DIR, "jupyterhub.pid")

# -- The archive, a managed service at /services/archive/ ---------------------------
workbench = shutil.which("workbench") or os.path.join(os.path.dirname(sys.executable),
                                                      "workbench")
archive_environment = {
    "WORKBENCH_DATA_DIR": DATA_DIR,
    "WORKBENCH_WORKERS": os.environ.get("WORKBENCH_WORKERS", "1"),
}
for name in ("WORKBENCH_ADMIN_TOKEN", "WORKBENCH_DATABASE_URL", "WORKBENCH_SMTP_HOST",
             "WORKBENCH_MAIL_FROM", "WORKBENCH_PUBLIC_URL"):
    if os.environ.get(name):
        archive_environment[name] = os.environ[name]
c.JupyterHub.services = [{
    "name": "archive",
    "display": True,  # listed on the Hub's home page
    "url": ARCHIVE,
    "command": [workbench, "serve", "--host", "127.0.0.1", "--port", str(ARCHIVE_PORT)],
    "environment": archive_environment,
    "oauth_no_confirm": True,  # the archive is the organisation's own: no consent page
}]
# The archive refuses Hub tokens without this scope (server/auth/hub.py). Users' own
# tokens and their browsers' OAuth tokens get it through the "user" role; their servers'
# tokens (JUPYTERHUB_API_TOKEN, used by the notebook API and the in-Lab reading app)
# through the "server" role, which keeps JupyterHub's default scopes besides.
ARCHIVE_ACCESS = "access:services!service=archive"
c.JupyterHub.load_roles = [
    {"name": "user", "scopes": ["self", ARCHIVE_ACCESS]},
    {"name": "server", "scopes": ["users:activity!user", "access:servers!server",
                                  ARCHIVE_ACCESS]},
]

# -- The users' servers --------------------------------------------------------------
c.JupyterHub.authenticator_class = os.environ.get(
    "WORKBENCH_HUB_AUTHENTICATOR", "jupyterhub.auth.DummyAuthenticator")
c.Authenticator.allow_all = True
if os.environ.get("WORKBENCH_HUB_PASSWORD"):
    c.DummyAuthenticator.password = os.environ["WORKBENCH_HUB_PASSWORD"]
c.JupyterHub.spawner_class = os.environ.get(
    "WORKBENCH_HUB_SPAWNER", "jupyterhub.spawner.SimpleLocalProcessSpawner")
c.SimpleLocalProcessSpawner.home_dir_template = os.path.join(HOMES, "{username}")
c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {"WORKBENCH_URL": os.environ.get("WORKBENCH_HUB_ARCHIVE_URL", ARCHIVE)}
c.Spawner.http_timeout = int(os.environ.get("WORKBENCH_HUB_SPAWN_TIMEOUT", "60"))
