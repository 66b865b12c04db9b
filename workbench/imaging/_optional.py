"""The one place where :mod:`workbench.imaging` imports optional packages."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, feature: str, extra: str = "analysis") -> ModuleType:
    """Import `module` for `feature`, or fail naming the extra that installs it.

    Raises
    ------
    ImportError
        The package is missing; the message says ``pip install "workbench[extra]"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.split(".")[0]
        raise ImportError(
            f"{feature} needs {package}, part of the '{extra}' extra: "
            f'pip install "workbench[{extra}]"'
        ) from exc
