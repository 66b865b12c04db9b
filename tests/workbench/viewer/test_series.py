"""describe_series: what the viewers show, read from WADO-RS metadata."""

from __future__ import annotations

import doctest
import importlib
import random

import pytest
from pydicom.dataset import Dataset

from tests.workbench.viewer.conftest import STUDY, series_uid
from workbench.dicomweb.local_archive import LocalFolderArchiveClient
from workbench.viewer.labels import Markers
from workbench.viewer.series import PixelFormat, SeriesDisplay, SeriesKind, describe_series

Instances = dict[str, list[Dataset]]


def describe(archive: LocalFolderArchiveClient, instances: Instances, kind: str,
             shuffle: bool = False) -> SeriesDisplay:
    metadata = archive.retrieve_series_metadata(STUDY, series_uid(instances, kind))
    if shuffle:
        random.Random(4).shuffle(metadata)
    return describe_series(metadata)


def test_ct_stack_in_geometric_order_with_its_lut_and_calibration(
        archive: LocalFolderArchiveClient, instances: Instances) -> None:
    display = describe(archive, instances, "ct", shuffle=True)
    assert display.kind is SeriesKind.IMAGE and display.modality == "CT"
    by_position = sorted(instances["ct"], key=lambda ds: float(ds.ImagePositionPatient[2]))
    assert [f.sop_uid for f in display.frames] == [str(ds.SOPInstanceUID) for ds in by_position]
    locations = [f.location for f in display.frames if f.location is not None]
    assert locations == sorted(locations) and len(set(locations)) == 6
    first = by_position[0]
    assert (display.frames[0].slope, display.frames[0].intercept) == (
        float(first.RescaleSlope), float(first.RescaleIntercept))
    assert display.formats == (PixelFormat(64, 64, 1, "MONOCHROME2", 16, 12, 0, 0),)
    assert display.formats[0].browser_decodes
    assert display.units == "HU"
    assert display.window is not None and display.window.width > 0
    names = [p.name for p in display.presets]
    assert "lung" in names and "bone" in names
    assert display.spacing.source == "PixelSpacing" and display.spacing.row == pytest.approx(0.7)
    assert display.markers == Markers(left="R", right="L", top="A", bottom="P")
    assert display.overlay["top_left"][1] == str(first.PatientID)
    assert "Acc ACC-1" in display.overlay["top_right"]


def test_browser_description_names_frames_by_one_based_number(
        archive: LocalFolderArchiveClient, instances: Instances) -> None:
    display = describe(archive, instances, "ct")
    js = display.to_js("/root")
    assert display.window is not None
    assert len(js["frames"]) == 6
    frame = display.frames[2]
    assert js["frames"][2]["url"] == (f"/root/studies/{STUDY}/series/{display.series_uid}/"
                                      f"instances/{frame.sop_uid}/frames/1")
    assert js["formats"][0]["bitsStored"] == 12 and js["formats"][0]["signed"] is False
    assert js["spacing"][2] == "PixelSpacing"
    assert js["window"] == [display.window.center, display.window.width, "LINEAR"]


def test_ultrasound_loop_is_a_cine_at_its_frame_time(
        archive: LocalFolderArchiveClient, instances: Instances) -> None:
    display = describe(archive, instances, "us")
    ds = instances["us"][0]
    assert display.kind is SeriesKind.CINE
    assert [f.number for f in display.frames] == [1, 2, 3, 4, 5]
    assert display.frame_time_source == "FrameTime"
    assert display.fps == pytest.approx(1000 / float(ds.FrameTime))
    fmt = display.formats[0]
    assert (fmt.samples, fmt.photometric, fmt.browser_decodes) == (3, "RGB", True)
    assert display.spacing.calibrated


def test_angiography_loop_is_a_cine(archive: LocalFolderArchiveClient,
                                    instances: Instances) -> None:
    display = describe(archive, instances, "xa")
    assert display.kind is SeriesKind.CINE and len(display.frames) == 4
    assert display.fps == pytest.approx(1000 / float(instances["xa"][0].FrameTime))


def test_waveform_and_pdf_kinds(archive: LocalFolderArchiveClient, instances: Instances) -> None:
    assert describe(archive, instances, "ecg").kind is SeriesKind.WAVEFORM
    pdf = describe(archive, instances, "pdf")
    assert pdf.kind is SeriesKind.PDF and pdf.mime_type == "application/pdf"


def test_formats_the_browser_cannot_window_go_to_the_archive_renderer() -> None:
    assert not PixelFormat(8, 8, 3, "YBR_FULL_422", 8).browser_decodes
    assert not PixelFormat(8, 8, 1, "PALETTE COLOR", 8).browser_decodes
    assert PixelFormat(8, 8, 3, "YBR_FULL", 8).browser_decodes
    assert PixelFormat(8, 8, 1, "MONOCHROME1", 16, 10, 1).browser_decodes


def test_instances_of_several_series_are_refused(archive: LocalFolderArchiveClient,
                                                 instances: Instances) -> None:
    mixed = (archive.retrieve_series_metadata(STUDY, series_uid(instances, "ct"))
             + archive.retrieve_series_metadata(STUDY, series_uid(instances, "us")))
    with pytest.raises(ValueError, match="SeriesInstanceUID"):
        describe_series(mixed)
    with pytest.raises(ValueError, match="no instances"):
        describe_series([])


@pytest.mark.parametrize("name", ["workbench.viewer.labels", "workbench.viewer.viewers",
                                  "workbench.viewer.worklist", "workbench.viewer.waveforms"])
def test_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
