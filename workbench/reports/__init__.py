"""Reports: model and lifecycle, templates, e-signature, exports and distribution.

- :mod:`~workbench.reports.model`: :class:`Report` and its versions (draft ->
  preliminary -> final, then addenda and amendments; every version kept).
- :mod:`~workbench.reports.templates` and :mod:`~workbench.reports.registry`: templates
  as validated YAML data with typed fields, chosen by modality and preference;
  :mod:`~workbench.reports.scores` computes the 17-segment SSS/SRS/SDS.
- :mod:`~workbench.reports.signing` (Ed25519 over canonical content,
  :mod:`~workbench.reports.canonical`) and :mod:`~workbench.reports.keys` (keys sealed
  under master keys, rotation).
- Exports: :mod:`~workbench.reports.pdf`, :mod:`~workbench.reports.dicom_export`
  (Encapsulated PDF, Comprehensive SR), :mod:`~workbench.reports.fhir`
  (DiagnosticReport).
- :mod:`~workbench.reports.delivery`: SMTP e-mail and fax gateway channels.
- :mod:`~workbench.reports.speech`: speech engines (PocketSphinx offline).
- :mod:`~workbench.reports.sources`: measurements (SR) and key images (KOS) of a study.

This package imports no web framework, database or UI. PDF, DICOM and speech modules
need their optional packages (fpdf2, highdicom, pocketsphinx) only when imported.
"""

from __future__ import annotations

from workbench.reports.canonical import GENESIS, canonical_bytes, sha256_hex
from workbench.reports.model import (
    Content,
    Report,
    ReportStatus,
    Subject,
    Version,
    VersionKind,
    VersionState,
    utc_now,
)
from workbench.reports.registry import FREE_TEXT, TemplateRegistry, builtin_templates
from workbench.reports.scores import SEGMENTS, SegmentScores, summed_scores
from workbench.reports.templates import Code, Section, Template, TemplateField, load_template

__all__ = [
    "FREE_TEXT", "GENESIS", "SEGMENTS", "Code", "Content", "Report", "ReportStatus",
    "Section", "SegmentScores", "Subject", "Template", "TemplateField", "TemplateRegistry",
    "Version", "VersionKind", "VersionState", "builtin_templates", "canonical_bytes",
    "load_template", "sha256_hex", "summed_scores", "utc_now",
]  # fmt: skip
