"""NPI check digits (Luhn over 80840 + the first nine digits)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.npi import is_valid_npi, luhn_check_digit, npi_problem

# Published examples (CMS check digit guidance) and NPIs of the form used in public test
# data; each valid one with its last digit changed is invalid.
VALID = ["1234567893", "1245319599", "1003000126", "1760571632", "1497758544", "2000000002"]


@pytest.mark.parametrize("npi", VALID)
def test_valid_npis(npi: str) -> None:
    assert is_valid_npi(npi)
    assert npi_problem(npi) is None


@pytest.mark.parametrize("npi", VALID)
def test_a_changed_last_digit_is_caught(npi: str) -> None:
    wrong = npi[:9] + str((int(npi[9]) + 1) % 10)
    problem = npi_problem(wrong)
    assert problem is not None and f"should be {npi[9]}" in problem


@pytest.mark.parametrize("npi, words", [
    ("123456789", "exactly 10 digits"), ("12345678901", "exactly 10 digits"),
    ("12345678a3", "exactly 10 digits"), ("１２３４５６７８９３", "exactly 10 digits"),
    ("3234567893", "start with 1 or 2"), ("", "exactly 10 digits"),
])
def test_malformed_npis_are_named(npi: str, words: str) -> None:
    problem = npi_problem(npi)
    assert problem is not None and words in problem


@given(st.text(alphabet="0123456789", min_size=9, max_size=9).map(lambda s: "1" + s[1:]))
def test_exactly_one_check_digit_completes_any_prefix(prefix: str) -> None:
    completions = [d for d in "0123456789" if is_valid_npi(prefix + d)]
    assert completions == [str(luhn_check_digit("80840" + prefix))]


def test_any_single_digit_typo_is_caught() -> None:
    npi = "1234567893"
    for position in range(10):
        for digit in "0123456789":
            if digit != npi[position]:
                typo = npi[:position] + digit + npi[position + 1:]
                assert not is_valid_npi(typo), typo
