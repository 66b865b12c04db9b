"""Request paths under a path prefix (``root_path``), as the ASGI specification has them.

An application served under a prefix (the JupyterHub service ``/services/archive/``, or
``uvicorn --root-path``) sees the full path in ``scope["path"]`` and the prefix in
``scope["root_path"]``; Starlette's routing matches the rest. Middleware that looks at
paths itself uses :func:`route_path`, the path the routes match.
"""

from __future__ import annotations

from starlette.types import Scope


def route_path(scope: Scope) -> str:
    """The request's path without its ``root_path`` prefix (``"/"`` at least).

    Examples
    --------
    >>> route_path({"path": "/services/archive/dicom-web/studies",
    ...             "root_path": "/services/archive"})
    '/dicom-web/studies'
    >>> route_path({"path": "/dicom-web/studies", "root_path": ""})
    '/dicom-web/studies'
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root):] or "/"
    return path
