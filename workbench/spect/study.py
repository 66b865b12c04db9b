"""From files to the gated sets of a myocardial perfusion study (stress and rest).

:func:`read_nm_files` reads every NM TOMO, GATED TOMO, RECON TOMO and RECON GATED TOMO
image among files and folders (anything else is skipped); :func:`pick_sets` chooses the
stress and the rest set to analyse: reconstructed, gated before ungated, the state taken
from the series description (:func:`~workbench.spect.nm_geometry.acquisition_state`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from workbench.spect.analysis import StudyAnalysis, analyze_study
from workbench.spect.nm import IMAGE_TYPES, NmImage, image_type, load_nm
from workbench.spect.scores import NormalLimits

__all__ = ["analyze_files", "iter_files", "pick_sets", "read_nm_files"]


def iter_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, and files found (recursively, sorted) in folders named."""
    out: list[Path] = []
    for p in (Path(x) for x in paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(f"no such file or folder: {p}")
    return out


def read_nm_files(paths: Iterable[str | Path]) -> list[NmImage]:
    """Read the supported NM images among `paths` (files or folders), in path order.

    Files that are not DICOM, not NM, or of another NM type (STATIC, WHOLE BODY, ...) are
    skipped.
    """
    images = []
    for path in iter_files(paths):
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError):
            continue
        if str(header.get("Modality", "")) != "NM" or image_type(header) not in IMAGE_TYPES:
            continue
        images.append(load_nm(pydicom.dcmread(path)))
    return images


def _rank(image: NmImage) -> tuple[int, int]:
    return (0 if image.is_reconstructed else 1, 0 if image.is_gated else 1)


def pick_sets(images: Iterable[NmImage], *, rest: Iterable[NmImage] = ()
              ) -> tuple[NmImage | None, NmImage | None]:  # fmt: skip
    """Return ``(stress, rest)`` reconstructed sets to analyse.

    Parameters
    ----------
    images
        Candidate images; reconstructed ones only are kept, gated preferred.
    rest
        Images given explicitly as rest (e.g. ``--rest``); then all of `images` count as
        stress.

    Raises
    ------
    ValueError
        No reconstructed set, or several sets whose state the descriptions do not tell.
    """
    recon = sorted((i for i in images if i.is_reconstructed), key=_rank)
    rest_list = sorted((i for i in rest if i.is_reconstructed), key=_rank)
    if rest_list:
        return (recon[0] if recon else None), rest_list[0]
    if not recon:
        raise ValueError("no reconstructed NM set (RECON TOMO or RECON GATED TOMO) found")
    stress = [i for i in recon if i.state == "stress"]
    rests = [i for i in recon if i.state == "rest"]
    unknown = [i for i in recon if i.state is None]
    if not stress and not rests:
        if len(unknown) > 1 and len({i.series_uid for i in unknown}) > 1:
            raise ValueError("several NM sets and none says stress or rest; pass the rest "
                             "set separately")  # fmt: skip
        return unknown[0], None
    return (stress[0] if stress else None), (rests[0] if rests else None)


def analyze_files(paths: Iterable[str | Path], rest: Iterable[str | Path] = (), *,
                  resolution_fwhm_mm: float | None = None,
                  normals: NormalLimits | None = None) -> StudyAnalysis:  # fmt: skip
    """Read, pick and analyse a study: what ``workbench spect analyze`` does.

    Parameters
    ----------
    paths
        Files or folders holding the study (stress and rest, told apart by their series
        descriptions), or only the stress set when `rest` is given.
    rest
        Files or folders of the rest set (``--rest``).
    resolution_fwhm_mm, normals
        As :func:`~workbench.spect.analysis.analyze_study`.

    Examples
    --------
    The command line prints ``study_to_dict(analyze_files(files, rest))`` as JSON
    (:func:`workbench.spect.report.study_to_dict`).
    """
    rest_list = list(rest)
    stress, rest_set = pick_sets(read_nm_files(paths),
                                 rest=read_nm_files(rest_list) if rest_list else ())  # fmt: skip
    return analyze_study(None if stress is None else stress.data,
                         None if rest_set is None else rest_set.data,
                         normals=normals, resolution_fwhm_mm=resolution_fwhm_mm)  # fmt: skip
