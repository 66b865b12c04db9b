"""Phantoms shared by the Gated SPECT tests: rendered once per session, small where possible.

Accuracy tests use the default 64^3 x 8-gate phantom at 6.4 mm (the issue's geometry):
smaller grids would cut the heart. Loader and unit tests use 32^3 grids.
"""

from __future__ import annotations

import pytest

from tests.workbench.spect.cases import PAIR_DEFECTS, SMALL
from workbench.spect.analysis import LvAnalysis, StudyAnalysis, analyze_gated, analyze_study
from workbench.spect.phantom import (
    Dyssynchrony,
    Phantom,
    PhantomSpec,
    make_phantom,
    stress_rest_specs,
)
from workbench.spect.volume import make_volume


@pytest.fixture(scope="session")
def small_phantom() -> Phantom:
    return make_phantom(SMALL)


@pytest.fixture(scope="session")
def normal_phantom() -> Phantom:
    return make_phantom(PhantomSpec(fwhm_mm=12.0, seed=3))


@pytest.fixture(scope="session")
def normal_result(normal_phantom: Phantom) -> LvAnalysis:
    ph = normal_phantom
    return analyze_gated(make_volume(ph.counts, ph.affine, attrs={"rr_interval_ms": 1000.0}))


@pytest.fixture(scope="session")
def pair_phantoms() -> tuple[Phantom, Phantom]:
    stress, rest = stress_rest_specs(PhantomSpec(defects=PAIR_DEFECTS, variation_seed=5,
                                                 seed=2), tid=1.25)  # fmt: skip
    return make_phantom(stress), make_phantom(rest)


@pytest.fixture(scope="session")
def pair_result(pair_phantoms: tuple[Phantom, Phantom]) -> StudyAnalysis:
    stress, rest = pair_phantoms
    return analyze_study(make_volume(stress.counts, stress.affine),
                         make_volume(rest.counts, rest.affine))  # fmt: skip


@pytest.fixture(scope="session")
def dyssynchronous() -> tuple[Phantom, LvAnalysis]:
    ph = make_phantom(PhantomSpec(edv_ml=160, esv_ml=95, seed=4,
                                  dyssynchrony=(Dyssynchrony(270.0, 180.0, 0.2),)))  # fmt: skip
    return ph, analyze_gated(make_volume(ph.counts, ph.affine))
