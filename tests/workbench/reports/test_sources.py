"""What a study offers a report: measurements from SR TID 1500, key images from KOS."""

from __future__ import annotations

import highdicom as hd
import pytest
from pydicom.sr.codedict import codes

from tests.synth import from_bytes, make_ct, to_bytes
from workbench.measure import calibration_from_dataset, measure_length, measurement_report
from workbench.measure.reference import ImageReference
from workbench.reports import TemplateRegistry
from workbench.reports.sources import key_images_from_kos, measurements_from_sr

CT = make_ct(n=2, seed=21, rows=32, columns=32)


def test_measurements_link_by_tracking_uid(registry: TemplateRegistry) -> None:
    image = ImageReference.from_dataset(CT[0])
    length = measure_length((2, 2), (2, 12), calibration_from_dataset(CT[0]), image=image)
    sr = from_bytes(to_bytes(measurement_report([length], CT)))
    found = measurements_from_sr(sr)
    assert len(found) == 1
    source = found[0]
    assert source.unit == "mm" and source.value == pytest.approx(length.value)
    assert source.image_instance_uid == CT[0].SOPInstanceUID
    value = registry.get("general-radiology").validate_values(
        {"lesion_size": source.field_value()})["lesion_size"]
    assert value["tracking_uid"] == source.tracking_uid and value["unit"] == "mm"


def test_key_images_from_kos(registry: TemplateRegistry) -> None:
    content = hd.ko.KeyObjectSelection(codes.DCM.OfInterest, [CT[1]],
                                       description="Largest lesion")
    kos = hd.ko.KeyObjectSelectionDocument([CT[1]], content, hd.UID(), 99, hd.UID(), 1)
    found = key_images_from_kos(from_bytes(to_bytes(kos)))
    assert [k.sop_instance_uid for k in found] == [CT[1].SOPInstanceUID]
    assert found[0].caption == "Largest lesion"
    values = registry.get("free-text").validate_values(
        {"key_images": [k.field_value() for k in found]})
    assert values["key_images"][0]["series_uid"] == CT[1].SeriesInstanceUID
    with pytest.raises(ValueError, match="Key Object Selection"):
        key_images_from_kos(CT[0])
