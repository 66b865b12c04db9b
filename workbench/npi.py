"""National Provider Identifier (NPI) check digits.

An NPI is ten digits; the last is a Luhn check digit computed over the card issuer
prefix ``80840`` followed by the first nine digits (CMS, "Requirements for NPI check
digit"). A failed check almost always means a typo.
"""

from __future__ import annotations

PREFIX = "80840"


def luhn_check_digit(digits: str) -> int:
    """The Luhn check digit that completes ``digits``.

    Parameters
    ----------
    digits
        Decimal digits, without the check digit.

    Examples
    --------
    >>> luhn_check_digit("80840123456789")
    3
    """
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 0:  # doubled: every second digit from the right, check excluded
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return (10 - total % 10) % 10


def npi_problem(npi: str) -> str | None:
    """What is wrong with an NPI, in words the applicant can act on; None when valid.

    Examples
    --------
    >>> npi_problem("1234567893") is None
    True
    >>> npi_problem("1234567890")
    'NPI 1234567890 fails its check digit: the last digit should be 3 (a typo?)'
    """
    if len(npi) != 10 or not npi.isascii() or not npi.isdigit():
        return f"NPI must be exactly 10 digits; got {npi!r}"
    if npi[0] not in "12":
        return f"NPI {npi} must start with 1 or 2"
    expected = luhn_check_digit(PREFIX + npi[:9])
    if int(npi[9]) != expected:
        return f"NPI {npi} fails its check digit: the last digit should be {expected} (a typo?)"
    return None


def is_valid_npi(npi: str) -> bool:
    """Whether ``npi`` is ten digits with a correct check digit."""
    return npi_problem(npi) is None
