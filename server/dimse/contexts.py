"""Presentation contexts, the application entity and socket options of the listener.

Storage is negotiated *unrestricted* (pynetdicom's ``UNRESTRICTED_STORAGE_SERVICE``):
every storage SOP class is accepted, standard (images of all modalities, waveforms, SR,
encapsulated PDF and CDA, key object selection, segmentations, presentation states, ...),
retired or private, in the first transfer syntax the sender proposes for it, whichever it
is (native, deflated, JPEG, JPEG-LS, JPEG 2000, HTJ2K, JPEG XL, RLE, MPEG/HEVC video).
Instances are stored as received, never transcoded on the way in; what cannot be read is
refused per instance with a C-STORE failure status. Roles proposed for storage classes
are granted, so a C-GET SCU may take the SCP role for its sub-operations (PS3.7 D.3.3.4).
Verification and the query/retrieve models are negotiated as usual.

The setting is process-wide in pynetdicom; it only changes how *this* process accepts
associations, which is what the listener's process is for.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable, Sequence

from pydicom.uid import (
    AllTransferSyntaxes,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE, AllStoragePresentationContexts, _config, evt
from pynetdicom.presentation import PresentationContext, build_context

# PS3.4 Annex A / C.6 SOP class UIDs (pynetdicom generates its names at run time, which
# type checkers cannot see)
Verification = "1.2.840.10008.1.1"
PatientRootQueryRetrieveInformationModelFind = "1.2.840.10008.5.1.4.1.2.1.1"
PatientRootQueryRetrieveInformationModelMove = "1.2.840.10008.5.1.4.1.2.1.2"
PatientRootQueryRetrieveInformationModelGet = "1.2.840.10008.5.1.4.1.2.1.3"
StudyRootQueryRetrieveInformationModelFind = "1.2.840.10008.5.1.4.1.2.2.1"
StudyRootQueryRetrieveInformationModelMove = "1.2.840.10008.5.1.4.1.2.2.2"
StudyRootQueryRetrieveInformationModelGet = "1.2.840.10008.5.1.4.1.2.2.3"

STORAGE_CLASSES: tuple[str, ...] = tuple(
    str(cx.abstract_syntax) for cx in AllStoragePresentationContexts)
"""The standard storage SOP classes pynetdicom knows (others are accepted too)."""
NEWER_SYNTAXES = (
    "1.2.840.10008.1.2.4.110",  # JPEG XL Lossless
    "1.2.840.10008.1.2.4.111",  # JPEG XL JPEG Recompression
    "1.2.840.10008.1.2.4.112",  # JPEG XL
    "1.2.840.10008.1.2.8.1",    # Deflated Image Frame Compression
    "1.2.840.10008.1.2.4.94",   # JPIP Referenced
    "1.2.840.10008.1.2.4.95",   # JPIP Referenced Deflate
)
TRANSFER_SYNTAXES: tuple[str, ...] = tuple(dict.fromkeys(
    [str(ts) for ts in AllTransferSyntaxes] + list(NEWER_SYNTAXES)))
NATIVE_SYNTAXES: tuple[str, ...] = (str(ExplicitVRLittleEndian), str(ImplicitVRLittleEndian))
FIND_MODELS: dict[str, str] = {
    PatientRootQueryRetrieveInformationModelFind: "patient",
    StudyRootQueryRetrieveInformationModelFind: "study",
}
MOVE_MODELS = (PatientRootQueryRetrieveInformationModelMove,
               StudyRootQueryRetrieveInformationModelMove)
GET_MODELS = (PatientRootQueryRetrieveInformationModelGet,
              StudyRootQueryRetrieveInformationModelGet)
PATIENT_ROOT_RETRIEVE = frozenset({PatientRootQueryRetrieveInformationModelMove,
                                   PatientRootQueryRetrieveInformationModelGet})
MAX_REQUESTED_CONTEXTS = 128  # PS3.8 9.3.2.2: presentation context IDs are odd, 1..255


def set_nodelay(sock: socket.socket | None) -> None:
    """Switch Nagle's algorithm off: a DIMSE response otherwise waits ~40 ms for an ACK."""
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def recv_exactly(sock: socket.socket, count: int) -> bytearray:
    """Read ``count`` bytes into one buffer (fewer if the peer closes first).

    Same contract as pynetdicom's ``AssociationSocket.recv``, which reads 4 KiB per
    Python call (128 calls and copies for a 512 KiB PDU); here the kernel fills the
    buffer in as few calls as it has data for.
    """
    buffer = bytearray(count)
    view = memoryview(buffer)
    got = 0
    while got < count:
        read = sock.recv_into(view[got:], count - got)
        if not read:
            view.release()
            del buffer[got:]
            return buffer
        got += read
    view.release()
    return buffer


def on_connection_open(event: evt.Event) -> None:
    """``EVT_CONN_OPEN`` handler for every association socket, accepted or requested:
    TCP_NODELAY, and PDUs read with :func:`recv_exactly`."""
    transport = event.assoc.dul.socket
    sock = transport.socket if transport is not None else None
    if transport is None or sock is None:
        return
    set_nodelay(sock)
    transport.recv = lambda nr_bytes: recv_exactly(sock, nr_bytes)  # type: ignore[method-assign]


def quiet_pynetdicom() -> None:
    """Keep pynetdicom's per-message logging (and request identifiers, which hold patient
    data) out of the logs: only its warnings and errors remain. Its standard logging
    handlers also cost about a sixth of its CPU per message."""
    _config.LOG_HANDLER_LEVEL = "none"
    _config.LOG_REQUEST_IDENTIFIERS = False
    _config.LOG_RESPONSE_IDENTIFIERS = False
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)


def make_ae(ae_title: str, *, max_pdu: int, timeout: float, max_associations: int,
            query_retrieve: bool) -> AE:
    """The listener's application entity with its supported contexts.

    Parameters
    ----------
    ae_title
        Called AE title (also the calling title of C-MOVE sub-associations).
    max_pdu
        Largest PDU received, in bytes (0: unlimited).
    timeout
        Seconds of silence before an association is aborted (network, ACSE, DIMSE).
    max_associations
        Associations served at once.
    query_retrieve
        Also offer C-FIND, C-MOVE and C-GET (the archive listener; not the forwarder).

    Storage contexts are not listed: they are all accepted (see the module docstring).
    """
    quiet_pynetdicom()
    ae = AE(ae_title=ae_title)
    ae.maximum_pdu_size = max_pdu
    ae.network_timeout = timeout
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.connection_timeout = min(timeout, 30.0)
    ae.maximum_associations = max_associations
    _config.UNRESTRICTED_STORAGE_SERVICE = True
    ae.add_supported_context(Verification)
    if query_retrieve:
        for model in (*FIND_MODELS, *MOVE_MODELS, *GET_MODELS):
            ae.add_supported_context(model)
    return ae


def contexts_for(instances: Iterable[tuple[str, str]]) -> list[PresentationContext]:
    """Requested contexts for sending ``(SOP class, stored transfer syntax)`` pairs.

    Each SOP class gets a context for each stored syntax (so compressed instances can go
    as they are) and one with the native syntaxes (for peers that refuse the stored one;
    the instance is then decompressed). Capped at 128 contexts; the rarest classes' extra
    contexts are left out first.
    """
    stored: dict[str, list[str]] = {}
    for sop_class, syntax in instances:
        syntaxes = stored.setdefault(sop_class, [])
        if syntax not in NATIVE_SYNTAXES and syntax not in syntaxes:
            syntaxes.append(syntax)
    contexts = [build_context(sop_class, list(NATIVE_SYNTAXES)) for sop_class in stored]
    for sop_class, syntaxes in stored.items():
        for syntax in syntaxes:
            if len(contexts) >= MAX_REQUESTED_CONTEXTS:
                return contexts
            contexts.append(build_context(sop_class, syntax))
    return contexts[:MAX_REQUESTED_CONTEXTS]


def accepts(accepted: Sequence[PresentationContext], sop_class: str, syntax: str) -> bool:
    """Whether an accepted context carries ``sop_class`` in exactly ``syntax``."""
    return any(str(cx.abstract_syntax) == sop_class and str(cx.transfer_syntax[0]) == syntax
               for cx in accepted)
