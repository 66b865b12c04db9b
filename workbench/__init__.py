"""workbench: a self-hostable, Jupyter-integrated PACS and reading workbench.

The library is layered (see ``docs/architecture.md``): :mod:`workbench.dicom` wraps
pydicom, :mod:`workbench.dicomweb` speaks DICOMweb without a web framework,
:mod:`workbench.imaging` turns pixels into calibrated arrays and images.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("workbench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
