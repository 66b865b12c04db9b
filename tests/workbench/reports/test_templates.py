"""Templates: the built-in ones validate, bad ones are refused, values are checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.workbench.reports.conftest import MPI_VALUES, REST, STRESS
from workbench.errors import NotFoundError
from workbench.reports import TemplateRegistry, load_template, summed_scores
from workbench.reports.templates import builtin_template_files

MINIMAL = """
id: tiny
version: 1
title: Tiny
code: {scheme: LN, value: 18748-4, meaning: Diagnostic imaging study}
sections:
  - id: findings
    title: Findings
    fields:
"""


def test_builtin_templates_load(registry: TemplateRegistry) -> None:
    ids = {path.stem for path in builtin_template_files()}
    assert ids == {"free-text", "general-radiology", "echocardiography",
                   "nuclear-cardiology-mpi", "addendum"}
    mpi = registry.get("nuclear-cardiology-mpi")
    types = {f.type for f in mpi.fields.values()}
    assert {"text", "number", "choice", "measurement", "key_images", "segment_scores"} <= types
    assert mpi.fields["lvef"].unit == "%"
    assert [t.id for t in registry.selectable()].count("addendum") == 0


@pytest.mark.parametrize("fields,problem", [
    ("      - {id: a, type: number, label: A}", "needs a unit"),
    ("      - {id: a, type: choice, label: A, options: [{scheme: X, value: '1', meaning: one}]}",
     "at least two options"),
    ("      - {id: a, type: text, label: A}\n      - {id: a, type: text, label: B}",
     "repeats field ids"),
    ("      - {id: a, type: colour, label: A}", "type"),
    ("      - {id: A-b, type: text, label: A}", "id"),
    ("      - {id: a, type: text, label: A, extra: 1}", "extra"),
    ("      - {id: a, type: number, label: A, unit: mm, minimum: 5, maximum: 1}", "minimum"),
])
def test_invalid_templates_are_refused(fields: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        load_template(MINIMAL + fields + "\n")


def test_registry_reports_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL + "      - {id: a, type: number, label: A}\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        TemplateRegistry.from_files([*builtin_template_files(), bad])


def test_choice_by_modality_and_preference(registry: TemplateRegistry) -> None:
    assert registry.choose(["NM", "CT"], "Myocardial perfusion").id == "nuclear-cardiology-mpi"
    assert registry.choose(["US"], "TTE echo").id == "echocardiography"
    assert registry.choose(["US"], "Abdomen").id == "general-radiology"
    assert registry.choose(["CT"], "Chest").id == "general-radiology"
    assert registry.choose(["SM"], "").id == "free-text"
    assert registry.choose(["CT"], "", {"*": "free-text"}).id == "free-text"
    assert registry.choose(["CT"], "", {"CT": "echocardiography", "*": "free-text"}).id \
        == "echocardiography"
    assert registry.choose(["CT"], "", {"CT": "addendum"}).id == "general-radiology"
    with pytest.raises(NotFoundError):
        registry.get("nope")


def test_values_are_validated_and_normalised(registry: TemplateRegistry) -> None:
    mpi = registry.get("nuclear-cardiology-mpi")
    values = mpi.validate_values(MPI_VALUES)
    assert values["rest_dose"] == {"value": 370.0, "unit": "MBq"}
    assert values["ischemia"] == {"scheme": "SCT", "value": "6736007", "meaning": "Moderate"}
    scores = values["segment_scores"]
    assert (scores["sss"], scores["srs"], scores["sds"]) == (11, 2, 9)  # input's 99 ignored
    assert mpi.missing_required(values) == []
    assert "Stress" in mpi.missing_required({})
    cases: list[tuple[dict[str, Any], str]] = [
        ({"lvef": 120}, "above 100"), ({"lvef": "high"}, "takes a number"),
        ({"rest_dose": {"value": 10, "unit": "mCi"}}, "in MBq, not mCi"),
        ({"ischemia": "7"}, "not one of"), ({"nonsense": 1}, "no fields"),
        ({"segment_scores": {"stress": [0] * 16}}, "17 values"),
        ({"segment_scores": {"stress": [5] + [0] * 16}}, "integer 0-4"),
        ({"function_measurement": {"value": 3, "unit": "mL", "tracking_uid": "abc"}},
         "DICOM UID"),
        ({"key_images": [{"sop_instance_uid": "1.2", "sop_class_uid": "1.2",
                          "series_uid": "1.3", "frame": 0}]}, "one-based"),
        ({"tid_ratio": float("nan")}, "finite"),
    ]
    for bad, problem in cases:
        with pytest.raises(ValueError, match=problem):
            mpi.validate_values(bad)


def test_summed_scores() -> None:
    assert summed_scores(STRESS, REST) == {"sss": 11, "srs": 2, "sds": 9,
                                           "sss_percent": 16.2, "sds_percent": 13.2}
    assert summed_scores([4] * 17)["sss_percent"] == 100.0
    assert summed_scores([0] * 17)["srs"] is None
