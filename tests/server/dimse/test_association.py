"""Association control: C-ECHO, calling/called AE checks with clear rejections, the audit
trail, TCP_NODELAY on association sockets, several associations at once."""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from pynetdicom import AE, build_context

from server.dimse.callers import AllowList
from server.dimse.contexts import Verification, make_ae
from server.dimse.listener import Listener
from server.dimse.spool import Spool
from server.dimse.store import SpoolSink
from tests.server.dimse.conftest import CALLED, DriveArchive, audit_events, dcmtk, scu


def test_echo_from_a_registered_source(drive: DriveArchive) -> None:
    drive.add_source("ECHOSCU")
    done = dcmtk("echoscu", "-v", "-aet", "ECHOSCU", "-aec", CALLED, "127.0.0.1",
                 str(drive.dimse_port))
    assert done.returncode == 0, done.stderr
    assert "Received Echo Response (Success)" in done.stderr


def test_unknown_calling_ae_is_rejected_with_reason_and_audited(drive: DriveArchive) -> None:
    done = dcmtk("echoscu", "-aet", "STRANGER", "-aec", CALLED, "127.0.0.1",
                 str(drive.dimse_port))
    assert done.returncode != 0
    assert "Association Rejected" in done.stderr
    assert "Calling AE Title Not Recognized" in done.stderr
    events = audit_events(drive, action="dimse-reject", actor="ae:STRANGER")
    assert events, "the rejection is not in the audit trail"
    assert events[0]["outcome"] == "rejected"
    assert "not a registered source" in events[0]["detail"]
    assert events[0]["remote"] == "127.0.0.1"


def test_wrong_called_ae_title_is_rejected(drive: DriveArchive) -> None:
    drive.add_source("CALLEDSCU")
    done = dcmtk("echoscu", "-aet", "CALLEDSCU", "-aec", "SOMEONE", "127.0.0.1",
                 str(drive.dimse_port))
    assert done.returncode != 0
    assert "Called AE Title Not Recognized" in done.stderr


def test_removed_source_is_rejected(drive: DriveArchive) -> None:
    source = drive.add_source("GONESCU")
    assoc = scu(drive.dimse_port, "GONESCU", [build_context(Verification)])
    assert assoc.is_established
    assert assoc.send_c_echo().Status == 0x0000
    assoc.release()
    r = httpx.delete(f"{drive.url}/api/sources/{source['id']}", headers=drive.headers)
    assert r.status_code == 200, r.text
    assoc = scu(drive.dimse_port, "GONESCU", [build_context(Verification)])
    assert assoc.is_rejected
    assert not assoc.is_established


def test_several_associations_at_once(drive: DriveArchive) -> None:
    drive.add_source("MANYSCU")

    def echo(_: int) -> int:
        assoc = scu(drive.dimse_port, "MANYSCU", [build_context(Verification)])
        assert assoc.is_established
        try:
            time.sleep(0.3)  # all of them open together
            return int(assoc.send_c_echo().Status)
        finally:
            assoc.release()

    started = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(echo, range(6))) == [0] * 6
    assert time.monotonic() - started < 6 * 0.3 + 5  # they overlapped


def test_association_sockets_have_tcp_nodelay(tmp_path: Path) -> None:
    """The listener's accepted socket carries TCP_NODELAY (checked on the server side)."""
    ae = make_ae("NODELAY", max_pdu=65536, timeout=10, max_associations=4,
                 query_retrieve=False)
    listener = Listener(ae, AllowList(""), SpoolSink(Spool(tmp_path / "spool"), 1 << 20))
    port = listener.start("127.0.0.1", 0)
    try:
        assoc = scu(port, "ANY", [build_context(Verification)], called="NODELAY")
        assert assoc.is_established
        try:
            accepted = [a for a in ae.active_associations if a.is_acceptor]
            assert accepted
            sock = accepted[0].dul.socket.socket
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            assoc.release()
        # a plain pynetdicom SCU without our handler leaves Nagle on: the check can fail
        plain = AE(ae_title="PLAIN").associate("127.0.0.1", port, ae_title="NODELAY",
                                               contexts=[build_context(Verification)])
        try:
            assert plain.dul.socket.socket.getsockopt(socket.IPPROTO_TCP,
                                                      socket.TCP_NODELAY) == 0
        finally:
            plain.release()
    finally:
        listener.stop()


def test_forwarder_allow_list() -> None:
    gate = AllowList("MODALITY1, MODALITY2")
    assert gate.caller("MODALITY2").ae_title == "MODALITY2"
    assert not hasattr(gate.caller("OTHER"), "ae_title")
    assert AllowList("").caller("ANYONE").ae_title == "ANYONE"
