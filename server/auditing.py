"""ASGI middleware that audits every request touching patient data or changing anything.

It runs around the application, so it sees every outcome, denials and errors included:
who (the principal the auth dependency put in ``request.state``), when, what (action,
path and query), from where (client address) and the HTTP status. Routes that know more
(log in, sharing, member changes) add their own, richer events.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.asgi_paths import route_path
from server.services.audit import REMOTE, AuditEvent

_SEARCH_ENDS = ("/studies", "/series", "/instances")
_VIEW_MARKS = ("/metadata", "/rendered", "/thumbnail", "/frames/")
_SKIP = ("/api/auth/", "/api/signup", "/api/audit")


def classify(method: str, path: str) -> str | None:
    """The audit action for a request, or None for requests that are not audited here."""
    if path.startswith("/dicom-web/"):
        if method in ("GET", "HEAD"):
            if path.endswith(_SEARCH_ENDS):
                return "search"
            return "view" if any(m in path for m in _VIEW_MARKS) else "download"
        return {"POST": "store", "DELETE": "delete"}.get(method, method.lower())
    if path.startswith("/api/"):
        if path.startswith(_SKIP):
            return None
        if path.startswith("/api/patients"):
            return "view" if method == "GET" else "change"
        if path.startswith("/api/media"):
            if method in ("GET", "HEAD"):
                return "download" if path.endswith("/content") else "view"
            return {"POST": "store", "DELETE": "delete"}.get(method, "change")
        if method in ("GET", "HEAD"):
            # annotations are patient data: reading them is audited like viewing images
            return "view" if path.endswith("/annotations") else None
        return "change"
    return None


class AuditMiddleware:
    """Record one audit event per audited request, after the response was sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        REMOTE.set(client[0] if client else "")
        action = classify(scope["method"], route_path(scope))  # without the prefix
        if action is None:
            await self.app(scope, receive, send)
            return
        status = 500

        async def watching(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, watching)
        finally:
            self._record(scope, action, status)

    @staticmethod
    def _record(scope: Scope, action: str, status: int) -> None:
        services = getattr(scope["app"].state, "services", None)
        if services is None:
            return
        state = scope.get("state", {})
        principal: Any = state.get("principal")
        owner = state.get("audit_account", principal.account_pk if principal else None)
        query = scope.get("query_string", b"").decode("latin-1")
        resource = f"{scope['method']} {route_path(scope)}" + (f"?{query}" if query else "")
        client = scope.get("client")
        services.audit.record(AuditEvent(
            action=action, actor=principal.label if principal else "unauthenticated",
            outcome=str(status), resource=resource[:4000],
            study_uid=str(scope.get("path_params", {}).get("study", ""))[:64],
            actor_user_pk=principal.user_pk if principal else None,
            actor_account_pk=principal.account_pk if principal else None,
            account_pk=owner, remote=client[0] if client else ""))
