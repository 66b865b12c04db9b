"""Run a notebook in a kernel of a user's Jupyter server, through JupyterHub's proxy.

What JupyterLab does when the user runs a notebook, with the user's Hub token instead
of the Lab's cookie: the notebook is stored through the server's contents API
(``/user/<name>/api/contents/<path>``), a session starts a kernel for it
(``/api/sessions``), each code cell goes to the kernel as an ``execute_request`` over
the kernel's WebSocket (``/api/kernels/<id>/channels``: the Jupyter messaging protocol,
one JSON text frame per message, its ``channel`` named in the message), and the
outputs (``stream``, ``execute_result``, ``display_data``, ``error`` on the ``iopub``
channel) are stored back into the notebook. Ending the session shuts the kernel down.

``jupyter_client``'s kernel clients speak ZeroMQ to a kernel on the same machine and
cannot go through the Hub's proxy; ``websocket-client`` (a dependency of
``jupyter_server``) can.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class UserServer:
    """A user's single-user server as reached through the Hub's proxy.

    Attributes
    ----------
    url
        The server's root through the proxy, e.g. ``http://127.0.0.1:8000/user/alice``.
    token
        A Hub token of the user (``access:servers!user=<name>`` among its scopes).
    """

    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header of the user's token."""
        return {"Authorization": f"token {self.token}"}

    def api(self) -> httpx.Client:
        """The server's REST API (``<url>/api``) with the user's token."""
        return httpx.Client(base_url=f"{self.url}/api", headers=self.headers, timeout=30)


def notebook(*sources: str) -> dict[str, Any]:
    """An nbformat 4 notebook of code cells, one per source, for the ``python3`` kernel."""
    cells: list[dict[str, Any]] = [
        {"cell_type": "code", "execution_count": None, "id": f"cell-{index}", "metadata": {},
         "outputs": [], "source": source} for index, source in enumerate(sources)]
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells, "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}


def _message(session: str, code: str) -> dict[str, Any]:
    header = {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "session": session,
              "username": "tests", "version": "5.3", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {"header": header, "parent_header": {}, "metadata": {}, "channel": "shell",
            "buffers": [], "content": {"code": code, "silent": False, "store_history": True,
                                       "user_expressions": {}, "allow_stdin": False,
                                       "stop_on_error": True}}


def _output(msg_type: str, content: dict[str, Any]) -> dict[str, Any] | None:
    """The nbformat output of an ``iopub`` message, or None for other messages."""
    if msg_type == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}
    if msg_type in ("execute_result", "display_data"):
        output = {"output_type": msg_type, "data": content["data"],
                  "metadata": content.get("metadata", {})}
        if msg_type == "execute_result":
            output["execution_count"] = content["execution_count"]
        return output
    if msg_type == "error":
        return {"output_type": "error", "ename": content["ename"],
                "evalue": content["evalue"], "traceback": content["traceback"]}
    return None


def execute(channels: Any, session: str, code: str,
            timeout: float) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run ``code`` in the kernel behind ``channels`` (an open ``websocket.WebSocket``).

    Returns
    -------
    tuple
        The ``execute_reply``'s content (``status``, ``execution_count``) and the cell's
        outputs in nbformat, once the kernel is idle again after the request.

    Raises
    ------
    TimeoutError
        When the reply or the kernel's return to idle takes longer than ``timeout`` s.
    """
    request = _message(session, code)
    channels.send(json.dumps(request))
    deadline = time.monotonic() + timeout
    reply: dict[str, Any] | None = None
    idle = False
    outputs: list[dict[str, Any]] = []
    while reply is None or not idle:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no {'execute_reply' if reply is None else 'idle status'} "
                               f"within {timeout:.0f} s for {code!r}; outputs: {outputs}")
        channels.settimeout(left)
        message = json.loads(channels.recv())
        if message.get("parent_header", {}).get("msg_id") != request["header"]["msg_id"]:
            continue
        msg_type, content = message["header"]["msg_type"], message["content"]
        if message["channel"] == "shell" and msg_type == "execute_reply":
            reply = content
        elif message["channel"] == "iopub":
            if msg_type == "status":
                idle = content["execution_state"] == "idle"
            elif (output := _output(msg_type, content)) is not None:
                outputs.append(output)
    return reply, outputs


def run_notebook(server: UserServer, path: str, cells: dict[str, Any],
                 timeout: float = 60.0) -> tuple[dict[str, Any], str]:
    """Store ``cells`` (a notebook) at ``path``, run it in a new kernel, save its outputs.

    The session (and with it the kernel) is ended however the run went.

    Returns
    -------
    tuple
        The notebook as stored afterwards (read back through the contents API) and the
        id of the kernel that ran it.

    Raises
    ------
    AssertionError
        When the server refuses a request; a cell that fails is recorded in the notebook
        (its ``error`` output), the cells after it are not run.
    """
    import websocket  # websocket-client, installed with jupyter_server

    with server.api() as api:
        stored = api.put(f"/contents/{path}", json={"type": "notebook", "content": cells})
        assert stored.status_code in (200, 201), stored.text
        started = api.post("/sessions", json={"path": path, "name": path, "type": "notebook",
                                              "kernel": {"name": "python3"}})
        assert started.status_code == 201, started.text
        session, kernel = started.json()["id"], started.json()["kernel"]["id"]
        try:
            client = uuid.uuid4().hex   # this client's session (of the messaging protocol)
            ws_url = server.url.replace("http", "ws", 1) + f"/api/kernels/{kernel}/channels"
            channels = websocket.create_connection(
                f"{ws_url}?session_id={client}", timeout=timeout,
                header=[f"{key}: {value}" for key, value in server.headers.items()])
            try:
                for cell in cells["cells"]:
                    reply, cell["outputs"] = execute(channels, client, cell["source"], timeout)
                    cell["execution_count"] = reply.get("execution_count")
                    if reply["status"] != "ok":
                        break
            finally:
                channels.close()
            saved = api.put(f"/contents/{path}", json={"type": "notebook", "content": cells})
            assert saved.status_code == 200, saved.text
        finally:
            ended = api.delete(f"/sessions/{session}")
            assert ended.status_code == 204, ended.text
        read = api.get(f"/contents/{path}", params={"type": "notebook", "content": 1})
        assert read.status_code == 200, read.text
        return dict(read.json()["content"]), kernel


def text(cell: dict[str, Any]) -> str:
    """What a stored cell printed (its ``stream`` outputs) and the errors it raised."""
    parts = []
    for output in cell["outputs"]:
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}\n")
    return "".join(parts)
