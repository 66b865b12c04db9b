"""workbench: a self-hostable, Jupyter-integrated PACS and reading workbench.

The library is layered (see ``docs/architecture.md``): :mod:`workbench.dicom` wraps
pydicom, :mod:`workbench.dicomweb` speaks DICOMweb without a web framework,
:mod:`workbench.imaging` turns pixels into calibrated arrays and images.

In a notebook: ``import workbench as wb; wb.connect(); wb.studies(); wb.open(uid)``
(:mod:`workbench.notebook`, imported on first use so that ``import workbench`` stays
light).
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("workbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "connect", "studies"]  # not "open": a star import would shadow it

_NOTEBOOK_API = frozenset({"connect", "open", "studies"})


def __getattr__(name: str) -> Any:
    """Load the notebook API (:mod:`workbench.notebook`) on first use."""
    if name in _NOTEBOOK_API:
        # By name, so that the server (which imports this package) never depends on the
        # notebook API's optional viewer and pandas, not even in the import graph.
        return getattr(import_module("workbench.notebook"), name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
