"""Small pieces of the listener: Part 10 assembly, identifier <-> QIDO, requested contexts."""

from __future__ import annotations

import io

import pydicom
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from server.dimse.contexts import NATIVE_SYNTAXES, contexts_for
from server.dimse.find import response_identifier, to_params
from server.dimse.part10 import IMPLEMENTATION_CLASS_UID, part10
from tests.synth import make_ct
from workbench.dicomweb.query import QueryLevel, parse_qido


def _dataset_bytes(ds: Dataset) -> bytes:
    """The data set alone (no preamble, no meta), as a C-STORE carries it."""
    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = True, False
    write_dataset(out, ds)
    return out.getvalue()


def test_part10_is_a_file_pydicom_reads_back() -> None:
    ds = make_ct(n=1, seed=4001, rows=8, columns=8)[0]
    body = _dataset_bytes(ds)
    data = part10(body, ds.SOPClassUID, ds.SOPInstanceUID, ExplicitVRLittleEndian, "CT1 ")
    back = pydicom.dcmread(io.BytesIO(data))
    meta = back.file_meta
    assert meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID
    assert meta.SourceApplicationEntityTitle == "CT1"
    assert meta.FileMetaInformationGroupLength == len(data) - 132 - len(body) - 12
    assert back.PixelData == ds.PixelData
    assert data.endswith(body)


def test_identifier_to_qido_parameters() -> None:
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.SpecificCharacterSet = "ISO_IR 100"
    identifier.PatientName = "DOE*"
    identifier.StudyDate = "20260101-20260131"
    identifier.StudyInstanceUID = ["1.2.3", "1.2.4"]
    identifier.AccessionNumber = ""
    identifier.add_new(0x00091010, "LO", "")  # private: returned empty, never matched
    identifier.ReferencedStudySequence = []
    params, requested = to_params(identifier, QueryLevel.STUDY)
    assert ("PatientName", "DOE*") in params
    assert ("StudyDate", "20260101-20260131") in params
    assert ("StudyInstanceUID", "1.2.3\\1.2.4") in params
    assert ("includefield", "00080050") in params
    assert ("includefield", "00091010") in params
    assert 0x00080052 not in requested and 0x00080005 not in requested
    query = parse_qido(params, QueryLevel.STUDY)
    kinds = {m.keyword: m.kind for m in query.matches}
    assert kinds == {"PatientName": "wildcard", "StudyDate": "range",
                     "StudyInstanceUID": "list"}


def test_response_holds_exactly_what_was_asked() -> None:
    item = {
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "MÜLLER^ANNA"}]},
        "00100020": {"vr": "LO", "Value": ["P1"]},
        "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
        "00081190": {"vr": "UR", "Value": ["dimse:/studies/1.2.3"]},
        "7FE00010": {"vr": "OW", "BulkDataURI": "x"},
    }
    requested = [0x00100010, 0x0020000D, 0x00080050, 0x00080054]
    ds = response_identifier(item, requested, "STUDY", "WORKBENCH")
    assert set(ds.keys()) == {0x00100010, 0x0020000D, 0x00080050, 0x00080054,
                              0x00080052, 0x00080005}
    assert ds.AccessionNumber == ""
    assert ds.RetrieveAETitle == "WORKBENCH"
    assert ds.SpecificCharacterSet == "ISO_IR 192"  # a name outside ASCII: UTF-8
    assert str(ds.PatientName) == "MÜLLER^ANNA"


def test_requested_contexts_offer_stored_and_native_syntaxes() -> None:
    ct, mr = "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.4"
    contexts = contexts_for([(ct, RLELossless), (ct, ExplicitVRLittleEndian),
                             (mr, JPEG2000Lossless), (ct, RLELossless)])
    offered = [(str(c.abstract_syntax), [str(t) for t in c.transfer_syntax])
               for c in contexts]
    assert (ct, list(NATIVE_SYNTAXES)) in offered
    assert (mr, list(NATIVE_SYNTAXES)) in offered
    assert (ct, [RLELossless]) in offered and (mr, [JPEG2000Lossless]) in offered
    assert len(offered) == 4
    many = contexts_for((f"1.2.3.{i}", RLELossless) for i in range(100))
    assert len(many) == 128
