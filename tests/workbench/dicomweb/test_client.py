"""The ArchiveClient implementations, run through the same tests.

``http`` is :class:`HttpArchiveClient` against the real server (the session's
``archive``); ``local`` is :class:`LocalFolderArchiveClient` over a temporary folder.
Each test stores its own study under a unique PatientID, so the shared archive's
other content never matters.
"""

from __future__ import annotations

import io
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from tests.conftest import RunningArchive
from tests.synth import make_study
from workbench.demo import DemoPatient
from workbench.dicomweb.client import (
    ArchiveClient,
    ArchiveUnavailableError,
    HttpArchiveClient,
    LocalFolderArchiveClient,
    StoreResult,
    instance_bytes,
)
from workbench.dicomweb.client_base import CANNOT_UNDERSTAND
from workbench.errors import NotFoundError, PermissionDeniedError


def make_test_study(
    seed: int, *, patient_id: str, patient_name: str = "TEST^PATIENT", study_date: str = "20240102"
) -> list[Dataset]:
    """Four 64 x 64 CT slices (series 1) and three 32 x 32 MR slices (series 2)."""
    patient = DemoPatient(
        patient_id=patient_id,
        name=patient_name,
        birth_date="19700101",
        sex="O",
        issuer="WORKBENCH-TEST",
    )
    return make_study(("CT", "MR"), seed=seed, patient=patient, study_date=study_date)


def _unique() -> str:
    return uuid.uuid4().hex[:12].upper()


def _seed(request: pytest.FixtureRequest) -> int:
    """A seed of its own for each test (and parameter), stable from run to run."""
    return zlib.crc32(request.node.nodeid.encode()) % 1_000_000


@pytest.fixture(params=["http", "local"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ArchiveClient]:
    if request.param == "http":
        archive: RunningArchive = request.getfixturevalue("archive")
        with HttpArchiveClient(archive.dicomweb, token=archive.token) as http:
            yield http
    else:
        with LocalFolderArchiveClient(tmp_path / "folder") as local:
            yield local


@pytest.fixture
def stored(client: ArchiveClient, request: pytest.FixtureRequest) -> list[Dataset]:
    datasets = make_test_study(
        _seed(request), patient_id=f"PID-{_unique()}", patient_name="Zz^Jane", study_date="19870615"
    )
    result = client.store_instances(datasets)
    assert result == StoreResult([ds.SOPInstanceUID for ds in datasets], [], 200)
    return datasets


def _values(item: dict[str, object], tag: str) -> list[object]:
    element = item.get(tag)
    assert isinstance(element, dict), f"{tag} missing from {item}"
    values = element.get("Value", [])
    assert isinstance(values, list)
    return values


def test_implementations_follow_the_protocol(client: ArchiveClient) -> None:
    assert isinstance(client, ArchiveClient)


def test_search_studies_by_patient_id(client: ArchiveClient, stored: list[Dataset]) -> None:
    found = client.search_for_studies(match={"PatientID": stored[0].PatientID})
    assert len(found) == 1
    study = found[0]
    assert _values(study, "0020000D") == [stored[0].StudyInstanceUID]
    assert _values(study, "00201206") == [2]  # NumberOfStudyRelatedSeries
    assert _values(study, "00201208") == [7]  # NumberOfStudyRelatedInstances
    assert sorted(map(str, _values(study, "00080061"))) == ["CT", "MR"]
    assert _values(study, "00100010") == [{"Alphabetic": "Zz^Jane"}]


def test_search_by_wildcard_name_ignores_case(
    client: ArchiveClient, request: pytest.FixtureRequest
) -> None:
    token = _unique()
    datasets = make_test_study(
        _seed(request), patient_id=f"PID-{token}", patient_name=f"Wild{token}^Card"
    )
    client.store_instances(datasets)
    for pattern in (f"wild{token.lower()}*", f"*{token}^CAR?", f"WILD{token}^card"):
        found = client.search_for_studies(match={"PatientName": pattern})
        assert [_values(f, "0020000D") for f in found] == [[datasets[0].StudyInstanceUID]]
    assert client.search_for_studies(match={"PatientName": f"Wild{token}^X*"}) == []
    fuzzy = client.search_for_studies(match={"PatientName": f"car wild{token}"}, fuzzy=True)
    assert len(fuzzy) == 1


def test_search_by_date_range(client: ArchiveClient, stored: list[Dataset]) -> None:
    pid = {"PatientID": stored[0].PatientID}
    for dates, count in (
        ("19870601-19870630", 1),
        ("-19870615", 1),
        ("19870616-", 0),
        ("19870615", 1),
        ("19860101-19861231", 0),
    ):
        found = client.search_for_studies(match={**pid, "StudyDate": dates})
        assert len(found) == count, dates


def test_search_by_modality(client: ArchiveClient, stored: list[Dataset]) -> None:
    study = stored[0].StudyInstanceUID
    series = client.search_for_series(study, match={"Modality": "MR"})
    assert [_values(s, "0020000E") for s in series] == [[stored[-1].SeriesInstanceUID]]
    all_series = client.search_for_series(study)
    assert [_values(s, "00201209") for s in all_series] == [[4], [3]]
    pid = {"PatientID": stored[0].PatientID}
    assert len(client.search_for_studies(match={**pid, "ModalitiesInStudy": "MR"})) == 1
    assert client.search_for_studies(match={**pid, "ModalitiesInStudy": "US"}) == []


def test_search_instances_and_paging(client: ArchiveClient, stored: list[Dataset]) -> None:
    study, series = stored[0].StudyInstanceUID, stored[0].SeriesInstanceUID
    instances = client.search_for_instances(study, series)
    assert [_values(i, "00080018") for i in instances] == [[ds.SOPInstanceUID] for ds in stored[:4]]
    assert len(client.search_for_instances(study)) == 7
    page = client.search_for_instances(study, series, limit=2, offset=1)
    assert [_values(i, "00080018") for i in page] == [[ds.SOPInstanceUID] for ds in stored[1:3]]
    by_uid = client.search_for_instances(match={"SOPInstanceUID": stored[5].SOPInstanceUID})
    assert len(by_uid) == 1
    assert _values(by_uid[0], "0020000D") == [study]
    with_field = client.search_for_instances(study, series, include_fields=["WindowCenter"])
    assert _values(with_field[0], "00281050")[0] == stored[0].WindowCenter[0]


def test_metadata(client: ArchiveClient, stored: list[Dataset]) -> None:
    ds = stored[0]
    study, series, sop = ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID
    one = client.retrieve_instance_metadata(study, series, sop)
    assert _values(one, "00100020") == [ds.PatientID]
    assert _values(one, "00280010") == [64]
    assert len(client.retrieve_series_metadata(study, series)) == 4
    assert len(client.retrieve_study_metadata(study)) == 7
    with pytest.raises(NotFoundError):
        client.retrieve_instance_metadata(study, series, generate_uid())
    with pytest.raises(NotFoundError):
        client.retrieve_study_metadata(generate_uid())


def test_retrieve_returns_the_stored_bytes(client: ArchiveClient, stored: list[Dataset]) -> None:
    ds = stored[0]
    sent = instance_bytes(ds)
    got = client.retrieve_instance(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    assert got == sent
    series = list(client.iter_series(ds.StudyInstanceUID, ds.SeriesInstanceUID))
    assert sorted(series) == sorted(instance_bytes(ds) for ds in stored[:4])


def test_frames(client: ArchiveClient, stored: list[Dataset]) -> None:
    ds = stored[1]
    frames = client.retrieve_frames(
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID, [1]
    )
    assert frames == [ds.PixelData]


@pytest.mark.parametrize(("media_type", "kind"), [("image/jpeg", "JPEG"), ("image/png", "PNG")])
def test_rendered_decodes(
    client: ArchiveClient, stored: list[Dataset], media_type: str, kind: str
) -> None:
    ds = stored[0]
    uids = (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID)
    image = Image.open(io.BytesIO(client.retrieve_rendered(*uids, media_type=media_type)))
    assert (image.format, image.size) == (kind, (64, 64))
    small = client.retrieve_rendered(
        *uids, frame=1, window=(0.0, 2000.0), viewport=(32, 32), media_type=media_type
    )
    assert Image.open(io.BytesIO(small)).size == (32, 32)


def test_thumbnail(client: ArchiveClient, stored: list[Dataset]) -> None:
    ds = stored[0]
    for args in (
        (ds.StudyInstanceUID,),
        (ds.StudyInstanceUID, ds.SeriesInstanceUID),
        (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID),
    ):
        image = Image.open(io.BytesIO(client.retrieve_thumbnail(*args, size=32)))
        assert image.format == "JPEG" and max(image.size) == 32


def test_store_reports_failures(client: ArchiveClient, request: pytest.FixtureRequest) -> None:
    good = make_test_study(_seed(request), patient_id=f"PID-{_unique()}")[0]
    result = client.store_instances([b"\0" * 128 + b"DICM" + b"\0" * 10, good])
    assert result.status == 202
    assert result.stored == [good.SOPInstanceUID]
    assert len(result.failed) == 1 and result.failed[0][1] == CANNOT_UNDERSTAND
    assert result.failed[0][2]  # a reason in words
    again = client.store_instances([good])  # identical content: stored again, idempotent
    assert again.stored == [good.SOPInstanceUID] and again.status == 200
    none = client.store_instances([b"not dicom at all"])
    assert none.status == 409 and none.stored == []


def test_store_into_a_study_refuses_other_studies(
    client: ArchiveClient, request: pytest.FixtureRequest
) -> None:
    seed = _seed(request)
    first = make_test_study(seed, patient_id=f"PID-{_unique()}")[0]
    other = make_test_study(seed + 1, patient_id=f"PID-{_unique()}")[0]
    result = client.store_instances([first, other], study_uid=first.StudyInstanceUID)
    assert result.stored == [first.SOPInstanceUID]
    assert [uid for uid, _code, _text in result.failed] == [other.SOPInstanceUID]


def test_local_folder_layout_and_rescan(tmp_path: Path) -> None:
    datasets = make_test_study(1, patient_id="PID-LOCAL")
    LocalFolderArchiveClient(tmp_path).store_instances(datasets)
    ds = datasets[5]
    path = tmp_path / ds.StudyInstanceUID / ds.SeriesInstanceUID / f"{ds.SOPInstanceUID}.dcm"
    assert pydicom.dcmread(path).SOPInstanceUID == ds.SOPInstanceUID
    (tmp_path / "README.txt").write_text("not DICOM")
    fresh = LocalFolderArchiveClient(tmp_path)
    assert len(fresh.search_for_instances()) == 7


def test_http_errors(archive: RunningArchive) -> None:
    with (
        HttpArchiveClient(archive.dicomweb, token="wrong") as http,
        pytest.raises(PermissionDeniedError, match="401"),
    ):
        http.search_for_studies()
    with (
        HttpArchiveClient("http://127.0.0.1:9/dicom-web", timeout=5) as http,
        pytest.raises(ArchiveUnavailableError),
    ):
        http.search_for_studies()
