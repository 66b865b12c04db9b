"""Payment methods through a provider interface; card numbers never reach the server.

The browser (or any client) hands the card to the provider, which returns a token; the
archive stores only the token, brand, last four digits and expiry, and asks the provider
whether the method is valid. :class:`PaymentProvider` is the interface;
:class:`TestPaymentProvider` implements it for development and tests with tokens that
encode the card's public facts, the way real providers' test modes behave:

``tok_test_<brand>_<last4>_<MM><YY>``; last four ``0002`` is declined ("card declined"),
``9995`` is declined for insufficient funds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Protocol

BRANDS = {"4": "visa", "5": "mastercard", "3": "amex", "6": "discover"}


@dataclass(frozen=True)
class PaymentMethod:
    """What the archive keeps about a payment method."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class Verdict:
    """The provider's answer: valid, or the reason it is not, in the applicant's words."""

    ok: bool
    reason: str = ""


class PaymentProvider(Protocol):
    """What the archive needs from a payment provider."""

    def describe(self, token: str) -> PaymentMethod:
        """The public facts of a tokenised method (``ValueError`` for an unknown token)."""
        ...

    def validate(self, token: str) -> Verdict:
        """Whether the method can be charged (a zero-amount authorisation)."""
        ...

    def charge(self, token: str, cents: int, reference: str) -> Verdict:
        """Charge ``cents``; ``reference`` makes the charge idempotent."""
        ...


_TEST_TOKEN = re.compile(r"^tok_test_([a-z]+)_(\d{4})_(\d{2})(\d{2})$")
_DECLINES = {"0002": "the card was declined by its bank",
             "9995": "the card was declined: insufficient funds"}


class TestPaymentProvider:
    """A provider that tokenises locally and declines the well-known test numbers."""

    __test__ = False  # not a pytest class

    @staticmethod
    def tokenize(card_number: str, exp_month: int, exp_year: int) -> str:
        """What the provider's browser script returns for a card (runs on the client)."""
        digits = re.sub(r"\D", "", card_number)
        if not 12 <= len(digits) <= 19:
            raise ValueError("a card number has 12 to 19 digits")
        brand = BRANDS.get(digits[0], "card")
        return f"tok_test_{brand}_{digits[-4:]}_{exp_month:02d}{exp_year % 100:02d}"

    def describe(self, token: str) -> PaymentMethod:
        """Parse a test token."""
        match = _TEST_TOKEN.match(token)
        if match is None:
            raise ValueError(f"not a payment token of the test provider: {token[:40]!r}")
        brand, last4, month, year = match.groups()
        return PaymentMethod(token, brand, last4, int(month), 2000 + int(year))

    def validate(self, token: str) -> Verdict:
        """Valid unless unknown, expired or one of the declined test numbers."""
        try:
            method = self.describe(token)
        except ValueError as exc:
            return Verdict(False, str(exc))
        if not 1 <= method.exp_month <= 12:
            return Verdict(False, f"the expiry month {method.exp_month} is not a month")
        today = date.today()
        if (method.exp_year, method.exp_month) < (today.year, today.month):
            return Verdict(False, f"the card expired in {method.exp_month:02d}/"
                                  f"{method.exp_year}")
        if method.last4 in _DECLINES:
            return Verdict(False, _DECLINES[method.last4])
        return Verdict(True)

    def charge(self, token: str, cents: int, reference: str) -> Verdict:
        """Succeeds exactly when :meth:`validate` does."""
        return self.validate(token)
