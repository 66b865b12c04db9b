"""Whole demo archives, benchmark data and writing datasets to a folder tree."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from pydicom import dcmwrite
from pydicom.dataset import Dataset
from tqdm import tqdm

from workbench.demo._base import check_date, make_uid, shift_date
from workbench.demo._modules import StudyKwargs
from workbench.demo.cine import us_cine, xa_cine
from workbench.demo.images import iter_ct_series, mr_series
from workbench.demo.nm import nm_study
from workbench.demo.patients import DEMO_PATIENTS, synthetic_patient
from workbench.demo.waveform import ecg

__all__ = ["benchmark_ct_studies", "demo_datasets", "write_datasets"]


def demo_datasets(*, seed: int = 0, base_date: str = "20260115") -> Iterator[Dataset]:
    """Yield the demo archive: two patients, each with a prior and a current study.

    ``DOE^JANE``: prior MR brain (24 x 256 x 256), current contrast CT chest
    (48 x 512 x 512). ``ROE^RICHARD^A``: prior cardiac stress test (echo cine, stress and
    rest perfusion SPECT, resting 12-lead ECG), current cardiac catheterisation (coronary
    angiogram, ECG). Priors are dated months before `base_date`; about 70 MB in all.

    Parameters
    ----------
    seed
        Fixes every UID and pixel; the same seed yields byte-identical datasets.
    base_date
        Date of the most recent study, ``YYYYMMDD``; nothing depends on today.

    Yields
    ------
    Dataset
        Instances with file meta, study by study (prior first), series by series.
    """
    check_date(base_date, "base_date")
    jane, richard = DEMO_PATIENTS

    def study(
        patient_key: str, days: int, time: str, description: str, referrer: str, number: int
    ) -> StudyKwargs:
        date = shift_date(base_date, days)
        return {
            "study_uid": make_uid("demo-study", seed, patient_key, number),
            "study_date": date,
            "study_time": time,
            "accession": f"WBD{seed % 100000:05d}{number:02d}",
            "study_description": description,
            "referring_physician": referrer,
        }

    prior = study(jane.patient_id, -190, "140500", "MR BRAIN WITHOUT CONTRAST", "SMITH^ANNA", 1)
    yield from mr_series(
        jane, seed=seed * 1000 + 1, series_number=1, description="AX T1 SE", **prior
    )
    current = study(jane.patient_id, 0, "091500", "CT CHEST WITH CONTRAST", "SMITH^ANNA", 2)
    yield from iter_ct_series(
        jane,
        seed=seed * 1000 + 2,
        n_slices=48,
        series_number=2,
        description="CHEST AXIAL 5mm",
        slice_thickness=5.0,
        **current,
    )

    prior = study(richard.patient_id, -96, "101000", "CARDIAC STRESS TEST", "BROWN^PAUL", 3)
    yield ecg(richard, seed=seed * 1000 + 3, series_number=1, heart_rate=64.0, **prior)
    yield us_cine(richard, seed=seed * 1000 + 4, series_number=2, **prior)
    yield from nm_study(richard, seed=seed * 1000 + 5, series_number=3, **prior)
    current = study(richard.patient_id, -2, "073000", "CARDIAC CATHETERIZATION", "BROWN^PAUL", 4)
    yield ecg(richard, seed=seed * 1000 + 6, series_number=1, heart_rate=78.0, **current)
    yield xa_cine(richard, seed=seed * 1000 + 7, series_number=2, **current)


def benchmark_ct_studies(
    *, n_studies: int = 4, n_slices: int = 250, seed: int = 1000, base_date: str = "20260101"
) -> Iterator[Dataset]:
    """Yield `n_studies` single-series CT studies of distinct made-up patients.

    Every instance is a 512 x 512 16-bit slice (about 525 KB); slices are generated
    lazily, so memory stays flat however many are asked for.

    Parameters
    ----------
    n_studies, n_slices
        Number of patients/studies and slices per study.
    seed
        Fixes patients, UIDs and pixels.
    base_date
        Date of the first study; each further study is a day earlier.

    Yields
    ------
    Dataset
        CT Image Storage instances with file meta.
    """
    for index in range(n_studies):
        patient = synthetic_patient(seed, index, prefix="BENCH")
        yield from iter_ct_series(
            patient,
            seed=seed * 100003 + index,
            n_slices=n_slices,
            study_date=shift_date(base_date, -index),
            accession=f"BM{seed % 100000:05d}{index:05d}",
            study_description="CT CHEST BENCHMARK",
            description="CHEST AXIAL 2.5mm",
        )


def instance_path(ds: Dataset, folder: Path) -> Path:
    """Return ``folder/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm``."""
    return (
        folder / str(ds.StudyInstanceUID) / str(ds.SeriesInstanceUID) / (f"{ds.SOPInstanceUID}.dcm")
    )


def write_datasets(
    datasets: Iterable[Dataset], folder: Path, *, progress: bool = False
) -> list[Path]:
    """Write datasets as DICOM files under `folder`, one folder per study and series.

    Parameters
    ----------
    datasets
        Datasets with file meta (as made by this package); consumed lazily.
    folder
        Root folder; created if missing. Existing files of the same UIDs are overwritten.
    progress
        Show a tqdm progress bar.

    Returns
    -------
    list of Path
        The written files, in input order.
    """
    folder = Path(folder)
    written: list[Path] = []
    made: set[Path] = set()
    for ds in tqdm(datasets, disable=not progress, unit="file", desc="writing DICOM"):
        path = instance_path(ds, folder)
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        dcmwrite(path, ds, enforce_file_format=True)
        written.append(path)
    return written
