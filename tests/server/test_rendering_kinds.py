"""Rendered frames and thumbnails of colour and multi-frame objects, and who may delete."""

from __future__ import annotations

import hashlib
import io

import httpx
import numpy as np
import pytest
from dicomweb_client.api import DICOMwebClient
from PIL import Image

from tests.conftest import RunningArchive
from tests.server.people import add_member
from tests.synth import make_ecg, make_us, make_xa


@pytest.fixture(scope="module")
def stored(archive: RunningArchive) -> dict[str, object]:
    client = DICOMwebClient(archive.dicomweb, headers=archive.headers)
    us, xa, ecg = make_us(seed=601), make_xa(seed=602), make_ecg(seed=603)
    client.store_instances([us, xa, ecg])
    return {"us": us, "xa": xa, "ecg": ecg}


def _url(ds: object) -> str:
    return (f"/dicom-web/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"  # type: ignore[attr-defined]
            f"/instances/{ds.SOPInstanceUID}")  # type: ignore[attr-defined]


def test_colour_cine_renders_in_colour(archive: RunningArchive, stored: dict[str, object]
                                       ) -> None:
    with archive.http() as http:
        r = http.get(f"{_url(stored['us'])}/frames/3/rendered", headers={"Accept": "image/png"})
    assert r.status_code == 200
    image = Image.open(io.BytesIO(r.content))
    assert image.mode == "RGB"
    pixels = np.asarray(image).astype(int)
    assert (pixels[..., 0] != pixels[..., 1]).any()  # a colour image, not grey


def test_multiframe_frames_differ(archive: RunningArchive, stored: dict[str, object]) -> None:
    xa = stored["xa"]
    with archive.http() as http:
        first = http.get(f"{_url(xa)}/frames/1/rendered", headers={"Accept": "image/png"})
        later = http.get(f"{_url(xa)}/frames/3/rendered", headers={"Accept": "image/png"})
        beyond = http.get(f"{_url(xa)}/frames/{xa.NumberOfFrames + 1}/rendered")  # type: ignore[attr-defined]
        thumb = http.get(f"{_url(xa)}/thumbnail")
    assert first.status_code == later.status_code == 200
    assert hashlib.sha256(first.content).digest() != hashlib.sha256(later.content).digest()
    assert beyond.status_code == 404
    assert thumb.status_code == 200


def test_waveform_has_no_thumbnail_but_a_reason(archive: RunningArchive,
                                                stored: dict[str, object]) -> None:
    with archive.http() as http:
        r = http.get(f"{_url(stored['ecg'])}/thumbnail")
    assert r.status_code in (404, 406)
    assert "Pixel Data" in r.json()["detail"] or "image" in r.json()["detail"]


def test_only_administrators_delete(archive: RunningArchive, stored: dict[str, object]) -> None:
    reader = add_member(archive, archive.headers, "reader.rk@example.org", ["reading_physician"])
    ecg = stored["ecg"]
    url = f"{archive.dicomweb}/studies/{ecg.StudyInstanceUID}"  # type: ignore[attr-defined]
    assert httpx.get(f"{url}/metadata", headers=reader.headers).status_code == 200
    r = httpx.delete(url, headers=reader.headers)
    assert r.status_code == 403 and "study.delete" in r.json()["detail"]
    assert httpx.get(f"{url}/metadata", headers=reader.headers).status_code == 200
