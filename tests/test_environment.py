"""environment.yml (conda) and pyproject.toml (pip) list the same dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# pip name -> conda-forge name where they differ
CONDA_NAMES = {"uvicorn[standard]": "uvicorn-standard", "types-pyyaml": "types-pyyaml",
               "psycopg[binary]": "psycopg"}


# conda-forge packages that stand in for what pyproject cannot install (npm programs)
CONDA_ONLY = {"configurable-http-proxy"}


def _name(requirement: str) -> str:
    name = re.split(r"[<>=!~ ;]", requirement, maxsplit=1)[0].strip().lower()
    return CONDA_NAMES.get(name, name)


def test_environment_yml_lists_the_pyproject_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra, requirements in project["optional-dependencies"].items():
        if extra != "all":
            wanted |= {_name(r) for r in requirements}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed: set[str] = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            listed |= {_name(r) for r in dep["pip"] if not r.startswith("-e")}
        else:
            listed.add(_name(dep))
    listed -= {"python", "pip"} | CONDA_ONLY
    assert wanted - listed == set(), f"missing from environment.yml: {sorted(wanted - listed)}"
    assert listed - wanted == set(), f"not in pyproject.toml: {sorted(listed - wanted)}"
