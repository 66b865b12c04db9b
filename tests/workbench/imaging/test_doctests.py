"""The Examples in the imaging and waveform docstrings run and print what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "workbench.imaging.geometry",
    "workbench.imaging.volume",
    "workbench.imaging.resample",
    "workbench.imaging.mpr",
    "workbench.imaging.cine",
    "workbench.dicom.waveform",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
