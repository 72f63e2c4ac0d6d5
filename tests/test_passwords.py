from dataclasses import replace

import pytest

from chalicelib.config import Settings
from chalicelib.errors import InvalidPassword, WeakPassword
from chalicelib.passwords import (
    COMMON_PASSWORDS_FILE,
    PasswordHasher,
    check_password_policy,
    common_passwords,
)
from devtools.common_passwords import render
from tests.conftest import FAST_ARGON2
from tests.helpers import PASSWORD


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(replace(Settings(), **FAST_ARGON2))


@pytest.mark.parametrize("password", ["a" * 8, "a" * 256, "пароль-🔑-密码", " " * 8])
def test_policy_accepts_8_to_256_characters_of_any_unicode(password):
    check_password_policy(password)


def test_the_common_password_file_is_zxcvbns_top_10000_unedited():
    assert COMMON_PASSWORDS_FILE.read_text(encoding="utf-8") == render()
    assert len(common_passwords()) == 10_000
    assert common_passwords() is common_passwords()  # built once per container


@pytest.mark.parametrize("password", ["password", "baseball", "PASSWORD", "Qwertyuiop", "1q2w3e4r"])
def test_policy_rejects_common_passwords_in_any_case(password):
    with pytest.raises(WeakPassword):
        check_password_policy(password)


@pytest.mark.parametrize(
    "password",
    ["", "a" * 7, "🔑" * 7, "a" * 257, "long enough\x00", "tab\tinside it", "esc\x1b[31m!"],
)
def test_policy_rejects_shorter_than_8_or_longer_than_256(password):
    with pytest.raises(InvalidPassword):
        check_password_policy(password)


def test_hash_is_argon2id_with_the_configured_parameters():
    hasher = PasswordHasher(Settings())
    encoded = hasher.hash(PASSWORD)
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in encoded


def test_verify_accepts_the_password_and_rejects_others(hasher):
    encoded = hasher.hash(PASSWORD)
    assert hasher.verify(encoded, PASSWORD) == (True, None)
    assert hasher.verify(encoded, "correct horse batterY") == (False, None)
    assert hasher.verify("not a hash", PASSWORD) == (False, None)


def test_passwords_are_never_truncated(hasher):
    long_password = "x" * 255 + "1"
    encoded = hasher.hash(long_password)
    assert hasher.verify(encoded, "x" * 255 + "2") == (False, None)
    assert hasher.verify(encoded, long_password)[0] is True


def test_verify_returns_a_new_hash_when_parameters_changed(hasher):
    old = PasswordHasher(replace(Settings(), argon2_memory_kib=2048, argon2_time_cost=1))
    encoded = old.hash(PASSWORD)
    ok, new_hash = hasher.verify(encoded, PASSWORD)
    assert ok is True
    assert new_hash is not None
    assert new_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert hasher.verify(new_hash, PASSWORD) == (True, None)


def test_wrong_password_against_an_outdated_hash_gives_no_new_hash(hasher):
    old = PasswordHasher(replace(Settings(), argon2_memory_kib=2048))
    assert hasher.verify(old.hash(PASSWORD), "wrong") == (False, None)
