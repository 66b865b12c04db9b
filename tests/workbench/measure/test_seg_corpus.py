"""Every SEG of the shared corpus reads into masks on its own geometry, pixel for pixel."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset

from workbench.measure.seg import segment_labels
from workbench.measure.seg_geometry import segment_mask
from workbench.measure.volume import measure_volume

pytestmark = pytest.mark.corpus


def corpus_segs(corpus: Path) -> list[Path]:
    with (corpus / "MANIFEST.tsv").open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [corpus / r["path"] for r in rows if r["modality"] == "SEG"]


def frame_pixels(seg: Dataset, number: int, size: int) -> int:
    """Pixels of segment `number` counted in the stored frames, without highdicom.

    In a label map, background (0) is also what no frame covers (the missing tiles of a
    TILED_SPARSE image, the empty slices of a stack): `size` pixels less the labelled.
    """
    frames = np.asarray(seg.pixel_array).reshape(-1, int(seg.Rows), int(seg.Columns))
    kind = str(seg.SegmentationType)
    if kind == "LABELMAP":
        return size - int((frames != 0).sum()) if number == 0 else int((frames == number).sum())
    total = 0
    for index, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        ident = item.get("SegmentIdentificationSequence") or \
            seg.SharedFunctionalGroupsSequence[0].SegmentIdentificationSequence
        if int(ident[0].ReferencedSegmentNumber) != number:
            continue
        if kind == "FRACTIONAL":
            total += int((frames[index] > int(seg.MaximumFractionalValue) / 2).sum())
        else:
            total += int((frames[index] > 0).sum())
    return total


def test_every_corpus_seg_reads_into_masks(corpus: Path) -> None:
    paths = corpus_segs(corpus)
    assert paths, "the corpus manifest lists no SEG"
    segments = 0
    for path in paths:
        seg = dcmread(path)
        for number, label in segment_labels(seg).items():
            mask = segment_mask(seg, segment=number)
            where = f"{path.name} segment {number}"
            assert mask.dims == ("z", "y", "x") and mask.dtype == np.bool_, where
            assert mask.sizes["y"] == seg.Rows or str(seg.get("DimensionOrganizationType",
                                                               "")).startswith("TILED"), where
            assert int(mask.sum()) == frame_pixels(seg, number, mask.size), where
            assert mask.name == (label or f"segment {number}")
            if mask.any():  # measurable as it is: the voxel volume follows the SEG's spacing
                stats = measure_volume(mask.astype(np.float32).assign_attrs(units=""), mask,
                                       smoothing_iterations=0)
                dz, dy, dx = mask.attrs["spacing"]
                assert stats.voxel_volume_ml == pytest.approx(
                    int(mask.sum()) * dz * dy * dx / 1000, rel=1e-6), where
            segments += 1
    assert segments >= len(paths)
