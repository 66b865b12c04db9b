"""Gated SPECT results as values of the nuclear cardiology report template.

:func:`report_values` maps a :class:`~workbench.spect.analysis.StudyAnalysis` to the
fields of the ``nuclear-cardiology-mpi`` template (``workbench/reports/data``) that an
analysis measures, in the template's normal form (:meth:`Template.validate_values
<workbench.reports.templates.Template.validate_values>`):

=================== ===================================================================
field               value
=================== ===================================================================
``segment_scores``  the 17 stress (and rest) scores 0-4; SSS, SRS, SDS follow
``tid_ratio``       TID (needs both sets), 2 decimals
``lvef``            LVEF of the gated stress set (the template asks post-stress), %
``edv``, ``esv``    EDV and ESV of that set, mL
=================== ===================================================================

Only a gated stress set gives ``lvef``/``edv``/``esv`` (a rest-only study leaves them to
the reader, since the field says post-stress); a study without a stress set has no score
grid (the template's grid needs stress scores). Interpretive fields (wall motion, the
impression, ischaemia, risk) are the physician's and are never filled;
:func:`findings_text` writes the scores as a sentence that the caller may offer for the
free-text perfusion findings.
"""

from __future__ import annotations

from typing import Any

from workbench.reports.registry import builtin_templates
from workbench.reports.templates import Template
from workbench.spect.aha import SEGMENT_NAMES, SEGMENTS
from workbench.spect.analysis import StudyAnalysis

__all__ = ["MPI_TEMPLATE", "MEASURED_FIELDS", "findings_text", "report_values"]

MPI_TEMPLATE = "nuclear-cardiology-mpi"
"""The template the Gated SPECT results go into."""
MEASURED_FIELDS = ("segment_scores", "tid_ratio", "lvef", "edv", "esv")
"""Fields :func:`report_values` may fill (whatever the analysis has a value for)."""


def _template(template: Template | None) -> Template:
    found = template or builtin_templates().get(MPI_TEMPLATE)
    if found.id != MPI_TEMPLATE:
        raise ValueError(f"Gated SPECT results fill the {MPI_TEMPLATE!r} template, "
                         f"not {found.id!r}")  # fmt: skip
    return found


def _number(template: Template, field: str, value: float) -> dict[str, Any]:
    spec = template.fields[field]
    decimals = spec.decimals if spec.decimals is not None else 2
    return {"value": round(float(value), decimals), "unit": spec.unit}


def report_values(study: StudyAnalysis, template: Template | None = None) -> dict[str, Any]:
    """The template fields the analysis measures (module docstring), in normal form.

    Parameters
    ----------
    study
        The analysis (as shown, i.e. with the reader's axis and valve-plane corrections).
    template
        The ``nuclear-cardiology-mpi`` template to check against (the archive's copy);
        None: the built-in one.

    Returns
    -------
    dict
        Field id to value, only for fields with a value; ready for the report API.

    Raises
    ------
    ValueError
        `template` is another template, or a value it refuses (out of range, e.g. a TID
        above 5); the message names the field.

    Examples
    --------
    >>> from workbench.spect.phantom import PhantomSpec, make_phantom
    >>> from workbench.spect.analysis import analyze_study
    >>> from workbench.spect.volume import make_volume
    >>> ph = make_phantom(PhantomSpec(matrix=32, counts_per_ml=None, oversample=2, liver=0.0))
    >>> values = report_values(analyze_study(make_volume(ph.counts, ph.affine)))
    >>> sorted(values), values["lvef"]["unit"], len(values["segment_scores"]["stress"])
    (['edv', 'esv', 'lvef', 'segment_scores'], '%', 17)
    """
    form = _template(template)
    values: dict[str, Any] = {}
    if study.stress_scores is not None:
        rest = None if study.rest_scores is None else list(study.rest_scores.scores)
        values["segment_scores"] = {"stress": list(study.stress_scores.scores), "rest": rest}
    if study.tid is not None:
        values["tid_ratio"] = _number(form, "tid_ratio", study.tid)
    curve = None if study.stress is None else study.stress.curve
    if curve is not None:
        values["lvef"] = _number(form, "lvef", curve.ef_pct)
        values["edv"] = _number(form, "edv", curve.edv_ml)
        values["esv"] = _number(form, "esv", curve.esv_ml)
    return form.validate_values(values)


def _listed(scores: tuple[int, ...], at_least: int) -> str:
    picked = [f"{SEGMENT_NAMES[s]} ({v})" for s, v in zip(SEGMENTS, scores, strict=True)
              if v >= at_least]  # fmt: skip
    return ", ".join(picked) if picked else "none"


def findings_text(study: StudyAnalysis) -> str:
    """The scores in words (segments scored 2 or more at stress and rest, segments with a
    difference score), for the free-text perfusion findings; ``""`` without stress scores.

    The text states measurements only (segment names and scores, SSS/SRS/SDS, ischaemic
    extent); whether they mean ischaemia or scar is left to the physician.
    """
    if study.stress_scores is None:
        return ""
    parts = [f"Automated scores (Gated SPECT, normal limits: {study.normals_source}): "
             f"SSS {study.sss}"]  # fmt: skip
    if study.srs is not None:
        parts[0] += f", SRS {study.srs}, SDS {study.sds}"
    parts.append(f"stress segments scored 2 or more: {_listed(study.stress_scores.scores, 2)}")
    if study.rest_scores is not None:
        parts.append(f"rest segments scored 2 or more: {_listed(study.rest_scores.scores, 2)}")
    if study.difference_scores is not None:
        parts.append(f"segments with a difference score: {_listed(study.difference_scores, 1)}")
    if study.ischemic_extent_pct is not None:
        parts.append(f"ischaemic extent {study.ischemic_extent_pct:.0f} % of the LV")
    return "; ".join(parts) + "."
