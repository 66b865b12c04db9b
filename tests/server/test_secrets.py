"""Secrets the archive issues (tokens, session keys) are safe to pass on a command line."""

from __future__ import annotations

from server.auth.tokens import hash_token, new_secret


def test_secrets_never_begin_with_a_dash_and_do_not_repeat() -> None:
    drawn = [new_secret() for _ in range(3000)]   # ~47 would begin with "-" by chance
    assert not any(s.startswith("-") for s in drawn)
    assert len(set(drawn)) == len(drawn)
    assert all(len(s) == 43 for s in drawn)       # 256 bits, URL-safe base64
    assert any(s.startswith("_") for s in drawn)  # the rest of the alphabet stays
    assert len(hash_token(drawn[0])) == 64
