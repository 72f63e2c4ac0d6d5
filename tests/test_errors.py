"""The one error hierarchy: each condition its own public code."""

from __future__ import annotations

import chalicelib.errors as errors
from chalicelib.errors import AppError


def test_every_error_that_names_a_code_names_its_own():
    """A subclass that keeps its parent's code is that condition (a passkey's failed sign-in
    is `invalid_credentials`); one that names a code must not borrow another's, as
    `two_factor_required` once meant both a session owing its second factor (403) and a reset
    sent without it (400)."""
    named: dict[str, list[str]] = {}
    for name, value in vars(errors).items():
        if isinstance(value, type) and issubclass(value, AppError) and "code" in vars(value):
            named.setdefault(value.code, []).append(name)
    shared = {code: names for code, names in named.items() if len(names) > 1}
    assert shared == {}
    assert named["second_factor_missing"] == ["SecondFactorMissing"]
    assert named["invalid_reset_token"] == ["InvalidResetToken"]
    assert "invalid_token" not in named  # RFC 6750's, for a bad bearer token only
