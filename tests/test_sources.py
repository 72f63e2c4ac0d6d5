"""`--from SYSTEM` adapters (devtools.sources): each reads a sample export in its system's
documented shape (tests/data/sources) into exactly our import format's records, rejects its bad
records with a reason that never quotes a hash, and turns hostile input into rejections."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.password_formats import FORMATS
from devtools.sources import SYSTEMS, SourceError, SourceLine, options_of, read
from devtools.sources._common import Reject, flag, issuers, seconds

DATA = Path(__file__).parent / "data" / "sources"
GOOGLE = "https://accounts.google.com"
GITHUB = "https://github.com"


def record(source_id: str, email: str, **fields: object) -> dict:
    """Our import format's record with every key, as the adapters write it."""
    return {
        "email": email,
        "email_verified": False,
        "created_at": None,
        "password": None,
        "totp_secret": None,
        "identities": [],
        "passkeys": [],
        "roles": [],
        "source_id": source_id,
    } | fields


def hashed(format: str, value: str, **params: object) -> dict:
    return {"format": format, "hash": value, "params": params}


def ok(number: int, expected: dict) -> SourceLine:
    return SourceLine(number, expected, None)


def rejected(number: int, reason: str) -> SourceLine:
    return SourceLine(number, None, reason)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


# -- the interface -------------------------------------------------------------------------


def test_each_system_names_its_options() -> None:
    assert SYSTEMS == (
        "auth0",
        "firebase",
        "supabase",
        "clerk",
        "cognito",
        "django",
        "lucia",
        "better-auth",
    )
    assert options_of("firebase")[:4] == ("signer_key", "salt_separator", "rounds", "mem_cost")
    assert options_of("clerk") == ()
    assert options_of("django") == ("superuser_role", "model")
    assert options_of("lucia") == ("version", "issuers")


def test_an_unknown_system_or_option_is_refused_before_reading(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="unknown source system 'okta'"):
        read("okta", tmp_path / "users.json", {})
    with pytest.raises(SourceError, match="auth0 takes no option rounds"):
        read("auth0", tmp_path / "users.json", {"rounds": "8"})


def test_a_missing_file_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read"):
        read("auth0", tmp_path / "absent.json", {"issuers": None})  # None: not given


# -- shared field rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        ("2019-12-06T18:36:12.412Z", "auto", 1575657372),  # Auth0
        ("2024-01-17 12:00:00.5+00", "auto", 1705492800),  # psql's text form of timestamptz
        ("2023-06-01T09:30:00", "auto", 1685611800),  # Django, USE_TZ = False: taken as UTC
        ("1704067200000", "ms", 1704067200),  # Firebase's createdAt
        (1706868000.5, "s", 1706868000),  # Cognito through CLI v1 or the raw API
        (1740909600000, "auto", 1740909600),  # Better Auth on SQLite: milliseconds
        ({"$date": "2019-12-06T18:36:12.412Z"}, "auto", 1575657372),  # MongoDB extended JSON
        (None, "auto", None),
        ("", "auto", None),
    ],
)
def test_dates_become_seconds(value: object, unit: str, expected: int | None) -> None:
    assert seconds(value, "created_at", unit=unit) == expected


@pytest.mark.parametrize(
    "value", ["yesterday", True, -1, 1e300, "9" * 30, {"$date": []}, [2024], "2024-13-01"]
)
def test_what_is_not_a_date_is_rejected(value: object) -> None:
    with pytest.raises(Reject, match="created_at is"):
        seconds(value, "created_at")


def test_flags_read_json_sqlite_and_text_exports() -> None:
    assert [flag(v, "f") for v in (True, 1, "true", "t", "TRUE", None, False, 0, "f", "")] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    for value in (2, "maybe", [], {}):
        with pytest.raises(Reject, match="f is not true or false"):
            flag(value, "f")


def test_issuers_extend_and_replace_the_defaults() -> None:
    mapping = issuers(
        {"github": GITHUB}, "github=https://github.example.com/, oidc.acme=https://id.acme.io"
    )
    assert mapping == {"github": "https://github.example.com", "oidc.acme": "https://id.acme.io"}
    for bad in ("github", "=https://x.io", "github=http://github.com", "x=https://a.io?q=1"):
        with pytest.raises(SourceError, match="--issuers"):
            issuers({}, bad)


# -- Auth0 ---------------------------------------------------------------------------------

BCRYPT_2B = "$2b$10$kvJHeq0TT02PRPzzVWjGJeYc/.801b4Q57voXAwpuI5OMrcxmSV56"
BCRYPT_2A = "$2a$10$Dxv5R0auWDoCkWd/YNl97ecv3DYd1sq3MtgYKQ0DSs4jPRudiV.ee"
AUTH0_SHA256 = "aeb3788525676b801353cca5e790c0703d52b6ed9297959b4094c505a30eb414"
AUTH0_PBKDF2 = (
    "$pbkdf2-sha256$i=10000,l=32$7zUIak1Co5BNN12FMghidQ$VLlQLOdtf+sAWaJPOyDE182aVv9i8Lg1u110nDUf1Kg"
)
AUTH0_EXPORT = [
    ok(
        1,
        record(
            "auth0|64b0c1f2a3b4c5d6e7f80911",
            "ann@example.com",
            email_verified=True,
            created_at=1689327000,
            password=hashed("bcrypt", BCRYPT_2B),
        ),
    ),
    ok(
        2,
        record(
            "google-oauth2|109876543210987654321",
            "ben@gmail.com",
            email_verified=True,
            created_at=1690891200,
            identities=[{"issuer": GOOGLE, "subject": "109876543210987654321"}],
        ),
    ),
    ok(
        3,
        record(
            "auth0|64b0c1f2a3b4c5d6e7f80922",
            "cleo@example.com",
            created_at=1693642530,
            password=hashed(
                "sha256",
                AUTH0_SHA256,
                salt="pepper-pot",
                salt_position="prefix",
                salt_encoding="utf8",
                hash_encoding="hex",
            ),
        ),
    ),
    ok(
        4,
        record(
            "auth0|64b0c1f2a3b4c5d6e7f80933",
            "dev@example.com",
            email_verified=True,
            created_at=1696932610,
            password=hashed("pbkdf2", AUTH0_PBKDF2),
        ),
    ),
    # the auth0 identity is the password; windowslive's id is not Microsoft's OIDC subject
    ok(
        5,
        record(
            "auth0|5dea9f9c82dd7c0e76e4ec93",
            "eve@example.com",
            email_verified=True,
            created_at=1575657372,
            identities=[{"issuer": GITHUB, "subject": "1234567"}],
        ),
    ),
    rejected(7, "no email"),  # line 6 is blank
    rejected(8, "Auth0 password algorithm 'md4' is not supported"),
    rejected(9, "blocked in Auth0: not imported, as it would be allowed in again"),
    rejected(10, "not JSON (Expecting value, column 1)"),
]


def test_auth0_bulk_export_with_custom_password_hashes() -> None:
    assert list(read("auth0", DATA / "auth0-export.ndjson", {})) == AUTH0_EXPORT


def test_auth0_support_export_adds_the_hashes_by_user_id() -> None:
    lines = list(
        read(
            "auth0",
            DATA / "auth0-export.ndjson",
            {"passwords": str(DATA / "auth0-passwords.ndjson")},
        )
    )
    eve = AUTH0_EXPORT[4].record | {"password": hashed("bcrypt", BCRYPT_2B)}
    assert lines == [*AUTH0_EXPORT[:4], ok(5, eve), *AUTH0_EXPORT[5:]]


def test_auth0_support_export_read_alone() -> None:
    assert list(read("auth0", DATA / "auth0-passwords.ndjson", {})) == [
        ok(
            1,
            record(
                "auth0|5dea9f9c82dd7c0e76e4ec93",
                "eve@example.com",
                email_verified=True,
                password=hashed("bcrypt", BCRYPT_2B),
            ),
        ),
        # alt_id names the user; the email is only in identifiers
        ok(2, record("auth0|euclid", "fay@example.com", password=hashed("bcrypt", BCRYPT_2A))),
        rejected(3, "no email"),
    ]


def test_auth0_reads_a_json_array_and_the_import_schemas_fields(tmp_path: Path) -> None:
    users = """[
      {"user_id": "auth0|a1", "email": "a@x.io", "password_hash": "@BCRYPT@"},
      {"user_id": "github|77", "email": "b@x.io"},
      {"user_id": "auth0|c3", "email": "c@x.io", "custom_password_hash": {"algorithm": "md5",
       "hash": {"value": "q83vEjRWYeQ=", "encoding": "base64"},
       "salt": {"value": "c2FsdA==", "encoding": "base64", "position": "suffix"}}},
      {"user_id": "auth0|d4", "email": "d@x.io", "custom_password_hash": {"algorithm": "sha1",
       "hash": {"value": "ab"}, "password": {"encoding": "utf16le"}}},
      {"user_id": "auth0|e5", "email": "e@x.io", "custom_password_hash": {"algorithm": "sha1",
       "hash": {"value": "ab", "encoding": "utf8"}}},
      {"user_id": "auth0|f6", "email": "f@x.io", "custom_password_hash": {"algorithm": "scrypt",
       "hash": {"value": "c2VjcmV0LWhhc2g=", "encoding": "base64"}}}
    ]""".replace("@BCRYPT@", BCRYPT_2A)
    path = write(tmp_path, "users.json", users)
    assert list(read("auth0", path, {})) == [
        ok(1, record("auth0|a1", "a@x.io", password=hashed("bcrypt", BCRYPT_2A))),
        ok(2, record("github|77", "b@x.io", identities=[{"issuer": GITHUB, "subject": "77"}])),
        ok(
            3,
            record(
                "auth0|c3",
                "c@x.io",
                password=hashed(
                    "md5",
                    "q83vEjRWYeQ=",
                    salt="c2FsdA==",
                    salt_position="suffix",
                    salt_encoding="base64",
                    hash_encoding="base64",
                ),
            ),
        ),
        rejected(4, "Auth0 password encoding 'utf16le' is not supported"),
        rejected(5, "Auth0 hash encoding 'utf8' is not supported (one of hex, base64)"),
        rejected(6, "Auth0 password algorithm 'scrypt' is not supported"),
    ]


def test_auth0_issuers_option_maps_more_connections() -> None:
    lines = list(
        read(
            "auth0", DATA / "auth0-export.ndjson", {"issuers": "windowslive=https://login.live.com"}
        )
    )
    assert lines[4].record["identities"] == [
        {"issuer": GITHUB, "subject": "1234567"},
        {"issuer": "https://login.live.com", "subject": "3f1a2b3c4d5e6f70"},
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "neither JSON Lines nor a JSON array"),
        ("user_id,email\n", "neither JSON Lines nor a JSON array"),
        ("[1, 2", "is not JSON"),
        (b"\xff\xfe[]", "neither JSON Lines nor a JSON array"),
    ],
)
def test_auth0_garbage_file_is_a_source_error(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    with pytest.raises(SourceError, match=message):
        read("auth0", write(tmp_path, "users.json", content), {})


# -- Firebase ------------------------------------------------------------------------------

# The published vector of Firebase's modified scrypt (github.com/firebase/scrypt), password
# "user1password": the project's parameters and one user's hash and salt.
SIGNER_KEY = (
    "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
)
FIREBASE = {"signer_key": SIGNER_KEY, "salt_separator": "Bw==", "rounds": "8", "mem_cost": "14"}
VECTOR_HASH = (
    "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
)
VECTOR = hashed(
    "firebase_scrypt",
    VECTOR_HASH,
    salt="42xEC+ixf3L2lw==",
    signer_key=SIGNER_KEY,
    salt_separator="Bw==",
    rounds=8,
    mem_cost=14,
)


def test_firebase_auth_export() -> None:
    assert list(read("firebase", DATA / "firebase-users.json", FIREBASE)) == [
        ok(
            1,
            record(
                "Yl2f2Jw8bkQpV7sTnA3cZkD0xR12",
                "user1@example.com",
                email_verified=True,
                created_at=1704067200,
                password=VECTOR,
            ),
        ),
        # google.com is an identity; facebook.com has no issuer here and is dropped
        ok(
            2,
            record(
                "Qm9bU3kfLx0aW1eR5tY7uI9oP2s4",
                "gus@gmail.com",
                email_verified=True,
                created_at=1704240000,
                identities=[{"issuer": GOOGLE, "subject": "112233445566778899000"}],
            ),
        ),
        rejected(3, "no email"),  # a phone-only user
        rejected(4, "disabled in Firebase: not imported, as it would be allowed in again"),
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "--signer-key, --salt-separator, --rounds, --mem-cost"),
        (FIREBASE | {"mem_cost": None}, "needs the project's password hash parameters: --mem-cost"),
        (FIREBASE | {"signer_key": "not base64!"}, "--signer-key is not base64"),
        (FIREBASE | {"rounds": "9"}, "--rounds is not a whole number from 1 to 8"),
        (FIREBASE | {"mem_cost": "fourteen"}, "--mem-cost is not a whole number from 1 to 14"),
    ],
)
def test_firebase_needs_the_projects_hash_parameters(options: dict, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        read("firebase", DATA / "firebase-users.json", options)


def test_firebase_hash_without_salt_or_not_base64_is_rejected(tmp_path: Path) -> None:
    users = write(
        tmp_path,
        "users.json",
        '{"users": [{"localId": "a", "email": "a@x.io", "passwordHash": "aGFzaA=="},'
        ' {"localId": "b", "email": "b@x.io", "passwordHash": "h@sh!", "salt": "c2FsdA=="},'
        ' {"localId": "c", "email": "c@x.io", "passwordHash": "", "salt": ""}]}',
    )
    assert list(read("firebase", users, FIREBASE)) == [
        rejected(1, "passwordHash without its salt"),
        rejected(2, "passwordHash: the Firebase scrypt hash is not base64"),
        ok(3, record("c", "c@x.io")),  # a hash Firebase made another way: no password
    ]


# -- Supabase ------------------------------------------------------------------------------


def test_supabase_auth_users_with_identities() -> None:
    assert list(read("supabase", DATA / "supabase-users.json", {})) == [
        ok(
            1,
            record(
                "8d1f3c8e-5b2a-4c1e-9f0a-1b2c3d4e5f60",
                "jo@example.com",
                email_verified=True,
                created_at=1705314600,
                password=hashed("bcrypt", BCRYPT_2A),
            ),
        ),
        ok(
            2,
            record(
                "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                "kim@gmail.com",
                email_verified=True,
                created_at=1705402800,
                identities=[
                    {"issuer": GOOGLE, "subject": "104455667788990011223"},
                    {"issuer": GITHUB, "subject": "7654321"},
                ],
            ),
        ),
        # GoTrue's $fbscrypt$ (a Firebase hash imported into Supabase): n is mem_cost, r rounds
        ok(
            3,
            record(
                "f0e1d2c3-b4a5-4968-8776-655443322110",
                "lee@example.com",
                created_at=1705492800,
                password=VECTOR,
            ),
        ),
        rejected(4, "deleted in Supabase"),
        rejected(5, "an anonymous user: no email"),
    ]


def test_supabase_ban_in_force_when_read_is_rejected(tmp_path: Path) -> None:
    from devtools.sources import supabase

    rows = write(
        tmp_path,
        "users.json",
        '[{"id": "a", "email": "a@x.io", "banned_until": "2030-01-01T00:00:00+00:00"},'
        ' {"id": "b", "email": "b@x.io", "banned_until": "2020-01-01T00:00:00+00:00"},'
        ' {"id": "c", "email": "c@x.io", "encrypted_password": "$scrypt$ln=14,r=8,p=1$c$h"},'
        ' {"id": "d", "email": "d@x.io", "encrypted_password": "$md5$deadbeef"},'
        ' {"id": "e", "email": "e@x.io", "encrypted_password": "5f4dcc3b5aa765d61d8327deb882"},'
        ' {"id": "f", "email": "f@x.io", "identities": [{"provider": "github",'
        ' "identity_data": "{\\"sub\\": \\"42\\"}"}, {"provider": "azure", "provider_id": "x"}]}]',
    )
    assert list(supabase.read(rows, {}, now=lambda: 1800000000)) == [  # 2027-01-15
        rejected(1, "banned in Supabase: not imported, as it would be allowed in again"),
        ok(2, record("b", "b@x.io")),
        ok(3, record("c", "c@x.io", password=hashed("scrypt", "$scrypt$ln=14,r=8,p=1$c$h"))),
        rejected(4, "encrypted_password: password hash format 'md5' is not supported"),
        rejected(5, "encrypted_password: password hash format (unrecognised) is not supported"),
        # identity_data as text (a CSV-to-JSON export); azure's issuer is per tenant: dropped
        ok(6, record("f", "f@x.io", identities=[{"issuer": GITHUB, "subject": "42"}])),
    ]


@pytest.mark.parametrize(
    ("system", "content", "message"),
    [
        ("firebase", "[]", 'no "users" list'),
        ("firebase", '{"users": {}}', 'no "users" list'),
        ("firebase", "users:\n - a", "is not JSON"),
        ("supabase", '{"users": []}', "not a JSON array of auth.users rows"),
        ("supabase", "NaN", "not JSON this tool reads: NaN is not a JSON value"),
        ("supabase", b"\xc3\x28[]", "is not UTF-8 text"),
    ],
)
def test_garbage_json_files_are_source_errors(
    tmp_path: Path, system: str, content: str | bytes, message: str
) -> None:
    options = FIREBASE if system == "firebase" else {}
    with pytest.raises(SourceError, match=message):
        read(system, write(tmp_path, "users.json", content), options)


# -- Clerk ---------------------------------------------------------------------------------

ARGON2ID = (
    "$argon2id$v=19$m=19456,t=2,p=1$2BNHAA7cgDozoAAeecoDUQ"
    "$o5luK7S2grBSMzGE9qLpJiuhWd4nDjJkMpR3V1KMrlc"
)
PHPASS = "$P$984478476IagS59wHZvyQMArzfx58u."
UNSALTED = {"salt": "", "salt_position": "prefix", "salt_encoding": "utf8", "hash_encoding": "hex"}
CLERK_HEADER = (
    "id,first_name,last_name,username,primary_email_address,primary_phone_number,"
    "verified_email_addresses,unverified_email_addresses,verified_phone_numbers,"
    "unverified_phone_numbers,totp_secret,password_digest,password_hasher\n"
)


def test_clerk_csv_export() -> None:
    assert list(read("clerk", DATA / "clerk-users.csv", {})) == [  # line 1 is the header
        ok(
            2,
            record(
                "user_2YDryYFVMM1W1plDDKz7Gzf4we6",
                "janedoe@example.com",
                email_verified=True,
                password=hashed("bcrypt", BCRYPT_2B),
                totp_secret="JBSWY3DPEHPK3PXP",
            ),
        ),
        # Clerk's pbkdf2_sha256 (base64 salt and hash) as a PHC string
        ok(
            3,
            record(
                "user_2ZZCgLE7kJG2CRBxTZ6YUIvzS10",
                "johndoe@example.com",
                email_verified=True,
                password=hashed(
                    "pbkdf2",
                    "$pbkdf2-sha256$i=10000,l=32$RmQMPPJnLl2C1HH4"
                    "$pnONN/jwPkc/q1TromBej53MEGxQ8LRj1TlGfDhy1fc",
                ),
            ),
        ),
        ok(
            4,
            record(
                "user_2cWszPHuo6P2lCdnhhZbVMfbAIC",
                "lena@example.com",
                email_verified=True,
                password=VECTOR,
            ),
        ),
        # the primary address is among the unverified ones
        ok(
            5,
            record(
                "user_2cukOsyNsh0J3MCEvrgM6PkoB0I",
                "omar@example.com",
                password=hashed("argon2", ARGON2ID),
            ),
        ),
        ok(
            6,
            record(
                "user_2dA1B2C3D4E5F6G7H8I9J0K1L2M",
                "pia@example.com",
                email_verified=True,
                password=hashed("md5", "ebf2ab53747a2240becb504eecd6d767", **UNSALTED),
            ),
        ),
        rejected(7, "password hasher 'phpass' is not supported"),
        rejected(8, "no email address"),  # a phone-only user
        ok(9, record("user_2dD4E5F6G7H8I9J0K1L2M3N4O5P", "tom@example.com", email_verified=True)),
    ]


def test_clerk_more_hashers_and_bad_rows(tmp_path: Path) -> None:
    rows = [
        ",,,,,,a@x.io|b@x.io,,,,,,",  # no id
        "u2,,,,,,c@x.io|d@x.io,,,,,,",  # no primary address: the first verified one
        "u3,,,,e@x.io,,,,,,,pbkdf2_sha1$30000$NaCl$0a1b2c3d4e5f60718293a4b5c6d7e8f901234567,"
        "pbkdf2_sha1",
        "u4,,,,f@x.io,,,,,,,bcrypt_sha256$$2b$12$zvLDSU3z72zZ5V3w9uCXQ.hZ.SPsWLJkAsfrkgn.xAm1lr0"
        "Fbymve,bcrypt_sha256_django",
        "u5,,,,g@x.io,,,,,,,5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8,"
        "sha256",
        "u6,,,,h@x.io,,,,,,,$2b$10$abc,0a1b2c3d4e5f60718293a4b5",  # a digest in the hasher column
        "u7,,,,i@x.io,,,,,,,$2b$10$abc,",
        "u8,,,,j@x.io,,,,,,,pbkdf2_sha256$10000$not base64!$aGFzaA==,pbkdf2_sha256",
        "u9,,,,k@x.io,,,,,,,a$b$c,scrypt_firebase",
        "u10,,,,l@x.io,,,,,,not-base32!,,",
        "u11,,,,m@x.io,,,,,,,,,extra",
    ]
    path = write(tmp_path, "users.csv", CLERK_HEADER + "\n".join(rows) + "\n")
    assert list(read("clerk", path, {})) == [
        rejected(2, "no id"),
        ok(3, record("u2", "c@x.io", email_verified=True)),
        ok(
            4,
            record(
                "u3",
                "e@x.io",
                password=hashed(
                    "pbkdf2", "$pbkdf2-sha1$i=30000,l=20$TmFDbA$ChssPU5fYHGCk6S1xtfo+QEjRWc"
                ),
            ),
        ),
        ok(
            5,
            record(
                "u4",
                "f@x.io",
                password=hashed(
                    "django",
                    "bcrypt_sha256$$2b$12$zvLDSU3z72zZ5V3w9uCXQ.hZ.SPsWLJkAsfrkgn.xAm1lr0Fbymve",
                ),
            ),
        ),
        ok(
            6,
            record(
                "u5",
                "g@x.io",
                password=hashed(
                    "sha256",
                    "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
                    **UNSALTED,
                ),
            ),
        ),
        rejected(7, "password hasher (not a name: not shown) is not supported"),
        rejected(8, "password_digest without a password_hasher"),
        rejected(9, "pbkdf2_sha256 digest's salt is not base64"),
        rejected(
            10,
            "scrypt_firebase digest is not hash$salt$signer_key$salt_separator$rounds$mem_cost",
        ),
        rejected(11, "totp_secret is not base32"),
        rejected(12, "14 fields where the header names 13"),
    ]


def test_clerk_csv_without_its_columns_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no column primary_email_address"):
        read("clerk", write(tmp_path, "users.csv", "id,email\nu1,a@x.io\n"), {})
    with pytest.raises(SourceError, match="no CSV header"):
        read("clerk", write(tmp_path, "users.csv", ""), {})
    with pytest.raises(SourceError, match="no column id, primary_email_address"):
        read("clerk", write(tmp_path, "users.csv", '{"users": []}'), {})


# -- Cognito -------------------------------------------------------------------------------


def test_cognito_list_users() -> None:
    assert list(read("cognito", DATA / "cognito-users.json", {})) == [
        ok(
            1,
            record(
                "5f1e2d3c-4b5a-4968-a7b6-c5d4e3f2a1b0",
                "nia@example.com",
                email_verified=True,
                created_at=1706781600,
            ),
        ),
        # a federated user: the identities attribute names Google's user id
        ok(
            2,
            record(
                "6a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                "oli@gmail.com",
                created_at=1706868000,
                identities=[{"issuer": GOOGLE, "subject": "118877665544332211009"}],
            ),
        ),
        rejected(3, "no email attribute"),
        rejected(4, "disabled in Cognito: not imported, as it would be allowed in again"),
    ]


def test_cognito_oidc_provider_by_its_pool_name_and_bad_attributes(tmp_path: Path) -> None:
    users = write(
        tmp_path,
        "users.json",
        '{"Users": [{"Attributes": [{"Name": "sub", "Value": "s1"}, {"Name": "email", "Value":'
        ' "a@x.io"}, {"Name": "identities", "Value": "[{\\"userId\\": \\"abc\\", \\"providerName'
        '\\": \\"Acme\\", \\"providerType\\": \\"OIDC\\"}]"}]},'
        ' {"Attributes": [{"Name": "sub", "Value": "s2"}, {"Name": "email", "Value": "b@x.io"},'
        ' {"Name": "identities", "Value": "[{"}]},'
        ' {"Attributes": {"sub": "s3"}},'
        ' {"Attributes": [{"Value": "s4"}]}]}',
    )
    assert list(read("cognito", users, {"issuers": "Acme=https://id.acme.io"})) == [
        ok(
            1,
            record("s1", "a@x.io", identities=[{"issuer": "https://id.acme.io", "subject": "abc"}]),
        ),
        rejected(2, "identities attribute is not JSON"),
        rejected(3, "Attributes is not a list"),
        rejected(4, "no Attributes[0].Name"),
    ]


# -- Django --------------------------------------------------------------------------------

DJANGO_PBKDF2 = (
    "pbkdf2_sha256$1500000$xVYNlaoETkkN92o01bt4q3$w8Aiia1m0D2Hh7VaX4+gaOBoutL66YMcDEPtJ2ewUOg="
)
DJANGO_ARGON2 = (
    "argon2$argon2id$v=19$m=102400,t=2,p=8$Q3lBcW92eTB2ZTlwU3RWZVNRMWlPRA"
    "$YGXjtjrTK9Z/ACiBwD9UyMjghk3eajugXXNAjLu1zfo"
)
DJANGO = [
    ok(
        1,
        record(
            "1",
            "root@example.com",
            created_at=1682928000,
            password=hashed("django", DJANGO_PBKDF2),
            roles=["admin"],
        ),
    ),
    # allauth's verified address, matched case-insensitively
    ok(
        2,
        record(
            "2",
            "rae@example.com",
            email_verified=True,
            created_at=1685611800,
            password=hashed("django", DJANGO_ARGON2),
        ),
    ),
    ok(3, record("3", "sam@example.com", created_at=1688205600)),  # an unusable password
    rejected(6, "no email"),  # records 4 and 5 are allauth's addresses
    rejected(7, "inactive in Django: not imported, as it would be allowed in again"),
]


def test_django_dumpdata_with_allauth_addresses() -> None:
    assert list(read("django", DATA / "django-users.json", {"superuser_role": "admin"})) == DJANGO


def test_django_superusers_get_no_role_unless_asked() -> None:
    lines = list(read("django", DATA / "django-users.json", {}))
    assert lines[0] == ok(1, DJANGO[0].record | {"roles": []})
    assert lines[1:] == DJANGO[1:]


def test_django_custom_user_model(tmp_path: Path) -> None:
    dump = write(
        tmp_path,
        "users.json",
        '[{"model": "accounts.user", "pk": "8c6f", "fields": {"email": "a@x.io", "password": ""}},'
        ' {"model": "auth.user", "pk": 1, "fields": {"email": "b@x.io"}},'
        ' {"pk": 2, "fields": {"email": "c@x.io"}}]',
    )
    assert list(read("django", dump, {"model": "accounts.User"})) == [
        ok(1, record("8c6f", "a@x.io")),
        rejected(3, "no model name"),
    ]
    with pytest.raises(SourceError, match="--superuser-role is not a role name"):
        read("django", dump, {"superuser_role": "Admin Role"})
    with pytest.raises(SourceError, match="not an array of records"):
        read("django", write(tmp_path, "one.json", '{"model": "auth.user"}'), {})


# -- Lucia ---------------------------------------------------------------------------------

LUCIA_S2 = (
    "8836f25006b12ad8f0ab9206fed5dbb1:4a18ca375772739fff5d69ab196097afb422895d7d5114f0f5bcc613a7"
    "d29225b6c11ca903d5e7c19e464b15e9017b9bf78b6d0f9e0804fd3cf0c9b0184cd1f8"
)
LUCIA_V1 = (
    "ebb27f96d45fb74068e74b6a94a78e34:5b374c35e57d3317457d41a513e2b69859d6f06f06f159ff844152a365"
    "3c02c771dcb0a1b4c6e1eed60f97a25f04be1ef85391001122de5eab9e3403dc4f496f"
)
LUCIA_V3 = (
    "bb67420c76cb9e54e1e9b4f44edafe92:14d01c612ffdc8174bfe93491e34368756449982c6bb81cdd440eff626"
    "5820e37ea5e632ff2c195bd46a5e8ad4f6df3729b553b040cfaa800e837b5326d0f8aa"
)


def test_lucia_v2_user_and_key_tables() -> None:
    assert list(read("lucia", DATA / "lucia-v2.json", {"version": "v2"})) == [
        # "s2:" is v2's own hash (r = 16) whatever --version says
        ok(
            1,
            record(
                "k8x2m4p6q8r0s2t4",
                "val@example.com",
                email_verified=True,
                password=hashed("lucia_scrypt", LUCIA_S2, version="v2"),
            ),
        ),
        # a bare salt:key in a v2 table is v1's (r = 8); the email comes from the email: key
        ok(
            2,
            record(
                "a1b2c3d4e5f6g7h8",
                "wes@example.com",
                password=hashed("lucia_scrypt", LUCIA_V1, version="v1"),
                identities=[{"issuer": GITHUB, "subject": "9988776"}],
            ),
        ),
        rejected(3, "no email (no email column and no email: key)"),  # a username: key only
        rejected(4, "hashed_password is neither Lucia's salt:key nor a PHC or bcrypt string"),
    ]


def test_lucia_v3_user_rows_and_oauth_accounts() -> None:
    assert list(read("lucia", DATA / "lucia-v3.json", {})) == [
        ok(
            1,
            record(
                "u3a1",
                "yan@example.com",
                email_verified=True,
                created_at=1714561200,
                password=hashed("lucia_scrypt", LUCIA_V3, version="v3"),
            ),
        ),
        # oslo's Argon2id, v3's recommended hasher; a github_id column
        ok(
            2,
            record(
                "u3b2",
                "zed@example.com",
                password=hashed("argon2", ARGON2ID),
                identities=[{"issuer": GITHUB, "subject": "4455667"}],
            ),
        ),
        # the oauth_account table; discord has no issuer here and is dropped
        ok(
            3,
            record(
                "u3c3",
                "amy@example.com",
                email_verified=True,
                identities=[{"issuer": GOOGLE, "subject": "100200300400500600700"}],
            ),
        ),
        rejected(4, "no email (no email column and no email: key)"),
    ]


def test_lucia_version_decides_a_bare_salt_key(tmp_path: Path) -> None:
    tables = write(
        tmp_path,
        "tables.json",
        '{"user": [{"id": "a", "email": "a@x.io"}], "key": [{"id":'
        f' "email:a@x.io", "user_id": "a", "hashed_password": "{LUCIA_V1}"}}]}}',
    )
    for version, read_as in (("v1", "v1"), ("v2", "v1"), ("v3", "v3")):
        (line,) = read("lucia", tables, {"version": version})
        assert line.record["password"] == hashed("lucia_scrypt", LUCIA_V1, version=read_as)
    with pytest.raises(SourceError, match="--version is one of v1, v2, v3"):
        read("lucia", tables, {"version": "4"})
    with pytest.raises(SourceError, match='no "key" table: Lucia v2 keeps passwords there'):
        read("lucia", DATA / "lucia-v3.json", {"version": "v2"})
    with pytest.raises(SourceError, match='no "user" table'):
        read("lucia", write(tmp_path, "empty.json", '{"users": []}'), {})


# -- Better Auth ---------------------------------------------------------------------------

BETTER_AUTH = (
    "a3a5d17c0409efb3ea2d6fc1da26cb98:e7fd74fefd223a2301f7886996fc8f9440228c03fb92b4e664fb1656"
    "05c2488237d0aa224abb2ae3490831fa8242f004967ab6ba58e4a72ce92012341665e51b"
)


def test_better_auth_user_and_account_tables() -> None:
    assert list(read("better-auth", DATA / "better-auth.json", {})) == [
        # the admin plugin's role is not carried
        ok(
            1,
            record(
                "Vb7cN2mX9qL4pR8sT1uW6yZ3",
                "bo@example.com",
                email_verified=True,
                created_at=1740823200,
                password=hashed("better_auth_scrypt", BETTER_AUTH),
            ),
        ),
        # SQLite's 1 and milliseconds
        ok(
            2,
            record(
                "Hk3jL5mN7pQ9rS2tU4vW6xY8",
                "cy@gmail.com",
                email_verified=True,
                created_at=1740909600,
                identities=[
                    {"issuer": GOOGLE, "subject": "108642097531086420975"},
                    {"issuer": GITHUB, "subject": "31415926"},
                ],
            ),
        ),
        rejected(3, "banned in Better Auth: not imported, as it would be allowed in again"),
        rejected(4, "no email"),
    ]


def test_better_auth_snake_case_columns_and_an_ended_ban(tmp_path: Path) -> None:
    from devtools.sources import better_auth

    tables = write(
        tmp_path,
        "tables.json",
        '{"user": [{"id": "a", "email": "a@x.io", "email_verified": true, "banned": true,'
        ' "ban_expires": "2026-01-01T00:00:00Z", "created_at": "2025-01-01T00:00:00Z"},'
        ' {"id": "b", "email": "b@x.io"}, {"id": "c", "email": "c@x.io"}],'
        ' "account": [{"account_id": "a", "provider_id": "credential", "user_id": "a",'
        f' "password": "{BCRYPT_2A}"}},'
        ' {"account_id": "d-1", "provider_id": "discord", "user_id": "b"},'
        ' {"account_id": "c", "provider_id": "credential", "user_id": "c", "password": "x"}]}',
    )
    lines = better_auth.read(tables, {"issuers": "discord=https://discord.com"}, now=lambda: 1.8e9)
    assert list(lines) == [
        ok(
            1,
            record(
                "a",
                "a@x.io",
                email_verified=True,
                created_at=1735689600,
                password=hashed("bcrypt", BCRYPT_2A),
            ),
        ),
        ok(
            2,
            record("b", "b@x.io", identities=[{"issuer": "https://discord.com", "subject": "d-1"}]),
        ),
        rejected(
            3, "credential password is neither Better Auth's salt:key nor a bcrypt/PHC string"
        ),
    ]


# -- hostile input -------------------------------------------------------------------------

SAMPLES = {
    "auth0": ("auth0-export.ndjson", {"passwords": str(DATA / "auth0-passwords.ndjson")}),
    "firebase": ("firebase-users.json", FIREBASE),
    "supabase": ("supabase-users.json", {}),
    "clerk": ("clerk-users.csv", {}),
    "cognito": ("cognito-users.json", {}),
    "django": ("django-users.json", {}),
    "lucia": ("lucia-v2.json", {"version": "v2"}),
    "better-auth": ("better-auth.json", {}),
}
KEYS = sorted(
    {
        *("user_id", "email", "email_verified", "created_at", "identities", "blocked", "_id"),
        *("$oid", "alt_id", "passwordHash", "identifiers", "custom_password_hash", "algorithm"),
        *("hash", "value", "encoding", "salt", "position", "password", "password_hash"),
        *("provider", "localId", "emailVerified", "createdAt", "disabled", "providerUserInfo"),
        *("providerId", "rawId", "id", "encrypted_password", "email_confirmed_at", "deleted_at"),
        *("banned_until", "is_anonymous", "provider_id", "identity_data", "sub", "Attributes"),
        *("Name", "Value", "UserCreateDate", "Enabled", "model", "pk", "fields", "is_active"),
        *("is_superuser", "date_joined", "verified", "user", "hashed_password", "github_id"),
        *("provider_user_id", "userId", "accountId", "banned", "banExpires", "type", "$date"),
    }
)
SHAPES = [
    *("", "true", "t", "1", "2024-01-15T10:30:00Z", "1704067200000", "a@x.io", "auth0|x"),
    *("google", "github", "google-oauth2", "google.com", "Google", "credential", "email:a@x.io"),
    *("$2b$10$x", "$argon2id$x", "$pbkdf2-sha256$x", "s2:ab:cd", "ab:cd", "!x", "$P$x"),
    *("$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=YQ==$YQ==$YQ==", "md5", "sha1", "bcrypt"),
    *("hex", "base64", "utf8", "suffix", "auth.user", "account.emailaddress", "sub", "email"),
    *('[{"providerName": "Google", "userId": 1}]', '{"sub": 1}', "[", "pbkdf2_sha256"),
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(SHAPES)
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=4), children, max_size=6)
    ),
    max_leaves=24,
)


def mutated(value: object) -> st.SearchStrategy:
    """A sample's value kept, or (one time in twelve, at every depth) replaced by random JSON:
    most examples reach the deeper checks with a field or two wrong."""
    if isinstance(value, dict):
        kept = st.fixed_dictionaries({key: mutated(inner) for key, inner in value.items()})
    elif isinstance(value, list) and value:
        each = [mutated(inner) for inner in value]
        in_place = st.tuples(*each).map(list)
        shuffled = st.lists(st.one_of(*each), max_size=4)  # items lost, repeated, reordered
        kept = st.integers(0, 3).flatmap(lambda roll: shuffled if roll == 0 else in_place)
    else:
        kept = st.just(value)
    return st.integers(0, 11).flatmap(lambda roll: values if roll == 0 else kept)


def sample(name: str) -> object:
    text = (DATA / name).read_text()
    if name.endswith(".ndjson"):
        return [json.loads(line) for line in text.splitlines() if line.endswith("}")]
    return json.loads(text)


LUCIA_TABLES = {  # both samples' rows, as one v2 export would hold them (--version v2)
    "user": sample("lucia-v2.json")["user"] + sample("lucia-v3.json")["user"],
    "key": sample("lucia-v2.json")["key"],
    "oauth_account": sample("lucia-v3.json")["oauth_account"],
}
DOCUMENTS = {
    "auth0": st.lists(mutated(sample("auth0-export.ndjson")), min_size=1, max_size=3)
    .map(
        lambda parts: [
            line for part in parts for line in (part if isinstance(part, list) else [part])
        ]
    )
    .map(lambda lines: "\n".join(json.dumps(line) for line in lines)),
    "firebase": mutated(sample("firebase-users.json")),
    "supabase": mutated(sample("supabase-users.json")),
    "cognito": mutated(sample("cognito-users.json")),
    "django": mutated(sample("django-users.json")),
    "lucia": mutated(LUCIA_TABLES),
    "better-auth": mutated(sample("better-auth.json")),
}

cells = st.text(max_size=12) | st.sampled_from([*SHAPES, "argon2id", "scrypt_firebase", "a|b"])
CLERK_SAMPLE = list(csv.reader(io.StringIO((DATA / "clerk-users.csv").read_text())))[1:]
CSV_ROWS = st.lists(
    st.one_of(
        *(
            st.tuples(*(st.one_of(st.just(cell), st.just(cell), cells) for cell in row))
            for row in CLERK_SAMPLE
        ),
        st.lists(cells, max_size=15),
    ),
    max_size=6,
)


def well_formed(line: SourceLine) -> None:
    """A line is a record of our import format, or a reason every check foresaw."""
    assert isinstance(line, SourceLine)
    assert line.number >= 1
    assert (line.record is None) != (line.error is None)
    if line.error is not None:
        assert isinstance(line.error, str)
        assert not line.error.startswith("malformed record"), line.error
        return
    found = line.record
    assert set(found) == set(record("x", "x"))
    assert isinstance(found["email"], str)
    assert found["email"]
    assert isinstance(found["email_verified"], bool)
    assert found["created_at"] is None or 0 <= found["created_at"] <= 253402300799
    assert isinstance(found["source_id"], str)
    assert 0 < len(found["source_id"]) <= 255
    if found["password"] is not None:
        assert set(found["password"]) == {"format", "hash", "params"}
        assert found["password"]["format"] in FORMATS
        assert isinstance(found["password"]["hash"], str)
        assert found["password"]["hash"]
        assert isinstance(found["password"]["params"], dict)
    for linked in found["identities"]:
        assert set(linked) == {"issuer", "subject"}
        assert linked["issuer"].startswith("https://")
        assert isinstance(linked["subject"], str)
        assert 0 < len(linked["subject"]) <= 255
    assert found["passkeys"] == []
    assert all(isinstance(role, str) for role in found["roles"])
    json.dumps(found)  # our format is JSON Lines


def read_all(system: str, path: Path, options: dict) -> list[SourceLine]:
    try:
        lines = list(read(system, path, options))
    except SourceError:
        return []
    for line in lines:
        well_formed(line)
    return lines


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


HOSTILE = settings(
    derandomize=True,
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("system", sorted(DOCUMENTS))
def test_random_json_yields_records_or_reasons_never_a_fault(system: str, scratch: Path) -> None:
    path = scratch / f"{system}.json"
    options = SAMPLES[system][1] | {"passwords": None}

    @HOSTILE
    @given(document=DOCUMENTS[system])
    def check(document: object) -> None:
        path.write_text(document if isinstance(document, str) else json.dumps(document))
        read_all(system, path, options)

    check()


def test_random_csv_yields_records_or_reasons_never_a_fault(scratch: Path) -> None:
    path = scratch / "clerk.csv"

    @HOSTILE
    @given(table=CSV_ROWS)
    def check(table: list[list[str]]) -> None:
        out = io.StringIO()
        csv.writer(out).writerows(table)
        path.write_text(CLERK_HEADER + out.getvalue())
        read_all("clerk", path, {})

    check()


@pytest.mark.parametrize("system", sorted(DOCUMENTS))  # every JSON system
def test_deep_nesting_is_a_source_error(system: str, tmp_path: Path) -> None:
    path = write(tmp_path, "users.json", "[" * 200_000 + "]" * 200_000)
    with pytest.raises(SourceError, match="nests too deeply"):
        read(system, path, SAMPLES[system][1])


def test_a_deeply_nested_json_line_rejects_that_line_only(tmp_path: Path) -> None:
    deep = '{"user_id": ' + "[" * 200_000 + "]" * 200_000 + "}"
    path = write(tmp_path, "users.ndjson", f'{deep}\n{{"user_id": "auth0|a", "email": "a@x.io"}}\n')
    assert list(read("auth0", path, {})) == [
        rejected(1, "nests too deeply to read"),
        ok(2, record("auth0|a", "a@x.io")),
    ]


def test_nesting_inside_fields_and_wrong_types_everywhere(tmp_path: Path) -> None:
    nested = "[" * 900 + "]" * 900
    users = [
        {"localId": json.loads(nested), "email": "a@x.io"},
        {"localId": "b", "email": ["b@x.io"]},
        {"localId": "c", "email": "c@x.io", "createdAt": {"$date": {"$date": {"$date": 1}}}},
        {"localId": "d", "email": "d@x.io", "providerUserInfo": [{"providerId": "google.com"}]},
        {"localId": "e", "email": "e@x.io", "providerUserInfo": "google.com"},
        {"localId": "f", "email": "f@x.io", "emailVerified": "yes please"},
        {"localId": 1.5, "email": "g@x.io"},
        "a user",
        None,
    ]
    path = write(tmp_path, "users.json", json.dumps({"users": users}))
    assert list(read("firebase", path, FIREBASE)) == [
        rejected(1, "localId is not a string"),
        rejected(2, "email is not a string"),
        rejected(3, "createdAt is not a date"),
        rejected(4, "no google.com user id"),
        rejected(5, "providerUserInfo is not a list"),
        rejected(6, "emailVerified is not true or false"),
        rejected(7, "localId is not a string"),
        rejected(8, "the user is not a JSON object"),
        rejected(9, "the user is not a JSON object"),
    ]


def test_huge_strings_are_read_or_rejected_quickly(tmp_path: Path) -> None:
    huge = "x" * 5_000_000
    rows = [
        {"id": huge, "email": "a@x.io"},
        {"id": "b", "email": huge[:300] + "@x.io", "encrypted_password": "$2b$" + huge},
        {"id": "c", "email": "c@x.io", "created_at": huge},
        {"id": "d", "email": "d@x.io", "encrypted_password": "$" + huge},
    ]
    path = write(tmp_path, "users.json", json.dumps(rows))
    started = time.monotonic()
    lines = list(read("supabase", path, {}))
    assert time.monotonic() - started < 5
    assert [line.error for line in lines] == [
        "id is longer than 255 characters",
        None,  # the importer judges an address's length and a hash's shape
        "created_at is not a date",
        "encrypted_password: password hash format (unrecognised) is not supported",
    ]
    big_cell = "y" * 200_000  # past the csv module's field limit
    csv_path = write(
        tmp_path, "users.csv", f"{CLERK_HEADER}u1,,,,{big_cell},,,,,,,,\nu2,,,,b@x.io,,,,,,,,\n"
    )
    assert list(read("clerk", csv_path, {})) == [
        rejected(2, "not a CSV row: field larger than field limit (131072)"),
        ok(3, record("u2", "b@x.io")),
    ]


def test_no_reason_ever_quotes_a_hash_salt_or_key(tmp_path: Path) -> None:
    """Every rejection in every sample, and hash-bearing rejections built for this test: no
    reason contains any long run of the input's secret material."""
    reasons = [
        line.error
        for system, (name, options) in SAMPLES.items()
        for line in read(system, DATA / name, options)
        if line.error
    ]
    secrets = [
        "8a9d093f14f8701df17732b2bb182c74",
        PHPASS,
        "pbkdf2:notlucia",
        SIGNER_KEY,
        "c2VjcmV0LWhhc2g=",
        "0a1b2c3d4e5f60718293a4b5",
    ]
    rows = [f"u1,,,,a@x.io,,,,,,,{secret},{secret}" for secret in (PHPASS, "deadbeefdeadbeefdead")]
    rows.append(f"u3,,,,c@x.io,,,,,,,{SIGNER_KEY}$x$y,scrypt_firebase")
    csv_path = write(tmp_path, "users.csv", CLERK_HEADER + "\n".join(rows) + "\n")
    reasons += [line.error for line in read("clerk", csv_path, {}) if line.error]
    secrets.append("deadbeefdeadbeefdead")
    assert len(reasons) >= 20
    for reason in reasons:
        for secret in secrets:
            assert secret not in reason
        assert not re.search(r"[A-Za-z0-9+/=]{24,}", reason), reason
