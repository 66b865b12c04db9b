"""Shared pieces of the report library tests: templates, a physician's key, reports."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from workbench.reports import Content, Report, Subject, TemplateRegistry, builtin_templates
from workbench.reports.keys import new_signing_key
from workbench.reports.signing import Signer, sign_pending

SUBJECT = Subject("1.2.826.0.1.3680043.8.498.1", "P-0001", "Doe^Jane", "HOSP", "19600102", "F",
                  "ACC42", "20260105", "Myocardial perfusion stress/rest", ("NM", "CT"),
                  "Referrer^Robert")
SIGNER = Signer("Dr Alice Reader", "1234567893")
T0 = "2026-01-05T10:00:00.000000Z"
STRESS = [0, 0, 2, 3, 1, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0, 0]
REST = [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
MPI_VALUES = {
    "indication": "Chest pain on exertion", "protocol": "mpi-1day-rest-stress",
    "stress_type": "stress-regadenoson", "radiopharmaceutical": "rp-tc99m-tetrofosmin",
    "rest_dose": 370, "stress_dose": {"value": 1110, "unit": "MBq"},
    "segment_scores": {"stress": STRESS, "rest": REST, "sss": 99},
    "tid_ratio": 1.08, "lvef": 58, "edv": 92, "esv": 39,
    "perfusion_result": "263654008", "ischemia": "6736007",
    "impression": "Moderate reversible inferior ischaemia (RCA territory).",
}


@pytest.fixture(scope="session")
def registry() -> TemplateRegistry:
    return builtin_templates()


@pytest.fixture(scope="session")
def key() -> tuple[Ed25519PrivateKey, str, bytes]:
    return new_signing_key()


def free_text(registry: TemplateRegistry, findings: str = "Lungs are clear.",
              impression: str = "No acute findings.") -> Content:
    return Content.of(registry.get("free-text"), {"findings": findings, "impression": impression})


def signed_report(registry: TemplateRegistry, key: Ed25519PrivateKey) -> Report:
    """A signed MPI report with one signed addendum."""
    template = registry.get("nuclear-cardiology-mpi")
    report = Report.create("a" * 32, SUBJECT, Content.of(template, MPI_VALUES), "Dr Alice", T0)
    report = sign_pending(report, SIGNER, key, template=template)
    addendum = Content.of(registry.get("addendum"), {"text": "Prior study from 2024 reviewed."})
    return sign_pending(report.add_addendum(addendum, "Dr Alice"), SIGNER, key)
