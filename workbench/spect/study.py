"""From files to the gated sets of a myocardial perfusion study (stress and rest).

:func:`read_nm_files` reads every NM TOMO, GATED TOMO, RECON TOMO and RECON GATED TOMO
image among files and folders (anything else is skipped); :func:`pick_sets` chooses the
stress and the rest set to analyse: reconstructed, gated before ungated, the state taken
from the series description (:func:`~workbench.spect.nm_geometry.acquisition_state`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
import xarray as xr
from pydicom.errors import InvalidDicomError

from workbench.dicomweb.client_base import ArchiveClient
from workbench.spect.analysis import StudyAnalysis, analyze_study
from workbench.spect.nm import IMAGE_TYPES, NmImage, image_type, load_nm
from workbench.spect.scores import NormalLimits
from workbench.spect.volume import make_volume

__all__ = [
    "Source", "Volume", "analyze_files", "is_gated_spect", "iter_files", "load_sets",
    "pick_sets", "read_archive_study", "read_nm_files",
]  # fmt: skip

Volume = xr.DataArray | npt.NDArray[Any] | NmImage
"""A set given as data: a labelled volume, an NM image, or a numpy array (with an affine)."""
Source = str | Path | Sequence[str | Path] | Volume
"""What :func:`load_sets` takes: a study UID, files or folders, or a volume."""

_SERIES_UID, _MODALITY, _IMAGE_TYPE = "0020000E", "00080060", "00080008"


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


def _json_values(item: dict[str, Any], tag: str) -> list[str]:
    return [str(v) for v in (item.get(tag) or {}).get("Value") or []]


def _supported(metadata: dict[str, Any], reconstructed_only: bool = False) -> bool:
    """Whether an instance's DICOM JSON names NM and a supported Image Type value 3."""
    kinds = [v.strip().upper() for v in _json_values(metadata, _IMAGE_TYPE)]
    if _json_values(metadata, _MODALITY) != ["NM"] or len(kinds) < 3:
        return False
    return kinds[2] in IMAGE_TYPES and (kinds[2].startswith("RECON") or not reconstructed_only)


def read_archive_study(client: ArchiveClient, study_uid: str, *,
                       reconstructed_only: bool = False) -> list[NmImage]:  # fmt: skip
    """Read the supported NM images of a study from an archive (any :class:`ArchiveClient`).

    Only NM series (QIDO-RS ``Modality=NM``) whose metadata names a supported Image Type
    (:data:`~workbench.spect.nm.IMAGE_TYPES`; with `reconstructed_only`, RECON TOMO and
    RECON GATED TOMO only) are retrieved, and of them only such images are read.

    Raises
    ------
    ValueError
        The study holds no such image (names the study).
    """
    images = []
    for series in client.search_for_series(study_uid, match={"Modality": "NM"}):
        uids = _json_values(series, _SERIES_UID)
        if not uids:
            continue
        metadata = client.retrieve_series_metadata(study_uid, uids[0])
        if not any(_supported(m, reconstructed_only) for m in metadata):
            continue
        for blob in client.iter_series(study_uid, uids[0]):
            ds = pydicom.dcmread(BytesIO(blob))
            kind = image_type(ds)
            if str(ds.get("Modality", "")) == "NM" and kind in IMAGE_TYPES \
                    and (kind.startswith("RECON") or not reconstructed_only):
                images.append(load_nm(ds))
    if not images:
        raise ValueError(f"study {study_uid} holds no NM TOMO, GATED TOMO, RECON TOMO or "
                         "RECON GATED TOMO image")  # fmt: skip
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


def is_gated_spect(metadata: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a series' DICOM JSON metadata is a reconstructed gated NM SPECT set
    (Modality NM, Image Type value 3 ``RECON GATED TOMO``): the reading app opens those
    in the Gated SPECT dashboard."""
    for item in metadata:
        modality = (item.get("00080060") or {}).get("Value") or []
        kinds = [str(v).strip().upper() for v in (item.get("00080008") or {}).get("Value") or []]
        if modality == ["NM"] and kinds[2:3] == ["RECON GATED TOMO"]:
            return True
    return False


def _volume(value: Volume, affine: npt.ArrayLike | None) -> xr.DataArray:
    if isinstance(value, xr.DataArray):
        return value
    if isinstance(value, NmImage):
        return value.data
    if affine is None:
        raise ValueError("a numpy volume needs affine= (4 x 4, voxel (x, y, z, 1) to LPS mm)")
    return make_volume(np.asarray(value), affine)


def _paths(value: Source | None) -> list[str | Path]:
    if value is None:
        return []
    if isinstance(value, (str, Path)):
        return [value]
    if isinstance(value, Sequence):
        return [p for p in value if isinstance(p, (str, Path))]
    raise ValueError(f"expected files or folders, got {type(value).__name__}")


def load_sets(source: Source | None, *, rest: Source | None = None,
              client: ArchiveClient | None = None,
              affine: npt.ArrayLike | None = None
              ) -> tuple[xr.DataArray | None, xr.DataArray | None]:  # fmt: skip
    """The ``(stress, rest)`` volumes a source stands for.

    Parameters
    ----------
    source
        A study UID (with `client`), files or folders (stress and rest told apart by their
        descriptions, as :func:`pick_sets`), or a volume (the stress set); None: only
        `rest` is given.
    rest
        The rest set given apart: files or folders, or a volume.
    client
        The archive to fetch a study UID from (any :class:`ArchiveClient`).
    affine
        4 x 4 voxel ``(x, y, z, 1)`` to LPS mm matrix of numpy volumes.

    Raises
    ------
    ValueError
        A study UID without a client, a numpy array without an affine, or no
        reconstructed NM set found.
    """
    if source is None:
        if rest is None:
            raise ValueError("no set given: pass a stress source, a rest set, or both")
        _, rest_volume = load_sets(rest, client=client, affine=affine)  # rest alone
        return None, rest_volume
    if isinstance(source, (xr.DataArray, np.ndarray, NmImage)):
        return _volume(source, affine), None if rest is None else _volume(rest, affine)  # type: ignore[arg-type]
    if isinstance(source, str) and not Path(source).exists():
        if client is None:
            raise ValueError(f"{source!r} is no file or folder; to open a study by its UID, "
                             "pass client= (an ArchiveClient)")  # fmt: skip
        stress_set, rest_set = pick_sets(read_archive_study(client, source,
                                                            reconstructed_only=True))
    else:
        rest_paths = _paths(rest)
        stress_set, rest_set = pick_sets(
            read_nm_files(_paths(source)),
            rest=read_nm_files(rest_paths) if rest_paths else ())  # fmt: skip
    return (None if stress_set is None else stress_set.data,
            None if rest_set is None else rest_set.data)  # fmt: skip
