"""A seeded, deterministic digital phantom of gated myocardial perfusion SPECT.

The left ventricle is a truncated prolate-spheroid shell whose cavity follows a
realistic volume curve, whose wall thickens at constant myocardial volume while the
valve plane descends, tilted along any long axis, with perfusion defects over AHA
segments (reversible or fixed), late-contracting regions, Gaussian blur of a chosen FWHM
and Poisson noise at a chosen count level. :func:`make_phantom` returns the counts, the
truth and, on request, a real DICOM NM RECON GATED TOMO instance.

Examples
--------
>>> from workbench.spect.phantom import PhantomSpec, make_phantom
>>> ph = make_phantom(PhantomSpec(matrix=32, n_gates=8, counts_per_ml=None))
>>> ph.counts.shape, round(ph.truth.edv_ml), round(ph.truth.esv_ml)
((8, 32, 32, 32), 120, 48)
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from workbench.demo._modules import Study
from workbench.demo.patients import DemoPatient
from workbench.spect.lvframe import LvFrame, axis_from_angles
from workbench.spect.phantom.dicom import NM_IMAGE_STORAGE, gated_dataset
from workbench.spect.phantom.heart import HeartModel, contraction
from workbench.spect.phantom.render import grid_axis, render_activity, render_counts
from workbench.spect.phantom.spec import Defect, Dyssynchrony, PhantomSpec, PhantomTruth
from workbench.spect.phantom.truth import compute_truth

__all__ = [
    "NM_IMAGE_STORAGE", "PHANTOM_PATIENT", "Defect", "Dyssynchrony", "Phantom", "PhantomSpec",
    "PhantomTruth", "contraction", "make_phantom", "phantom_datasets", "realisations",
    "stress_rest_specs",
]  # fmt: skip

PHANTOM_PATIENT = DemoPatient(patient_id="WB-SPECT-PHANTOM", name="PHANTOM^GATED^SPECT",
                              birth_date="19600101", sex="O")  # fmt: skip
"""Demographics written into phantom datasets unless others are given."""


@dataclass(frozen=True)
class Phantom:
    """A rendered phantom.

    Attributes
    ----------
    spec
        Its parameters.
    counts
        uint16 counts ``(gate, z, y, x)``; axial grid centred on the LPS origin.
    truth
        What an analysis should find.
    affine
        4 x 4 matrix from voxel ``(x, y, z, 1)`` (column, row, slice) to LPS mm.
    """

    spec: PhantomSpec
    counts: npt.NDArray[np.uint16]
    truth: PhantomTruth
    affine: npt.NDArray[np.float64]


def _frame(spec: PhantomSpec, model: HeartModel) -> LvFrame:
    axis = np.asarray(axis_from_angles(spec.azimuth_deg, spec.elevation_deg))
    apex = np.asarray(spec.centre_mm) + axis * model.zb0 / 2
    return LvFrame(origin=(float(apex[0]), float(apex[1]), float(apex[2])),
                   axis=(float(axis[0]), float(axis[1]), float(axis[2])))  # fmt: skip


def make_phantom(spec: PhantomSpec) -> Phantom:
    """Render `spec`: the same spec always gives the same counts, bit for bit.

    Parameters
    ----------
    spec
        The phantom parameters.

    Returns
    -------
    Phantom
        Counts, truth and affine.
    """
    model = HeartModel(spec)
    frame = _frame(spec, model)
    counts = render_counts(spec, render_activity(model, frame))
    return Phantom(spec=spec, counts=counts, truth=compute_truth(model, frame),
                   affine=_affine(spec))  # fmt: skip


def realisations(spec: PhantomSpec, fwhms_mm: Iterable[float],
                 seeds: Iterable[int]) -> Iterator[Phantom]:  # fmt: skip
    """Yield :func:`make_phantom` of `spec` for every (FWHM, noise seed) pair, FWHM-major.

    The heart is voxelised once; only blur and noise are redone, so a grid of
    realisations costs little more than its Poisson draws. Each phantom equals
    ``make_phantom(replace(spec, fwhm_mm=f, seed=s))`` bit for bit.
    """
    model = HeartModel(spec)
    frame = _frame(spec, model)
    activity = render_activity(model, frame)
    truth = compute_truth(model, frame)
    seed_list = list(seeds)
    for fwhm in fwhms_mm:
        for seed in seed_list:
            variant = replace(spec, fwhm_mm=float(fwhm), seed=int(seed))
            yield Phantom(spec=variant, counts=render_counts(variant, activity), truth=truth,
                          affine=_affine(spec))  # fmt: skip


def _affine(spec: PhantomSpec) -> npt.NDArray[np.float64]:
    """Voxel to LPS, the origin rounded to 1e-6 mm as Image Position (Patient) stores it."""
    start = round(float(grid_axis(spec)[0]), 6)
    affine = np.diag([spec.voxel_mm, spec.voxel_mm, spec.voxel_mm, 1.0])
    affine[:3, 3] = start
    return affine


def stress_rest_specs(rest: PhantomSpec, *, tid: float = 1.0) -> tuple[PhantomSpec, PhantomSpec]:
    """Return ``(stress, rest)`` specs of one patient: the same heart and defects, the
    stress cavity dilated by `tid` (transient ischaemic dilation), different noise seeds.
    """
    stress = replace(rest, state="stress", dilation=tid, seed=rest.seed + 1_000_003)
    return stress, replace(rest, state="rest", dilation=1.0)


def phantom_datasets(
    phantoms: list[Phantom] | tuple[Phantom, ...],
    *,
    patient: DemoPatient = PHANTOM_PATIENT,
    study_uid: str | None = None,
    study_date: str = "20260101",
    study_time: str = "090000",
    accession: str = "",
) -> list[Dataset]:
    """Return one NM RECON GATED TOMO dataset per phantom, all in one study.

    Series are numbered from 1 in the given order; UIDs are hashes of the first
    phantom's seed, the patient and the study date and time, so that the same call
    gives the same bytes.
    """
    if not phantoms:
        return []
    seed = phantoms[0].spec.seed
    study = Study(study_uid, study_date, study_time, accession, "GATED SPECT PHANTOM", "")
    return [gated_dataset(ph.spec, ph.counts, patient, study=study, series_number=i + 1,
                          seed=seed) for i, ph in enumerate(phantoms)]  # fmt: skip

