"""The viewers as param objects, driven without a browser.

Setting a parameter of a browser component stands for what the browser reports (the
reader scrolled, dragged a window); the viewer's parameters must follow, and the
other way round.
"""

from __future__ import annotations

from io import BytesIO

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from tests.synth import to_bytes
from tests.workbench.viewer.conftest import STUDY, series_uid
from workbench.dicom.waveform import waveform_array
from workbench.dicomweb.local_archive import LocalFolderArchiveClient
from workbench.imaging.presets import CT_PRESETS
from workbench.viewer.components import asset
from workbench.viewer.series import SeriesDisplay, describe_series
from workbench.viewer.viewers import CineViewer, SliceViewer
from workbench.viewer.waveforms import DocumentViewer, EcgViewer, load_waveform

Instances = dict[str, list[Dataset]]


def display(archive: LocalFolderArchiveClient, instances: Instances, kind: str) -> SeriesDisplay:
    return describe_series(archive.retrieve_series_metadata(STUDY, series_uid(instances, kind)))


@pytest.fixture
def ct(archive: LocalFolderArchiveClient, instances: Instances) -> SeriesDisplay:
    return display(archive, instances, "ct")


def test_slice_viewer_shows_a_series_with_its_window(ct: SeriesDisplay) -> None:
    viewer = SliceViewer(series=ct)
    assert viewer.count == 6 and viewer.param.slice.bounds == (0, 5)
    assert ct.window is not None
    assert (viewer.window, viewer.level) == (ct.window.width, ct.window.center)
    assert viewer.view.series["frames"][3]["url"].endswith("/frames/1")
    assert (viewer.view.window_width, viewer.view.window_center) == (viewer.window, viewer.level)
    assert viewer.view.vertex_source.startswith("#version 300 es")
    assert "u_slope" in viewer.view.fragment_source


def test_scrolling_and_window_in_the_browser_reach_the_viewer(ct: SeriesDisplay) -> None:
    viewer = SliceViewer(series=ct)
    viewer.view.index = 4            # the reader scrolled
    viewer.view.param.update(window_width=123.0, window_center=-7.0)   # and dragged
    assert viewer.slice == 4 and (viewer.window, viewer.level) == (123.0, -7.0)
    viewer.slice = 1                 # a notebook moves it back
    assert viewer.view.index == 1


def test_presets_invert_zoom_and_reset(ct: SeriesDisplay) -> None:
    viewer = SliceViewer(series=ct)
    assert {p.name for p in CT_PRESETS} <= set(viewer.param.preset.objects)
    viewer.preset = "bone"
    assert (viewer.level, viewer.window) == (400, 1800)
    assert (viewer.view.window_center, viewer.view.window_width) == (400, 1800)
    viewer.param.update(invert=True, zoom=3.0, tool="pan", slice=5)
    assert (viewer.view.invert, viewer.view.zoom, viewer.view.tool) == (True, 3.0, "pan")
    viewer.view.pan_x = 0.4
    viewer.reset()
    assert (viewer.slice, viewer.zoom, viewer.view.pan_x, viewer.preset) == (0, 1.0, 0.0, "")
    assert ct.window is not None and viewer.window == ct.window.width
    with pytest.raises(ValueError):
        viewer.slice = 6


def test_a_series_without_window_leaves_the_choice_to_the_browser(ct: SeriesDisplay) -> None:
    from dataclasses import replace
    viewer = SliceViewer(series=replace(ct, window=None))
    assert viewer.window is None and viewer.view.window_width is None


def test_cine_viewer_steps_wraps_and_knows_its_rate(archive: LocalFolderArchiveClient,
                                                    instances: Instances) -> None:
    loop = display(archive, instances, "us")
    viewer = CineViewer(series=loop)
    assert viewer.fps == pytest.approx(1000 / float(instances["us"][0].FrameTime))
    viewer.toggle()
    assert viewer.view.playing
    viewer.view.param.update(playing=False, index=3)   # the browser stopped at frame 4
    assert not viewer.playing and viewer.slice == 3
    viewer.step(1)
    viewer.step(1)
    assert viewer.slice == 0 and viewer.view.index == 0   # wrapped around
    viewer.loop = False
    viewer.step(-1)
    assert viewer.slice == 0
    viewer.speed = 2.0
    assert viewer.view.speed == 2.0


def test_ecg_viewer_sends_leads_in_millivolts(archive: LocalFolderArchiveClient,
                                              instances: Instances) -> None:
    series = display(archive, instances, "ecg")
    waveform = load_waveform(archive, series)
    expected = waveform_array(dcmread(BytesIO(to_bytes(instances["ecg"][0]))))
    assert waveform.attrs["units"] == "mV"
    viewer = EcgViewer(series=series, waveform=waveform)
    assert viewer.leads == [str(n) for n in expected["lead"].values]
    lead = next(item for item in viewer.view.leads if item["name"] == "V2")
    np.testing.assert_allclose(lead["values"], expected.sel(lead="V2").values, atol=1e-4)
    assert viewer.view.sampling_rate == expected.attrs["sampling_frequency"]
    assert any("TEST" in line or "," in line for line in viewer.view.title)
    viewer.param.update(gain=20.0, speed=50.0, layout="6x2")
    assert (viewer.view.gain, viewer.view.speed, viewer.view.layout) == (20.0, 50.0, "6x2")
    with pytest.raises(ValueError, match="no waveform"):
        load_waveform(archive, display(archive, instances, "ct"))


def test_document_viewer_fetches_through_the_browsers_origin(
        archive: LocalFolderArchiveClient, instances: Instances) -> None:
    pdf = display(archive, instances, "pdf")
    viewer = DocumentViewer(series=pdf)
    sop = str(instances["pdf"][0].SOPInstanceUID)
    assert viewer.view.url.endswith(f"/instances/{sop}/bulkdata/00420011")
    assert viewer.view.url.startswith("/dicom-web/studies/")
    assert (viewer.view.media_type, viewer.view.filename) == ("application/pdf", "document.pdf")
    from dataclasses import replace
    absolute = replace(pdf, bulkdata="http://127.0.0.1:9/dicom-web/studies/1/series/2/"
                                     "instances/3/bulkdata/00420011")
    viewer.param.update(series=absolute, archive_root="http://127.0.0.1:9/dicom-web")
    assert viewer.view.url == "/dicom-web/studies/1/series/2/instances/3/bulkdata/00420011"


def test_assets_are_one_module_per_component() -> None:
    module = asset("pixels.js", "renderer.js", "image_view.js", "cine.js")
    assert module.count("export function render") == 1
    assert "texelFetch" in asset("image.frag") and "R32F" in module
