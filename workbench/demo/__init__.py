"""Seeded synthetic DICOM: the demo archive, test fixtures and benchmark data.

Every generator returns standard pydicom datasets with file meta (Explicit VR Little
Endian) and the mandatory modules of its IOD filled in. Output depends only on the
arguments: UIDs are hashes of the seed and context (``generate_uid(entropy_srcs=...)``),
pixels come from ``numpy.random.default_rng`` seeded likewise, and dates come from
parameters, never from the clock.

Examples
--------
>>> from workbench.demo import DEMO_PATIENTS, ct_series
>>> slices = ct_series(DEMO_PATIENTS[0], seed=1, n_slices=4, rows=64, columns=64)
>>> slices[0].pixel_array.shape
(64, 64)
"""

from workbench.demo.cine import US_MULTIFRAME_IMAGE_STORAGE, XA_IMAGE_STORAGE, us_cine, xa_cine
from workbench.demo.images import (
    CT_IMAGE_STORAGE,
    MR_IMAGE_STORAGE,
    ct_series,
    iter_ct_series,
    mr_series,
)
from workbench.demo.nm import NM_IMAGE_STORAGE, nm_study
from workbench.demo.patients import DEMO_PATIENTS, DemoPatient, synthetic_patient
from workbench.demo.studies import (
    benchmark_ct_studies,
    demo_datasets,
    instance_path,
    write_datasets,
)
from workbench.demo.waveform import LEAD_NAMES, TWELVE_LEAD_ECG_STORAGE, ecg

__all__ = [
    "CT_IMAGE_STORAGE",
    "DEMO_PATIENTS",
    "LEAD_NAMES",
    "MR_IMAGE_STORAGE",
    "NM_IMAGE_STORAGE",
    "TWELVE_LEAD_ECG_STORAGE",
    "US_MULTIFRAME_IMAGE_STORAGE",
    "XA_IMAGE_STORAGE",
    "DemoPatient",
    "benchmark_ct_studies",
    "ct_series",
    "demo_datasets",
    "ecg",
    "instance_path",
    "iter_ct_series",
    "mr_series",
    "nm_study",
    "synthetic_patient",
    "us_cine",
    "write_datasets",
    "xa_cine",
]
