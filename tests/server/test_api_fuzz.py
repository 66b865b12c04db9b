"""schemathesis against the JSON API's OpenAPI schema: no input makes the server fail (5xx).

schemathesis runs as its command-line tool (``st run``) against a real archive. Requests
carry the installation administrator's token (who reaches the most code); the generated
bodies, paths and queries exercise validation and every error path. Examples per
operation are few and deterministic so the run stays within a minute.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN, start_archive, stop_archive

ST = Path(sys.executable).with_name("st")


@pytest.mark.slow
def test_json_api_never_fails(tmp_path: Path) -> None:
    if not ST.exists() and shutil.which("st") is None:
        pytest.fail("schemathesis's `st` command is missing: install the dev extra")
    archive = start_archive(tmp_path / "data")
    try:
        run = subprocess.run(
            [str(ST if ST.exists() else "st"), "run", f"{archive.url}/openapi.json",
             "--checks", "not_a_server_error", "--include-path-regex", "^/api/",
             "-H", f"Authorization: Bearer {ADMIN_TOKEN}", "--max-examples", "15",
             "--generation-deterministic", "--no-color",
             # revoking its own token or deactivating itself would end the run's access
             "--exclude-path-regex", "^/api/(tokens/|auth/logout|members/)"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    finally:
        stop_archive(archive)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Authentication failed" not in run.stdout, run.stdout[-3000:]
