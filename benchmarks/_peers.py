"""Start and stop the two archives the benchmark compares, each on loopback.

:func:`start_workbench` runs our server (uvicorn) and :func:`start_orthanc` runs Debian's
Orthanc with its DICOMweb plugin. Both are context managers that yield a :class:`Peer`
(where to send requests, with which headers) and stop the process on exit, also after an
error or Ctrl-C: terminate, wait, then kill. Each gets its own storage folder under the
folder it is given, and free loopback ports. Nothing here installs anything.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

#: Where Debian's packages put the Orthanc binary and the DICOMweb plugin.
ORTHANC_BINARIES = ("/usr/sbin/Orthanc", "/usr/bin/Orthanc")
DICOMWEB_PLUGINS = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/libOrthancDicomWeb.so",
)
INSTALL_HINT = (
    "install Debian's packages with `sudo apt-get install orthanc orthanc-dicomweb` "
    "(or run `make bench`, which runs `scripts/system-packages.sh bench` first)"
)
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


class PeerError(RuntimeError):
    """A server could not be found, started or stopped."""


@dataclass(frozen=True)
class Peer:
    """A running archive as the benchmark client sees it.

    Parameters
    ----------
    name
        Label used in the output (``"workbench"`` or ``"Orthanc"``).
    dicomweb
        The DICOMweb root URL, without a trailing slash.
    ping
        A cheap URL that answers 200 once the server is ready (also used to open
        connections before a timed section).
    headers
        Headers every request carries (authorization, if any).
    version
        Version text of the server (and plugin), for the output.
    settings
        The settings that matter for a fair comparison, for the output.
    """

    name: str
    dicomweb: str
    ping: str
    headers: Mapping[str, str] = field(default_factory=dict)
    version: str = ""
    settings: Mapping[str, Any] = field(default_factory=dict)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_orthanc(binary: str | None = None, plugin: str | None = None) -> tuple[Path, Path]:
    """Locate the Orthanc binary and its DICOMweb plugin.

    Parameters
    ----------
    binary, plugin
        Explicit paths; None searches Debian's locations (and ``PATH`` for the binary).

    Returns
    -------
    tuple of Path
        The binary and the plugin.

    Raises
    ------
    PeerError
        When either is missing, with how to install them.
    """
    found_binary = binary or shutil.which("Orthanc")
    if found_binary is None:
        found_binary = next((p for p in ORTHANC_BINARIES if Path(p).is_file()), None)
    if found_binary is None or not Path(found_binary).is_file():
        raise PeerError(f"Orthanc not found; {INSTALL_HINT}")
    found_plugin = plugin or next((p for p in DICOMWEB_PLUGINS if Path(p).is_file()), None)
    if found_plugin is None or not Path(found_plugin).is_file():
        raise PeerError(f"Orthanc's DICOMweb plugin not found; {INSTALL_HINT}")
    return Path(found_binary), Path(found_plugin)


def _log_tail(path: Path, limit: int = 3000) -> str:
    with suppress(OSError):
        return path.read_text(errors="replace")[-limit:]
    return ""


def _wait_ready(proc: subprocess.Popen[bytes], url: str, headers: Mapping[str, str],
                log: Path, name: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    with httpx.Client(headers=dict(headers), timeout=5.0) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise PeerError(f"{name} exited with status {proc.returncode} while starting; "
                                f"its log ends with:\n{_log_tail(log)}")
            with suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return
            time.sleep(0.1)
    raise PeerError(f"{name} did not answer {url} within {START_TIMEOUT_S:.0f} s; "
                    f"its log ends with:\n{_log_tail(log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


@contextmanager
def _process(argv: list[str], *, env: Mapping[str, str] | None, log: Path,
             cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        # A session of its own: Ctrl-C reaches only this script, which then stops it.
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=cwd,
                                env=dict(env) if env is not None else None,
                                start_new_session=True)
        try:
            yield proc
        finally:
            _stop(proc)


def uvicorn_fast_options() -> list[str]:
    """Return ``--http httptools --loop uvloop`` where both are installed, else nothing."""
    try:
        import httptools  # noqa: F401
        import uvloop  # noqa: F401
    except ImportError:
        return []
    return ["--http", "httptools", "--loop", "uvloop"]


@contextmanager
def start_workbench(folder: Path, repo: Path, python: str | None = None) -> Iterator[Peer]:
    """Run our archive with a fresh data folder and a random administrator token.

    Parameters
    ----------
    folder
        Empty folder for the data directory and the log.
    repo
        The repository root (the server package is imported from there).
    python
        Interpreter with the server's dependencies; default: this one.

    Yields
    ------
    Peer
        The running server; it is stopped when the context exits.
    """
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    token = secrets.token_urlsafe(32)
    env = dict(os.environ)
    env.update(WORKBENCH_DATA_DIR=str(folder / "data"), WORKBENCH_ADMIN_TOKEN=token,
               PYTHONPATH=os.pathsep.join(filter(None, [str(repo), env.get("PYTHONPATH")])))
    # the product's own command: `workbench serve` (one process per core by default)
    argv = [python or sys.executable, "-m", "workbench.cli", "serve", "--host", "127.0.0.1",
            "--port", str(port)]
    log = folder / "server.log"
    headers = {"Authorization": f"Bearer {token}"}
    ping = f"http://127.0.0.1:{port}/healthz"
    with _process(argv, env=env, log=log, cwd=repo) as proc:
        _wait_ready(proc, ping, headers, log, "workbench")
        import workbench

        yield Peer(
            name="workbench",
            dicomweb=f"http://127.0.0.1:{port}/dicom-web",
            ping=ping,
            headers=headers,
            version=f"workbench {workbench.__version__}",
            settings={
                "server": f"workbench serve (uvicorn, {_workers()} processes, httptools, uvloop)",
                "index": "SQLite (WAL, synchronous=NORMAL, rebuilt from blobs after a crash)",
                "durability": "every blob and its folder synced before the STOW answer",
            },
        )


def _workers() -> int:
    from server.config import Settings
    from server.serve import worker_count

    return worker_count(Settings())


def orthanc_config(folder: Path, plugin: Path, http_port: int, dicom_port: int, *,
                   find_access: str, metadata: str) -> dict[str, Any]:
    """Return the Orthanc configuration the benchmark uses.

    Parameters
    ----------
    folder
        Holds ``storage`` and ``index``.
    plugin
        Path of ``libOrthancDicomWeb.so``.
    http_port, dicom_port
        Loopback ports.
    find_access
        ``StorageAccessOnFind``: ``Always`` (Orthanc's default), ``Answers`` or ``Never``.
    metadata
        ``DicomWeb.SeriesMetadata`` and ``StudiesMetadata``: ``Full`` returns every
        attribute of every instance, as our server does.

    Returns
    -------
    dict
        The JSON configuration.
    """
    return {
        "Name": "orthanc-bench",
        "StorageDirectory": str(folder / "storage"),
        "IndexDirectory": str(folder / "index"),
        "HttpPort": http_port,
        "DicomPort": dicom_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "Plugins": [str(plugin)],
        # Orthanc's own defaults, spelled out because they bear on the comparison.
        "StorageCompression": False,      # files stored as received, like ours
        "SyncStorageArea": True,          # fdatasync each file (default since 1.7.4)
        "LimitFindResults": 0,            # no cap on QIDO results
        "LimitFindInstances": 0,
        "KeepAlive": True,
        "TcpNoDelay": True,
        "HttpThreadsCount": 50,
        "OverwriteInstances": False,
        "StorageAccessOnFind": find_access,
        # Not measured, so switched off: gzip of answers (the client asks for identity
        # anyway), jobs saved to the index.
        "HttpCompressionEnabled": False,
        "SaveJobs": False,
        "DicomWeb": {
            "Enable": True,
            "Root": "/dicom-web/",
            "EnableWado": False,
            "QidoCaseSensitive": True,
            "StudiesMetadata": metadata,
            "SeriesMetadata": metadata,
        },
    }


@contextmanager
def start_orthanc(folder: Path, *, binary: str | None = None, plugin: str | None = None,
                  find_access: str = "Always", metadata: str = "Full") -> Iterator[Peer]:
    """Run Orthanc with its DICOMweb plugin, a fresh storage folder and free ports.

    Parameters
    ----------
    folder
        Empty folder for storage, index, configuration and log.
    binary, plugin
        Paths of ``Orthanc`` and ``libOrthancDicomWeb.so``; default: Debian's.
    find_access, metadata
        See :func:`orthanc_config`.

    Yields
    ------
    Peer
        The running server; it is stopped when the context exits.
    """
    orthanc, dicomweb = find_orthanc(binary, plugin)
    folder.mkdir(parents=True, exist_ok=True)
    http_port = free_port()
    dicom_port = free_port()
    while dicom_port == http_port:
        dicom_port = free_port()
    config = orthanc_config(folder, dicomweb, http_port, dicom_port, find_access=find_access,
                            metadata=metadata)
    config_path = folder / "orthanc.json"
    config_path.write_text(json.dumps(config, indent=2))
    log = folder / "orthanc.log"
    base = f"http://127.0.0.1:{http_port}"
    with _process([str(orthanc), str(config_path)], env=None, log=log, cwd=folder) as proc:
        _wait_ready(proc, f"{base}/system", {}, log, "Orthanc")
        version = "Orthanc"
        with httpx.Client(timeout=10.0) as client, suppress(httpx.HTTPError, ValueError):
            core = client.get(f"{base}/system").json().get("Version", "?")
            web = client.get(f"{base}/plugins/dicom-web").json().get("Version", "?")
            version = f"Orthanc {core}, DICOMweb plugin {web}"
        keys = ("StorageCompression", "SyncStorageArea", "StorageAccessOnFind",
                "LimitFindResults", "HttpThreadsCount", "KeepAlive", "TcpNoDelay")
        settings: dict[str, Any] = {key: config[key] for key in keys}
        settings["DicomWeb.SeriesMetadata"] = metadata
        settings["DicomWeb.StudiesMetadata"] = metadata
        settings["MaximumStorageCacheSize"] = "128 MB (default)"
        yield Peer(name="Orthanc", dicomweb=f"{base}/dicom-web", ping=f"{base}/system",
                   headers={}, version=version, settings=settings)
