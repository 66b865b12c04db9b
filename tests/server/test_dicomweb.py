"""STOW-RS, QIDO-RS and WADO-RS against the real server, through dicomweb-client."""

from __future__ import annotations

import io
import os

import httpx
import numpy as np
import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

from tests.conftest import RunningArchive
from tests.synth import make_ct, make_xa, to_bytes
from workbench.dicomweb.media import parse_content_type
from workbench.dicomweb.multipart import MultipartParser, PartData, PartStart
from workbench.imaging.render import Window, render_frame


@pytest.fixture(scope="module")
def client(archive: RunningArchive) -> DICOMwebClient:
    return DICOMwebClient(archive.dicomweb, headers=archive.headers)


@pytest.fixture(scope="module")
def ct(client: DICOMwebClient) -> list[Dataset]:
    series = make_ct(n=6, seed=101, rows=64, columns=64)
    for i, ds in enumerate(series):
        ds.PatientName = "Van Der Berg^Anna"
        ds.PatientID = "QIDO-101"
        ds.StudyDate = "20240315"
        ds.AccessionNumber = "ACC101"
        ds.InstanceNumber = i + 1
    client.store_instances(series)
    return series


def test_stow_reports_each_instance(client: DICOMwebClient) -> None:
    series = make_ct(n=2, seed=102, rows=32, columns=32)
    response = client.store_instances(series)
    referenced = response.ReferencedSOPSequence
    assert [item.ReferencedSOPInstanceUID for item in referenced] == [
        ds.SOPInstanceUID for ds in series
    ]
    assert all(item.RetrieveURL.endswith(item.ReferencedSOPInstanceUID) for item in referenced)
    assert "FailedSOPSequence" not in response


def test_search_for_studies_by_patient_id(client: DICOMwebClient, ct: list[Dataset]) -> None:
    found = client.search_for_studies(search_filters={"PatientID": "QIDO-101"})
    assert len(found) == 1
    study = Dataset.from_json(found[0])
    assert study.StudyInstanceUID == ct[0].StudyInstanceUID
    assert study.NumberOfStudyRelatedInstances == 6
    assert study.NumberOfStudyRelatedSeries == 1
    assert study.ModalitiesInStudy == "CT"
    assert str(study.PatientName) == "Van Der Berg^Anna"


@pytest.mark.parametrize(
    "filters",
    [
        {"PatientName": "van der*"},
        {"PatientName": "*BERG^ANNA"},
        {"PatientName": "Van Der Berg^Ann?"},
        {"PatientName": "van der berg^anna"},
        {"StudyDate": "20240301-20240331"},
        {"StudyDate": "-20240315", "PatientID": "QIDO-101"},
        {"StudyDate": "20240315-", "PatientID": "QIDO-101"},
        {"AccessionNumber": "ACC101"},
        {"ModalitiesInStudy": "CT", "PatientID": "QIDO-101"},
    ],
)
def test_study_matching(client: DICOMwebClient, ct: list[Dataset], filters: dict[str, str]
                        ) -> None:
    found = client.search_for_studies(search_filters=filters)
    uids = {Dataset.from_json(f).StudyInstanceUID for f in found}
    assert ct[0].StudyInstanceUID in uids


@pytest.mark.parametrize(
    "filters",
    [
        {"PatientName": "berg*"},
        {"StudyDate": "20240316-"},
        {"ModalitiesInStudy": "MR", "PatientID": "QIDO-101"},
        {"PatientID": "qido-101"},
    ],
)
def test_study_non_matching(client: DICOMwebClient, ct: list[Dataset], filters: dict[str, str]
                            ) -> None:
    found = client.search_for_studies(search_filters=filters)
    uids = {Dataset.from_json(f).StudyInstanceUID for f in found}
    assert ct[0].StudyInstanceUID not in uids


def test_fuzzy_matching_finds_name_components(client: DICOMwebClient, ct: list[Dataset]) -> None:
    found = client.search_for_studies(fuzzymatching=True, search_filters={"PatientName": "ann"})
    assert ct[0].StudyInstanceUID in {Dataset.from_json(f).StudyInstanceUID for f in found}


def test_uid_list_and_percent_encoding(archive: RunningArchive, ct: list[Dataset]) -> None:
    uid = ct[0].StudyInstanceUID
    with archive.http() as http:
        r = http.get("/dicom-web/studies", params={"StudyInstanceUID": f"1.2.3,{uid}"})
        assert r.status_code == 200
        assert [s["0020000D"]["Value"][0] for s in r.json()] == [uid]
        # %5E is ^ and %2A is *: the server must decode before matching
        r = http.get("/dicom-web/studies?PatientName=Van%20Der%20Berg%5EAnn%2A")
        assert uid in {s["0020000D"]["Value"][0] for s in r.json()}


def test_series_and_instances_nested(client: DICOMwebClient, ct: list[Dataset]) -> None:
    study = ct[0].StudyInstanceUID
    series = client.search_for_series(study)
    assert [Dataset.from_json(s).SeriesInstanceUID for s in series] == [ct[0].SeriesInstanceUID]
    assert Dataset.from_json(series[0]).NumberOfSeriesRelatedInstances == 6
    inst = client.search_for_instances(study, ct[0].SeriesInstanceUID)
    uids = [Dataset.from_json(i).SOPInstanceUID for i in inst]
    assert uids == [ds.SOPInstanceUID for ds in ct]
    one = Dataset.from_json(inst[0])
    assert one.Rows == 64 and one.Columns == 64
    page = client.search_for_instances(study, limit=2, offset=2)
    assert [Dataset.from_json(i).SOPInstanceUID for i in page] == uids[2:4]
    by_number = client.search_for_instances(study, search_filters={"InstanceNumber": "3"})
    assert [Dataset.from_json(i).SOPInstanceUID for i in by_number] == [uids[2]]


def test_includefield(client: DICOMwebClient, ct: list[Dataset]) -> None:
    found = client.search_for_instances(
        ct[0].StudyInstanceUID, fields=["ImagePositionPatient", "00280030"],
        search_filters={"SOPInstanceUID": ct[1].SOPInstanceUID},
    )
    ds = Dataset.from_json(found[0])
    assert [float(v) for v in ds.ImagePositionPatient] == [
        float(v) for v in ct[1].ImagePositionPatient
    ]
    assert "PixelSpacing" in ds
    everything = client.search_for_instances(
        ct[0].StudyInstanceUID, fields=["all"],
        search_filters={"SOPInstanceUID": ct[1].SOPInstanceUID},
    )
    assert "ImageOrientationPatient" in Dataset.from_json(everything[0])


def test_bad_query_parameter_is_a_clear_400(archive: RunningArchive) -> None:
    with archive.http() as http:
        r = http.get("/dicom-web/studies", params={"StudyDate": "2024-13-45x"})
        assert r.status_code == 400
        assert "StudyDate" in r.text
        r = http.get("/dicom-web/studies", params={"limit": "-1"})
        assert r.status_code == 400 and "limit" in r.text


def test_retrieve_gives_back_stored_bytes(client: DICOMwebClient, ct: list[Dataset]) -> None:
    ds = ct[0]
    got = client.retrieve_instance(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID,
                                   media_types=(("application/dicom", "*"),))
    assert to_bytes(got) == to_bytes(ds)
    series = client.retrieve_series(ds.StudyInstanceUID, ds.SeriesInstanceUID)
    assert sorted(s.SOPInstanceUID for s in series) == sorted(d.SOPInstanceUID for d in ct)


def test_metadata_with_bulkdata(client: DICOMwebClient, ct: list[Dataset]) -> None:
    ds = ct[2]
    meta = client.retrieve_series_metadata(ds.StudyInstanceUID, ds.SeriesInstanceUID)
    assert len(meta) == 6
    one = next(m for m in meta if m["00080018"]["Value"][0] == ds.SOPInstanceUID)
    assert one["00280010"]["Value"] == [64]
    uri = one["7FE00010"]["BulkDataURI"]
    assert uri.startswith(client.base_url)
    pixels = client.retrieve_bulkdata(uri)
    assert pixels[0] == ds.PixelData


def test_frames_native(client: DICOMwebClient, ct: list[Dataset]) -> None:
    ds = ct[3]
    frames = client.retrieve_instance_frames(ds.StudyInstanceUID, ds.SeriesInstanceUID,
                                             ds.SOPInstanceUID, frame_numbers=[1])
    assert frames[0] == ds.PixelData


def test_frame_out_of_range_is_404(archive: RunningArchive, ct: list[Dataset]) -> None:
    ds = ct[3]
    url = (f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
           f"/instances/{ds.SOPInstanceUID}/frames/2")
    with archive.http() as http:
        r = http.get(url)
    assert r.status_code == 404
    assert "1..1" in r.text


def test_rendered_and_thumbnail(archive: RunningArchive, ct: list[Dataset]) -> None:
    ds = ct[0]
    base = f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
    with archive.http() as http:
        r = http.get(f"{base}/instances/{ds.SOPInstanceUID}/rendered",
                      params={"window": "40,400", "viewport": "32,32"},
                      headers={"Accept": "image/png"})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert Image.open(io.BytesIO(r.content)).size == (32, 32)
        r = http.get(f"{base}/thumbnail")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
        assert max(Image.open(io.BytesIO(r.content)).size) <= 128
        r = http.get(f"/dicom-web/studies/{ds.StudyInstanceUID}/thumbnail")
        assert r.status_code == 200


def test_unknown_objects_are_404(archive: RunningArchive) -> None:
    with archive.http() as http:
        r = http.get("/dicom-web/studies/1.2.3.4/metadata")
        assert r.status_code == 404 and "1.2.3.4" in r.text


def test_authentication_required(archive: RunningArchive) -> None:
    assert httpx.get(f"{archive.dicomweb}/studies").status_code == 401
    r = httpx.get(f"{archive.dicomweb}/studies", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def _stow(archive: RunningArchive, parts: list[bytes], path: str = "/dicom-web/studies",
          content_type: str | None = None) -> httpx.Response:
    boundary = "b0undary-test"
    body = b"".join(
        b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n"
        for p in parts) + b"--" + boundary.encode() + b"--\r\n"
    ctype = content_type or f'multipart/related; type="application/dicom"; boundary={boundary}'
    with archive.http() as http:
        return http.post(path, content=body, headers={"Content-Type": ctype})


def _failures(response: httpx.Response) -> list[tuple[int, str]]:
    seq = response.json().get("00081198", {}).get("Value", [])
    return [(item["00081197"]["Value"][0], item["00000902"]["Value"][0]) for item in seq]


def test_bad_instances_get_reasons_and_good_ones_are_kept(archive: RunningArchive) -> None:
    good, other = make_ct(n=2, seed=103, rows=16, columns=16)
    truncated = to_bytes(other)[:-100]
    no_uid = make_ct(n=1, seed=104, rows=16, columns=16)[0]
    del no_uid.SeriesInstanceUID
    r = _stow(archive, [to_bytes(good), truncated, b"not dicom at all" * 20, to_bytes(no_uid)])
    assert r.status_code == 202
    reasons = [reason for _code, reason in _failures(r)]
    assert any("truncated" in reason for reason in reasons)
    assert any("Part 10" in reason for reason in reasons)
    assert any("SeriesInstanceUID" in reason for reason in reasons)
    with archive.http() as http:
        found = http.get("/dicom-web/instances", params={
            "StudyInstanceUID": good.StudyInstanceUID}).json()
    assert [f["00080018"]["Value"][0] for f in found] == [good.SOPInstanceUID]


def test_all_failed_is_409_and_leaves_no_trace(archive: RunningArchive) -> None:
    ds = make_ct(n=1, seed=105, rows=16, columns=16)[0]
    r = _stow(archive, [to_bytes(ds)[:400]])
    assert r.status_code == 409
    tmp_files = list(archive.data_dir.rglob("*.tmp")) + list(archive.data_dir.rglob("*.part"))
    assert tmp_files == []
    with archive.http() as http:
        assert http.get("/dicom-web/studies",
                        params={"StudyInstanceUID": ds.StudyInstanceUID}).json() == []


def test_study_in_url_must_match(archive: RunningArchive) -> None:
    ds = make_ct(n=1, seed=106, rows=16, columns=16)[0]
    r = _stow(archive, [to_bytes(ds)], path="/dicom-web/studies/1.2.3.999")
    assert r.status_code == 409
    assert "1.2.3.999" in _failures(r)[0][1]


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/dicom", 415),
        ('multipart/related; type="application/dicom+json"; boundary=x', 415),
        ('multipart/related; type="application/dicom"', 400),
    ],
)
def test_wrong_content_types(archive: RunningArchive, content_type: str, status: int) -> None:
    ds = make_ct(n=1, seed=107, rows=16, columns=16)[0]
    r = _stow(archive, [to_bytes(ds)], content_type=content_type)
    assert r.status_code == status
    assert r.json()["detail"]


def test_malformed_multipart_is_400(archive: RunningArchive) -> None:
    ds = make_ct(n=1, seed=108, rows=16, columns=16)[0]
    body = b"--xyz\r\nContent-Type: application/dicom\r\n\r\n" + to_bytes(ds)  # no end
    with archive.http() as http:
        r = http.post("/dicom-web/studies", content=body, headers={
            "Content-Type": 'multipart/related; type="application/dicom"; boundary=xyz'})
        assert r.status_code == 400
        assert "multipart" in r.json()["detail"]
        found = http.get("/dicom-web/studies", params={"StudyInstanceUID": ds.StudyInstanceUID})
        assert found.json() == []


def test_duplicates(archive: RunningArchive) -> None:
    ds = make_ct(n=1, seed=109, rows=16, columns=16)[0]
    assert _stow(archive, [to_bytes(ds)]).status_code == 200
    assert _stow(archive, [to_bytes(ds)]).status_code == 200  # identical bytes: no-op
    changed = pydicom.dcmread(io.BytesIO(to_bytes(ds)))
    changed.SeriesDescription = "changed"
    r = _stow(archive, [to_bytes(changed)])
    assert r.status_code == 409
    assert "already stored" in _failures(r)[0][1]
    with archive.http() as http:
        found = http.get("/dicom-web/instances",
                         params={"SOPInstanceUID": ds.SOPInstanceUID}).json()
    assert len(found) == 1


def test_transcoding_to_explicit_little_endian(client: DICOMwebClient) -> None:
    from pydicom.uid import ImplicitVRLittleEndian

    ds = make_ct(n=1, seed=110, rows=16, columns=16)[0]
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    client.store_instances([ds])
    got = client.retrieve_instance(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID,
                                   media_types=(("application/dicom", "1.2.840.10008.1.2.1"),))
    assert got.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert np.array_equal(got.pixel_array, ds.pixel_array)


def test_delete_study(archive: RunningArchive, client: DICOMwebClient) -> None:
    series = make_ct(n=2, seed=111, rows=16, columns=16)
    client.store_instances(series)
    study = series[0].StudyInstanceUID
    before = len(list(archive.data_dir.rglob("*.dcm")))
    assert httpx.delete(f"{archive.dicomweb}/studies/{study}").status_code == 401
    with archive.http() as http:
        r = http.delete(f"/dicom-web/studies/{study}/series/{series[0].SeriesInstanceUID}"
                        f"/instances/{series[0].SOPInstanceUID}")
        assert r.status_code == 200 and r.json()["deleted_instances"] == 1
        left = http.get(f"/dicom-web/studies/{study}/instances").json()
        assert [i["00080018"]["Value"][0] for i in left] == [series[1].SOPInstanceUID]
        assert http.delete(f"/dicom-web/studies/{study}").status_code == 200
        assert http.get("/dicom-web/studies", params={"StudyInstanceUID": study}).json() == []
        assert http.delete(f"/dicom-web/studies/{study}").status_code == 404
    assert len(list(archive.data_dir.rglob("*.dcm"))) == before - 2


def test_same_instance_twice_in_one_request(archive: RunningArchive) -> None:
    a, b = make_ct(n=2, seed=112, rows=16, columns=16)
    r = _stow(archive, [to_bytes(a), to_bytes(b), to_bytes(a)])
    assert r.status_code == 200, r.text
    assert len(r.json()["00081199"]["Value"]) == 3


def test_truncated_failure_names_the_instance(archive: RunningArchive) -> None:
    ds = make_ct(n=1, seed=113, rows=32, columns=32)[0]
    r = _stow(archive, [to_bytes(ds)[:-50]])
    item = r.json()["00081198"]["Value"][0]
    assert item["00081155"]["Value"] == [ds.SOPInstanceUID]
    assert item["00081150"]["Value"] == [ds.SOPClassUID]


def test_modalities_in_study_list(client: DICOMwebClient, ct: list[Dataset]) -> None:
    for value in ("MR\\CT", "MR,CT"):
        found = client.search_for_studies(
            search_filters={"ModalitiesInStudy": value, "PatientID": "QIDO-101"})
        assert len(found) == 1, value


def test_empty_and_tiny_parts_fail_cleanly(archive: RunningArchive) -> None:
    before = sorted(archive.data_dir.rglob("*.dcm"))
    r = _stow(archive, [b"", b"DICM"])
    assert r.status_code == 409
    reasons = [reason for _code, reason in _failures(r)]
    assert len(reasons) == 2 and all("too short" in reason for reason in reasons)
    assert sorted(archive.data_dir.rglob("*.dcm")) == before


def test_header_larger_than_the_probe_is_parsed_from_the_file(client: DICOMwebClient) -> None:
    ds = make_ct(n=1, seed=114, rows=64, columns=64)[0]
    ds.add_new((0x0011, 0x0010), "LO", "WORKBENCH TEST")
    ds.add_new((0x0011, 0x1001), "UT", "x" * 100_000)  # a 100 KB header
    client.store_instances([ds])
    got = client.retrieve_instance(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID,
                                   media_types=(("application/dicom", "*"),))
    assert to_bytes(got) == to_bytes(ds)
    meta = client.retrieve_instance_metadata(ds.StudyInstanceUID, ds.SeriesInstanceUID,
                                             ds.SOPInstanceUID)
    assert meta["00111001"]["Value"][0] == "x" * 100_000


# -- WADO-RS read paths: framing, lengths, fast paths against the general ones -------------

ORIGINAL = 'multipart/related; type="application/dicom"; transfer-syntax=*'
OCTETS = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def _parts(response: httpx.Response) -> list[tuple[str, bytes]]:
    """(Content-Type, body) of each part, read with the archive's own parser."""
    _, params = parse_content_type(response.headers["content-type"])
    parser = MultipartParser(params["boundary"])
    parts: list[tuple[str, bytes]] = []
    current: list[bytes] = []
    kind = ""
    for event in [*parser.feed(response.content), *parser.close()]:
        if isinstance(event, PartStart):
            kind, current = event.headers.content_type or "", []
        elif isinstance(event, PartData):
            current.append(event.data)
        else:
            parts.append((kind, b"".join(current)))
    return parts


def _renamed(ds: Dataset) -> Dataset:
    """`ds` as a new instance of a new study (the archive rejects changed duplicates)."""
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    return ds


def test_series_retrieval_sends_each_stored_file_whole(archive: RunningArchive) -> None:
    series = make_ct(n=4, seed=120, rows=16, columns=16)
    big = series[1]  # 8.6 MB of pixels: more than a batch, sent in two pieces
    big.Rows, big.Columns = 2048, 2100
    big.PixelData = (np.arange(2048 * 2100, dtype=np.uint32) % 4096).astype("<u2").tobytes()
    stored = [to_bytes(ds) for ds in series]
    assert _stow(archive, stored).status_code == 200
    url = f"/dicom-web/studies/{big.StudyInstanceUID}/series/{big.SeriesInstanceUID}"
    with archive.http() as http:
        r = http.get(url, headers={"Accept": ORIGINAL})
    assert r.status_code == 200
    assert int(r.headers["content-length"]) == len(r.content)
    parts = _parts(r)
    assert [body for _, body in parts] == stored  # instance order
    assert {kind for kind, _ in parts} == {
        "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"}


def test_series_retrieval_transcodes_part_by_part(archive: RunningArchive) -> None:
    from pydicom.uid import ImplicitVRLittleEndian

    series = make_ct(n=3, seed=121, rows=16, columns=16)
    series[1].file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    assert _stow(archive, [to_bytes(ds) for ds in series]).status_code == 200
    url = f"/dicom-web/studies/{series[0].StudyInstanceUID}"
    with archive.http() as http:
        r = http.get(url, headers={"Accept": 'multipart/related; type="application/dicom"'})
    assert r.status_code == 200
    parts = _parts(r)
    assert len(parts) == 3
    assert {kind for kind, _ in parts} == {
        "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"}
    got = [pydicom.dcmread(io.BytesIO(body)) for _, body in parts]
    assert [g.SOPInstanceUID for g in got] == [ds.SOPInstanceUID for ds in series]
    assert all(g.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1" for g in got)
    for g, ds in zip(got, series, strict=True):
        np.testing.assert_array_equal(g.pixel_array, ds.pixel_array)


def test_transcoding_not_offered_is_406_before_any_byte(archive: RunningArchive,
                                                        ct: list[Dataset]) -> None:
    ds = ct[0]
    url = (f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
           f"/instances/{ds.SOPInstanceUID}")
    accept = 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50'
    with archive.http() as http:
        r = http.get(url, headers={"Accept": accept})
    assert r.status_code == 406
    assert "1.2.840.10008.1.2.4.50" in r.json()["detail"]


def test_several_frames_in_the_order_asked(archive: RunningArchive) -> None:
    xa = make_xa(n_frames=4, seed=122)
    assert _stow(archive, [to_bytes(xa)]).status_code == 200
    url = (f"/dicom-web/studies/{xa.StudyInstanceUID}/series/{xa.SeriesInstanceUID}"
           f"/instances/{xa.SOPInstanceUID}/frames/4,1,4")
    size = xa.Rows * xa.Columns
    expected = [xa.PixelData[(n - 1) * size:n * size] for n in (4, 1, 4)]
    with archive.http() as http:
        r = http.get(url, headers={"Accept": OCTETS})
        assert r.status_code == 200
        assert [body for _, body in _parts(r)] == expected
        for blob in archive.data_dir.rglob("*.dcm"):  # out of the page cache: read on a thread
            fd = os.open(blob, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
        r = http.get(url, headers={"Accept": OCTETS})
        assert [body for _, body in _parts(r)] == expected
        r = http.get(url.replace("4,1,4", "2,5"), headers={"Accept": OCTETS})
        assert r.status_code == 404 and "1..4" in r.text


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm",
                                  "MR_small_bigendian.dcm", "rtdose.dcm", "MR_small_RLE.dcm",
                                  "JPEG2000.dcm"])
def test_rendered_equals_rendering_the_whole_file(archive: RunningArchive, name: str) -> None:
    path = get_testdata_file(name)
    assert path is not None
    data = to_bytes(_renamed(pydicom.dcmread(path)))
    assert _stow(archive, [data]).status_code == 200
    ds = pydicom.dcmread(io.BytesIO(data))
    url = (f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
           f"/instances/{ds.SOPInstanceUID}")
    last = int(ds.get("NumberOfFrames") or 1)
    with archive.http() as http:
        for number in sorted({1, last}):
            for window in (None, "40,400,linear-exact"):
                params = {"window": window} if window else {}
                r = http.get(f"{url}/frames/{number}/rendered", params=params,
                             headers={"Accept": "image/png"})
                assert r.status_code == 200, r.text
                expected = render_frame(ds, number, media_type="image/png",
                                        window=Window.parse(window) if window else None)
                np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(r.content))),
                                              np.asarray(Image.open(io.BytesIO(expected))))
        r = http.get(f"{url}/frames/{last + 1}/rendered")
        assert r.status_code == 404
