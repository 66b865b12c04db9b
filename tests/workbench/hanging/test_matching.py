"""Protocol matching and scoring, series selection, validation: table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.hanging import (
    HangingProtocol,
    StudyInfo,
    best_protocol,
    default_protocols,
    hang,
    parse_protocol,
    score,
)
from workbench.hanging.study import SeriesInfo


def study(modalities: list[str], description: str = "", body: str = "",
          series: list[dict[str, Any]] | None = None, date: str = "20260101") -> StudyInfo:
    infos = tuple(SeriesInfo({k: v if isinstance(v, list) else [v] for k, v in s.items()})
                  for s in (series or []))
    return StudyInfo({"StudyInstanceUID": [f"1.2.{date}.{len(infos)}"],
                      "ModalitiesInStudy": modalities, "StudyDescription": [description],
                      "BodyPartExamined": [body] if body else [], "StudyDate": [date],
                      "PatientID": ["P1"], "IssuerOfPatientID": [""]}, infos)


CASES = [
    (study(["CT"], "CT THORAX W/O", "CHEST"), "CT chest with prior"),
    (study(["CT", "SR"], "Chest CT"), "CT chest with prior"),
    (study(["MR"], "MRI BRAIN", "HEAD"), "MR brain"),
    (study(["MG"], "SCREENING MAMMO"), "Mammography 4-up with priors"),
    (study(["DX"], "XR CHEST 2V", "CHEST"), "Chest X-ray with prior"),
    (study(["US"], "TTE ECHO COMPLETE"), "Echocardiography"),
    (study(["XA"], "CORONARY ANGIO"), "X-ray angiography"),
    (study(["NM"], "MYOCARDIAL PERFUSION SPECT"), "NM gated SPECT"),
    (study(["OT"], "SCANNED FORM"), None),
    (study(["DX"], "XR KNEE", "KNEE"), None),  # required CHEST body part fails
]


@pytest.mark.parametrize("info, expected", CASES)
def test_default_protocols_match_their_studies(info: StudyInfo, expected: str | None) -> None:
    match = best_protocol(default_protocols(), info)
    assert (match.protocol.name if match else None) == expected


def test_scores_add_weights_and_required_rules_exclude() -> None:
    protocol = parse_protocol("""
name: t
rules:
  - {attribute: ModalitiesInStudy, value: CT, required: true, weight: 1}
  - {attribute: StudyDescription, operator: icontains, value: chest, weight: 2.5}
  - {attribute: StudyDate, operator: range, value: ["20250101", "20251231"], weight: 4}
  - {attribute: SeriesDescription, operator: startsWith, value: LUNG, weight: 8}
series: [{name: s}]
stages: [{name: one, viewports: [{series: s}]}]
""")
    plain = study(["CT"], "Chest", date="20260101")
    assert score(protocol, plain) == 3.5
    dated = study(["CT"], "Chest", date="20250601",
                  series=[{"SeriesDescription": "LUNG 1mm", "Modality": "CT"}])
    assert score(protocol, dated) == 15.5
    assert score(protocol, study(["MR"], "Chest")) is None


def test_user_protocols_first_win_ties() -> None:
    mine = default_protocols()[0].model_copy(update={"name": "my chest"})
    match = best_protocol([mine, *default_protocols()], study(["CT"], "CHEST", "CHEST"))
    assert match is not None and match.protocol.name == "my chest"


def test_series_selection_and_priors_bind_viewports() -> None:
    current = study(["MR"], "MRI BRAIN", "HEAD", series=[
        {"SeriesDescription": "AX FLAIR", "Modality": "MR", "SeriesInstanceUID": "f"},
        {"SeriesDescription": "SAG T1", "Modality": "MR", "SeriesInstanceUID": "t1"},
        {"SeriesDescription": "AX T2", "Modality": "MR", "SeriesInstanceUID": "t2"},
    ])
    prior = study(["MR"], "MRI BRAIN", "HEAD", date="20240101", series=[
        {"SeriesDescription": "T2 TSE", "Modality": "MR", "SeriesInstanceUID": "p2"}])
    protocol = next(p for p in default_protocols() if p.name == "MR brain")
    hung = hang(protocol, current, [prior])
    assert {k: v.uid if v else None for k, v in hung.series.items()} == {
        "t1": "t1", "t2": "t2", "flair": "f", "prior": "p2"}
    assert hang(protocol, current, []).series["prior"] is None


@pytest.mark.parametrize("text, words", [
    ("name: x\nseries: [{name: s}]\nstages: [{name: a, viewports: [{series: nope}]}]",
     "no series selector named 'nope'"),
    ("name: x\nseries: [{name: s}]\nstages: [{name: a, rows: 1, columns: 1, viewports: "
     "[{series: s}, {series: s}]}]", "do not fit"),
    ("name: x\nrules: [{attribute: Modality, operator: range, value: 3}]\nseries: [{name: s}]\n"
     "stages: [{name: a, viewports: [{series: s}]}]", "range needs"),
    ("name: x\nseries: [{name: s, study: prior}]\nstages: [{name: a, viewports: "
     "[{series: s}]}]", "priors=0"),
    ("name: x\nseries: [{name: s}]\nstages: [{name: a, viewports: [{series: s}], "
     "sync: [{kind: scroll, viewports: [0, 3]}]}]", "do not exist"),
    ("name: x\nunknown: 1\nseries: [{name: s}]\nstages: [{name: a, viewports: [{series: s}]}]",
     "unknown"),
    ("[: not yaml", "not valid YAML"),
])
def test_invalid_protocols_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_protocol(text)


def test_round_trip_through_json() -> None:
    for protocol in default_protocols():
        again = parse_protocol(protocol.model_dump_json())
        assert again == protocol
        assert isinstance(again, HangingProtocol)
