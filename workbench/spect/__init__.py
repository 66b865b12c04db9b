"""Gated myocardial perfusion SPECT: NM loading, LV function, perfusion, phase, phantom.

The pipeline, one module per concept:

* :mod:`~workbench.spect.nm`, :mod:`~workbench.spect.study`: NM TOMO / GATED TOMO /
  RECON TOMO / RECON GATED TOMO images to labelled arrays (:mod:`~workbench.spect.volume`);
* :mod:`~workbench.spect.reorient`: LV centre and long axis (automatic or given);
  :mod:`~workbench.spect.slices`: SA / VLA / HLA reslicing and contours;
* :mod:`~workbench.spect.segmentation`: mid-wall, endocardial and epicardial surfaces and
  valve plane per gate, at constant myocardial volume (:mod:`~workbench.spect.wallfit`);
* :mod:`~workbench.spect.function`: volume curve, EDV, ESV, SV, EF, filling, regional
  motion and thickening; :mod:`~workbench.spect.phase`: phase analysis;
* :mod:`~workbench.spect.polar`, :mod:`~workbench.spect.scores`,
  :mod:`~workbench.spect.normals`: polar maps, 17-segment scores, SSS/SRS/SDS, TID;
* :mod:`~workbench.spect.analysis`: :func:`analyze_gated` and :func:`analyze_study`;
  :mod:`~workbench.spect.report`: JSON and tables;
* :mod:`workbench.spect.phantom`: the seeded digital phantom that writes real DICOM.

Examples
--------
>>> from workbench.spect import analyze_gated, make_volume
>>> from workbench.spect.phantom import PhantomSpec, make_phantom
>>> ph = make_phantom(PhantomSpec(seed=1))
>>> result = analyze_gated(make_volume(ph.counts, ph.affine))
>>> abs(result.curve.ef_pct - ph.truth.ef_pct) < 5
True
"""

from workbench.spect.aha import SEGMENT_NAMES, TERRITORIES, segment_of
from workbench.spect.analysis import LvAnalysis, StudyAnalysis, analyze_gated, analyze_study
from workbench.spect.nm import NmImage, frame_table, load_nm
from workbench.spect.normals import default_normal_limits
from workbench.spect.polar import PolarMap
from workbench.spect.reorient import LongAxis, estimate_long_axis
from workbench.spect.report import segment_table, study_to_dict, volume_table
from workbench.spect.scores import NormalLimits, limits_from_maps
from workbench.spect.slices import reslice, surface_points
from workbench.spect.study import analyze_files, pick_sets, read_nm_files
from workbench.spect.volume import make_volume

__all__ = [
    "SEGMENT_NAMES", "TERRITORIES", "LongAxis", "LvAnalysis", "NmImage", "NormalLimits",
    "PolarMap", "StudyAnalysis", "analyze_files", "analyze_gated", "analyze_study",
    "default_normal_limits",
    "estimate_long_axis", "frame_table", "limits_from_maps", "load_nm", "make_volume",
    "pick_sets", "read_nm_files", "reslice", "segment_of", "segment_table", "study_to_dict",
    "surface_points", "volume_table",
]  # fmt: skip
