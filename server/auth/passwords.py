"""Passwords: argon2id hashes (argon2-cffi defaults), and what a password must be."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
_HASHER = PasswordHasher()
# A hash of a random password: verifying against it when the e-mail is unknown costs the
# same time as a real check, so timing does not tell which addresses have accounts.
_DUMMY = _HASHER.hash("not a password anyone has 8f1c")


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < MIN_LENGTH:
        return f"the password must have at least {MIN_LENGTH} characters"
    if len(password) > 1024:
        return "the password must have at most 1024 characters"
    return None


def hash_password(password: str) -> str:
    """The argon2id hash to store."""
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash`` (an empty hash never matches)."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY, password) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False
