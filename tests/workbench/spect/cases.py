"""Phantom specifications shared by the Gated SPECT tests."""

from __future__ import annotations

from workbench.spect.phantom import Defect, PhantomSpec

SMALL = PhantomSpec(matrix=32, n_gates=8, counts_per_ml=None, oversample=2, liver=0.0)
"""A 32^3 noiseless phantom for loader and format tests (the heart fits, the body is cut)."""

PAIR_DEFECTS = (
    Defect((7, 8, 13, 14, 17), 0.45, reversible=True),  # LAD
    Defect((4, 10, 15), 0.40, reversible=False),  # RCA
    Defect((5, 11), 0.20, reversible=True),  # faint LCx
)
