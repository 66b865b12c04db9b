"""The package surface: docstring examples run, lazy names load, no UI or web imports."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

import workbench.measure

MODULES = ["angle", "bidirectional", "calibration", "linear", "probe", "results", "roi",
           "shapes", "tables", "units", "_dicomjson", "seg_geometry"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(f"workbench.measure.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_every_public_name_resolves() -> None:
    for name in workbench.measure.__all__:
        assert getattr(workbench.measure, name) is not None
    with pytest.raises(AttributeError):
        workbench.measure.no_such_name  # noqa: B018


def test_the_2d_tools_import_without_analysis_or_ui_packages() -> None:
    code = (
        "import sys, workbench.measure; "
        "heavy = {'scipy', 'skimage', 'pandas', 'highdicom', 'panel', 'fastapi', 'sqlalchemy'}; "
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
