"""Imported password hashes sign in exactly as they did where they were made.

The fixtures are hashes the original code made, never our own: Django's hashers, pyca's bcrypt,
argon2-cffi, PHP's bcrypt and passlib's pbkdf2 and scrypt (from their documentation), Firebase's
published scrypt vector, and Better Auth's and Lucia's own hashing, run by the machine's Node,
which also gives its own verdict on every password we try."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import unicodedata
from functools import cache
from pathlib import Path

import pytest

from chalicelib import password_formats as pf
from chalicelib.password_formats import FormatError
from chalicelib.passwords import is_imported

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "pässwörd ✓ correct horse"

# Firebase's published test vector: the README of github.com/firebase/scrypt (its project's
# hash_config, and the exported user1@test.com with password "user1password").
FIREBASE_HASH = (
    "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
)
FIREBASE_PARAMS = {
    "salt": "42xEC+ixf3L2lw==",
    "signer_key": (
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
    ),
    "salt_separator": "Bw==",
    "rounds": 8,
    "mem_cost": 14,
}

# (format, hash, params, password) as their documentation publishes them.
PUBLISHED = {
    # php.net, password_verify(): PHP's password_hash() output for "rasmuslerdorf".
    "php bcrypt $2y$": ("bcrypt", "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"),
    # passlib's documentation, docs/lib/passlib.hash.pbkdf2_digest.rst (all of "password").
    "passlib pbkdf2_sha256": (
        "pbkdf2",
        "$pbkdf2-sha256$6400$0ZrzXitFSGltTQnBWOsdAw$Y11AchqV4b0sUisdZd0Xr97KWoymNE0LNNrnEgY4H9M",
    ),
    "passlib pbkdf2_sha256, 10-byte salt": (
        "pbkdf2",
        "$pbkdf2-sha256$8000$XAuBMIYQQogxRg$tRRlz8hYn63B9LYiCd6PRo6FMiunY9ozmMMI3srxeRE",
    ),
    "passlib pbkdf2_sha256, '.' in its base64": (
        "pbkdf2",
        "$pbkdf2-sha256$6400$.6UI/S.nXIk8jcbdHx3Fhg$98jZicV16ODfEsEZeYPGHU3kbrUrvUEXOPimVSQDD44",
    ),
    # passlib's own test suite, tests/test_handlers_pbkdf2.py (kept in libpass, its fork).
    "passlib pbkdf2_sha1": (
        "pbkdf2",
        "$pbkdf2$1212$OB.dtnSEXZK8U5cgxU/GYQ$y5LKPOplRmok7CZp/aqVDVg8zGI",
    ),
    "passlib pbkdf2_sha512": (
        "pbkdf2",
        "$pbkdf2-sha512$1212$RHY0Fr3IDMSVO/RSZyb5ow$eNLfBK.eVozomMr.1gYa1"
        "7k9B7KIK25NOEshvhrSX.esqY3s.FvWZViXz4KoLlQI.BzY/YTNJOiKc5gBYFYGww",
    ),
    # passlib's documentation, docs/lib/passlib.hash.scrypt.rst.
    "passlib scrypt ln=16": (
        "scrypt",
        "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
    ),
    "passlib scrypt ln=8": (
        "scrypt",
        "$scrypt$ln=8,r=8,p=1$WKs1xljLudd6z9kbY0wpJQ$yCR4iDZYDKv+iEJj6yHY0lv/epnfB6f/w1EbXrsJOuQ",
    ),
    # Clerk's documented md5 digest (unsalted), of "password".
    "clerk md5": ("md5", "5f4dcc3b5aa765d61d8327deb882cf99"),
}
PUBLISHED_PASSWORDS = {"php bcrypt $2y$": "rasmuslerdorf"}  # the rest: "password"


@cache
def django_hashes() -> dict[str, str]:
    """Made by Django's own hashers. One pbkdf2_sha256 at Django 6.1's default cost, the most
    common export; the rest by Django's classes with their cost lowered, as Django's own docs
    advise for tests."""
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            PASSWORD_HASHERS=[
                f"django.contrib.auth.hashers.{name}"
                for name in (
                    "PBKDF2PasswordHasher",
                    "PBKDF2SHA1PasswordHasher",
                    "Argon2PasswordHasher",
                    "BCryptSHA256PasswordHasher",
                    "BCryptPasswordHasher",
                    "ScryptPasswordHasher",
                    "MD5PasswordHasher",
                )
            ]
        )
    from django.contrib.auth import hashers

    class PBKDF2(hashers.PBKDF2PasswordHasher):
        iterations = 2000

    class PBKDF2SHA1(hashers.PBKDF2SHA1PasswordHasher):
        iterations = 2000

    class Argon2(hashers.Argon2PasswordHasher):
        memory_cost = 8192
        parallelism = 2

    class BCryptSHA256(hashers.BCryptSHA256PasswordHasher):
        rounds = 5

    class BCrypt(hashers.BCryptPasswordHasher):
        rounds = 5

    class Scrypt(hashers.ScryptPasswordHasher):
        work_factor = 2**12

    made = {
        "pbkdf2_sha256 (Django 6.1's cost)": hashers.make_password(PASSWORD, hasher="pbkdf2_sha256")
    }
    for hasher in (PBKDF2, PBKDF2SHA1, Argon2, BCryptSHA256, BCrypt, Scrypt):
        made[hasher.algorithm] = hashers.make_password(PASSWORD, hasher=hasher())
    made["md5"] = hashers.make_password(PASSWORD, hasher="md5")
    return made


@cache
def library_hashes() -> dict[str, tuple[str, str]]:
    """(format, hash) made by pyca's bcrypt and argon2-cffi."""
    import argon2
    import bcrypt

    secret = PASSWORD.encode()
    return {
        "bcrypt $2a$": ("bcrypt", bcrypt.hashpw(secret, bcrypt.gensalt(4, b"2a")).decode()),
        "bcrypt $2b$ cost 10": ("bcrypt", bcrypt.hashpw(secret, bcrypt.gensalt(10)).decode()),
        "argon2-cffi argon2id": ("argon2", argon2.PasswordHasher().hash(PASSWORD)),
        "argon2-cffi argon2i": ("argon2", argon2.PasswordHasher(type=argon2.Type.I).hash(PASSWORD)),
    }


def stdlib_hashes() -> dict[str, tuple[str, str, dict]]:
    """(format, hash, params) where hashlib is the origin's own algorithm: the salted digests
    Auth0 and Clerk take, and the PHC PBKDF2 Auth0 imports (`$pbkdf2-<digest>$i=..,l=..$`)."""
    salt = b"\x00salt\xff"
    secret = PASSWORD.encode()
    unpadded = lambda data: base64.b64encode(data).decode().rstrip("=")  # noqa: E731
    key = hashlib.pbkdf2_hmac("sha512", secret, salt, 1000, 64)
    long_key = hashlib.pbkdf2_hmac("sha1", secret, salt, 1000, 64)  # four SHA-1 blocks
    return {
        "auth0 pbkdf2-sha512": (
            "pbkdf2",
            f"$pbkdf2-sha512$i=1000,l=64${unpadded(salt)}${unpadded(key)}",
            {},
        ),
        "auth0 pbkdf2-sha1, l=64": (
            "pbkdf2",
            f"$pbkdf2-sha1$i=1000,l=64${unpadded(salt)}${unpadded(long_key)}",
            {},
        ),
        "sha256, utf8 salt first": (
            "sha256",
            hashlib.sha256(b"NaCl" + secret).hexdigest(),
            {"salt": "NaCl"},
        ),
        "sha512, hex salt after, base64 hash": (
            "sha512",
            base64.b64encode(hashlib.sha512(secret + salt).digest()).decode(),
            {
                "salt": salt.hex(),
                "salt_position": "suffix",
                "salt_encoding": "hex",
                "hash_encoding": "base64",
            },
        ),
        "sha1, base64 salt": (
            "sha1",
            hashlib.sha1(salt + secret).hexdigest(),  # noqa: S324 -- the origin's own
            {"salt": base64.b64encode(salt).decode(), "salt_encoding": "base64"},
        ),
        "md5, utf8 salt after": (
            "md5",
            hashlib.md5(secret + "pepper ü".encode()).hexdigest(),  # noqa: S324 -- the origin's own
            {"salt": "pepper ü", "salt_position": "suffix"},
        ),
    }


@cache
def real_hashes() -> dict[str, tuple[str, str]]:
    """name: (stored form, password), for every fixture made outside our code."""
    found = {
        f"django {name}": (pf.stored_form("django", encoded), PASSWORD)
        for name, encoded in django_hashes().items()
    }
    for name, (format_, encoded) in library_hashes().items():
        found[name] = (pf.stored_form(format_, encoded), PASSWORD)
    for name, (format_, encoded, params) in stdlib_hashes().items():
        found[name] = (pf.stored_form(format_, encoded, params), PASSWORD)
    for name, (format_, encoded) in PUBLISHED.items():
        found[name] = (pf.stored_form(format_, encoded), PUBLISHED_PASSWORDS.get(name, "password"))
    found["firebase's published vector"] = (
        pf.stored_form("firebase_scrypt", FIREBASE_HASH, FIREBASE_PARAMS),
        "user1password",
    )
    return found


DJANGO = ["pbkdf2_sha256 (Django 6.1's cost)", "pbkdf2_sha256", "pbkdf2_sha1", "argon2"]
DJANGO += ["bcrypt_sha256", "bcrypt", "scrypt", "md5"]
LIBRARIES = ["bcrypt $2a$", "bcrypt $2b$ cost 10", "argon2-cffi argon2id", "argon2-cffi argon2i"]
REAL = [
    *(f"django {name}" for name in DJANGO),
    *LIBRARIES,
    *stdlib_hashes(),
    *PUBLISHED,
    "firebase's published vector",
]


@pytest.mark.parametrize("name", REAL)
def test_a_hash_made_by_its_origin_signs_in_with_its_password_and_no_other(name):
    stored, password = real_hashes()[name]
    assert pf.verify(stored, password)
    assert not pf.verify(stored, "not " + password)


def test_the_fixtures_cover_every_format():
    formats = {pf.describe(stored)[0] for stored, _ in real_hashes().values()}
    formats |= {"lucia_scrypt", "better_auth_scrypt"}  # Node's, below
    assert formats == set(pf.FORMATS)
    assert set(REAL) == set(real_hashes())


# Better Auth and Lucia, from npm, run by Node: each makes its own hash, and its own check
# judges each candidate password; ours has to give the same verdicts.
NODE_SCRIPT = """
import { readFileSync } from "node:fs";
import { scryptSync } from "node:crypto";
import { pathToFileURL } from "node:url";
import { hashPassword, verifyPassword } from "better-auth/crypto";
import { Scrypt, LegacyScrypt } from "lucia";
import { generateLuciaPasswordHash, validateLuciaPasswordHash } from "lucia-v2/utils";
// lucia-auth (Lucia v1) exports its password functions only inside its auth API.
const v1 = await import(pathToFileURL("node_modules/lucia-auth/utils/crypto.js").href);
const { password, candidates } = JSON.parse(readFileSync(0, "utf8"));
// Lucia before 1.0 wrote salt:key with r=8. No package on npm still makes one, so node:crypto
// does; the checks of v1, v2 and v3's LegacyScrypt, which all still read it, judge it.
const salt = "0123456789abcdef";
const legacy = salt + ":" + scryptSync(password.normalize("NFKC"), salt, 64,
  { N: 16384, r: 8, p: 1, maxmem: 64 * 2 ** 20 }).toString("hex");
const cases = {};
async function record(name, format, params, hash, check) {
  const origin = [];
  for (const candidate of candidates) origin.push(await check(hash, candidate));
  cases[name] = { format, hash, params, origin };
}
const ba = (hash, password) => verifyPassword({ hash, password });
await record("better-auth", "better_auth_scrypt", {}, await hashPassword(password), ba);
const scrypt = new Scrypt();
const v3 = (hash, c) => scrypt.verify(hash, c);
await record("lucia v3 Scrypt", "lucia_scrypt", { version: "v3" }, await scrypt.hash(password), v3);
const legacyScrypt = new LegacyScrypt();
const v3Legacy = (hash, c) => legacyScrypt.verify(hash, c);
const s2 = await legacyScrypt.hash(password);
await record("lucia v3 LegacyScrypt", "lucia_scrypt", { version: "v3" }, s2, v3Legacy);
await record("lucia v3 LegacyScrypt, pre-1.0 hash", "lucia_scrypt", { version: "v2" }, legacy,
  v3Legacy);
const v2 = (hash, c) => validateLuciaPasswordHash(c, hash);
await record("lucia v2", "lucia_scrypt", { version: "v2" },
  await generateLuciaPasswordHash(password), v2);
await record("lucia v2, pre-1.0 hash", "lucia_scrypt", { version: "v2" }, legacy, v2);
const v1Check = (hash, c) => v1.validateScryptHash(c, hash);
await record("lucia v1", "lucia_scrypt", { version: "v1" }, await v1.generateScryptHash(password),
  v1Check);
await record("lucia v1, pre-1.0 hash", "lucia_scrypt", { version: "v1" }, legacy, v1Check);
console.log(JSON.stringify(cases));
"""
# NFKC changes it ("ﬁ" -> "fi", "Ⅸ" -> "IX"): the versions that normalize and the one that
# did not (Lucia v1's check) give different verdicts.
NODE_PASSWORD = "ﬁrefly Ⅸ horse"
NODE_CANDIDATES = [
    NODE_PASSWORD,
    unicodedata.normalize("NFKC", NODE_PASSWORD),
    "firefly IX horsE",
]


@cache
def node_hashes() -> dict[str, dict]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: Better Auth's and Lucia's own hashing cannot run")
    result = subprocess.run(
        ["node", "--input-type=module", "-e", NODE_SCRIPT],
        input=json.dumps({"password": NODE_PASSWORD, "candidates": NODE_CANDIDATES}),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return json.loads(result.stdout)


NODE_CASES = [
    "better-auth",
    "lucia v3 Scrypt",
    "lucia v3 LegacyScrypt",
    "lucia v3 LegacyScrypt, pre-1.0 hash",
    "lucia v2",
    "lucia v2, pre-1.0 hash",
    "lucia v1",
    "lucia v1, pre-1.0 hash",
]


@pytest.mark.parametrize("name", NODE_CASES)
def test_better_auth_and_lucia_hashes_give_their_origins_verdicts(name):
    case = node_hashes()[name]
    stored = pf.stored_form(case["format"], case["hash"], case["params"])
    verdicts = [pf.verify(stored, candidate) for candidate in NODE_CANDIDATES]
    assert verdicts == case["origin"]
    assert verdicts[1]  # the normalized password signs in everywhere
    assert not verdicts[2]


def test_lucia_v1_checked_the_password_as_typed_though_it_hashed_it_normalized():
    """A quirk of its origin, kept: a v1 user whose password NFKC changes signed in only by
    typing it normalized."""
    assert node_hashes()["lucia v1"]["origin"][:2] == [False, True]
    assert node_hashes()["lucia v2"]["origin"][:2] == [True, True]
    assert set(node_hashes()) == set(NODE_CASES)


def test_bcrypt_past_72_bytes_checks_the_first_72_as_its_origin_did():
    """pyca's bcrypt before 5 truncated (as every other bcrypt does); bcrypt 5 raises. The
    fixture is what the origin stored: the hash of the first 72 bytes."""
    import bcrypt

    password = "ü" * 40 + "tail"  # 84 bytes
    encoded = bcrypt.hashpw(password.encode()[:72], bcrypt.gensalt(4)).decode()
    stored = pf.stored_form("bcrypt", encoded)
    assert pf.verify(stored, password)
    assert pf.verify(stored, "ü" * 36 + "another tail")  # the same first 72 bytes
    assert not pf.verify(stored, "u" + password[1:])
    assert pf.verify(pf.make("bcrypt", password, {"cost": 4}), password)


def test_unknown_format_is_refused_by_name():
    with pytest.raises(FormatError, match=r"^unknown password format 'phpass'$"):
        pf.stored_form("phpass", "$P$984478476IagS59wHZvyQMArzfx58u.")
    with pytest.raises(FormatError, match="unknown password format"):
        pf.make("sha3", PASSWORD)
    assert not pf.verify('{"format":"phpass","hash":"$P$x","params":{}}', PASSWORD)


SECRET = "c2VjcmV0IHNhbHQgdmFsdWU="  # a salt or key that must never reach a message

MALFORMED = [
    ("argon2", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA", {}),
    ("argon2", "$argon2d$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", {}),
    ("argon2", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", {"salt": SECRET}),
    ("bcrypt", "$2b$10$tooshort", {}),
    ("bcrypt", "$2x$10$" + "a" * 53, {}),
    ("bcrypt", "$2b$03$" + "a" * 53, {}),
    ("django", "pbkdf2_sha256$0100$salt$" + "A" * 43 + "=", {}),
    ("django", "pbkdf2_sha256$1000$salt$" + SECRET, {}),
    ("django", "sha1$salt$" + "0" * 40, {}),
    ("django", "scrypt$1000$salt$8$1$" + "A" * 86 + "==", {}),
    ("pbkdf2", "$pbkdf2-md5$1000$c2FsdA$" + SECRET, {}),
    ("pbkdf2", "$pbkdf2-sha256$i=1000,l=64$c2FsdA$" + SECRET.rstrip("="), {}),
    ("pbkdf2", "$pbkdf2-sha256$1000$c2FsdA$not+ab64", {}),
    ("scrypt", "$scrypt$ln=16,r=8,p=1$c2FsdA", {}),
    ("scrypt", "$scrypt$ln=16,r=8,p=1$c2FsdA$!!!", {}),
    ("firebase_scrypt", FIREBASE_HASH, {**FIREBASE_PARAMS, "signer_key": SECRET}),
    ("firebase_scrypt", FIREBASE_HASH, {**FIREBASE_PARAMS, "salt": "***"}),
    ("firebase_scrypt", FIREBASE_HASH, {k: v for k, v in FIREBASE_PARAMS.items() if k != "salt"}),
    ("firebase_scrypt", FIREBASE_HASH, {**FIREBASE_PARAMS, "rounds": "8"}),
    ("lucia_scrypt", "salt:" + "a" * 128, {}),
    ("lucia_scrypt", "salt:" + "a" * 128, {"version": "v4"}),
    ("lucia_scrypt", "s3:salt:" + "a" * 128, {"version": "v2"}),
    ("lucia_scrypt", "salt:" + "A" * 128, {"version": "v3"}),
    ("better_auth_scrypt", "s2:salt:" + "a" * 128, {}),
    ("better_auth_scrypt", "salt:" + "a" * 126, {}),
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf9", {}),
    ("sha256", "5f4dcc3b5aa765d61d8327deb882cf99", {"salt": SECRET}),
    ("sha1", "x" * 40, {"salt": SECRET}),
    ("sha512", "a" * 128, {"salt": SECRET, "salt_encoding": "hex"}),
    ("sha512", "a" * 128, {"salt_position": "middle"}),
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf99", {"pepper": SECRET}),
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf99", {SECRET: "salt"}),
    ("django", SECRET, {}),
    ("django", "d8578edf8458ce06fbc5bb76a58c5ca4", {}),
    ("md5", "", {}),
    ("md5", "5f4dcc3b5aa765d61d8327deb882cf99", ["salt"]),
    ("md5", 1234, {}),
    ("md5", "a" * 5000, {}),
]


@pytest.mark.parametrize(("format_", "encoded", "params"), MALFORMED)
def test_a_malformed_hash_is_refused_at_import_and_never_signs_in(format_, encoded, params):
    with pytest.raises(FormatError) as refused:
        pf.stored_form(format_, encoded, params)
    message = str(refused.value)
    assert message.startswith(format_)
    assert SECRET not in message
    assert SECRET.rstrip("=") not in message
    assert "d8578edf" not in message
    # Stored anyway (an older import, a hand edit): signing in is refused, never an error.
    stored = json.dumps({"format": format_, "hash": encoded, "params": params})
    assert not pf.verify(stored, PASSWORD)


ABSURD = [
    ("bcrypt", "$2b$17$" + "a" * 53, {}),
    ("django", "bcrypt$$2b$31$" + "a" * 53, {}),
    ("argon2", "$argon2id$v=19$m=4194304,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", {}),
    ("argon2", "$argon2id$v=19$m=65536,t=100,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", {}),
    ("django", f"pbkdf2_sha256$10000001$salt${'A' * 43}=", {}),
    ("pbkdf2", "$pbkdf2-sha512$i=20000000,l=64$c2FsdA$" + "A" * 86, {}),
    ("pbkdf2", "$pbkdf2-sha1$i=1000000,l=600$c2FsdA$" + "A" * 800, {}),  # 30 blocks
    ("scrypt", "$scrypt$ln=21,r=8,p=1$c2FsdA$" + "A" * 43, {}),
    ("scrypt", "$scrypt$ln=20,r=8,p=1$c2FsdA$" + "A" * 43, {}),  # 1 GiB
    ("scrypt", "$scrypt$ln=16,r=8,p=16$c2FsdA$" + "A" * 43, {}),  # 16 passes of 64 MiB
    ("django", f"scrypt$1048576$salt$8$1${'A' * 86}==", {}),
    ("firebase_scrypt", FIREBASE_HASH, {**FIREBASE_PARAMS, "mem_cost": 21}),
]


@pytest.mark.parametrize(("format_", "encoded", "params"), ABSURD)
def test_an_absurd_cost_is_refused_at_import(format_, encoded, params):
    """A failed sign-in waits out the slowest verifier the stage holds: one import line must
    not be able to make that (or a Lambda's memory) anyone's to spend."""
    with pytest.raises(FormatError, match=r"between|limit"):
        pf.stored_form(format_, encoded, params)


def test_the_stored_form_is_canonical_json_and_describe_gives_back_the_import():
    stored = pf.stored_form("firebase_scrypt", FIREBASE_HASH, FIREBASE_PARAMS)
    assert stored == json.dumps(
        {"format": "firebase_scrypt", "hash": FIREBASE_HASH, "params": FIREBASE_PARAMS},
        sort_keys=True,
        separators=(",", ":"),
    )
    assert pf.describe(stored) == ("firebase_scrypt", FIREBASE_HASH, FIREBASE_PARAMS)
    assert pf.stored_form(*pf.describe(stored)) == stored
    for stored, _ in real_hashes().values():
        assert pf.stored_form(*pf.describe(stored)) == stored
    assert pf.describe(pf.stored_form("md5", "5f4dcc3b5aa765d61d8327deb882cf99")) == (
        "md5",
        "5f4dcc3b5aa765d61d8327deb882cf99",
        {},
    )
    assert is_imported(stored)
    assert not is_imported(library_hashes()["argon2-cffi argon2id"][1])


COST_IN_HASH = re.compile(  # the hash's text before its salt, where the cost is written
    r"(argon2)?\$argon2i?d?\$(v=\d+\$)?m=\d+,t=\d+,p=\d+\$"
    r"|(bcrypt(_sha256)?\$)?\$2[aby]\$\d\d\$"
    r"|pbkdf2_sha\d+\$\d+\$"
    r"|\$pbkdf2(-sha\d+)?\$(i=)?\d+(,l=\d+)?\$"
    r"|\$scrypt\$ln=\d+,r=\d+,p=\d+\$"
    r"|md5\$"
)


def cost_of(stored: str) -> object:
    """What a sample has to keep: everything but salts, keys and digests."""
    format_, encoded, params = pf.describe(stored)
    if format_ in ("lucia_scrypt", "better_auth_scrypt"):
        return params, encoded.count(":")  # Lucia's two-part and s2 forms differ in r
    if format_ in ("md5", "sha1", "sha256", "sha512"):
        defaults = {"salt_position": "prefix", "salt_encoding": "utf8", "hash_encoding": "hex"}
        return {key: params.get(key, default) for key, default in defaults.items()}
    if format_ == "firebase_scrypt":
        return params["rounds"], params["mem_cost"]
    if encoded.startswith("scrypt$"):  # Django's: scrypt$N$salt$r$p$hash
        return [encoded.split("$")[i] for i in (1, 3, 4)]
    return COST_IN_HASH.match(encoded).group()


FAST = [
    "django pbkdf2_sha256",
    "django argon2",
    "django bcrypt_sha256",
    "django bcrypt",
    "django scrypt",
    "django md5",
    "bcrypt $2a$",
    "argon2-cffi argon2i",
    "auth0 pbkdf2-sha1, l=64",
    "sha512, hex salt after, base64 hash",
    "md5, utf8 salt after",
    "php bcrypt $2y$",
    "passlib pbkdf2_sha1",
    "passlib scrypt ln=8",
    "clerk md5",
    "firebase's published vector",
]


@pytest.mark.parametrize("name", FAST)
def test_a_sample_keeps_format_and_cost_and_verifies_nothing(name):
    stored, password = real_hashes()[name]
    sampled = pf.sample(stored)
    assert pf.describe(sampled)[0] == pf.describe(stored)[0]
    assert cost_of(sampled) == cost_of(stored)
    assert pf.describe(sampled)[1] != pf.describe(stored)[1]
    assert not pf.verify(sampled, password)


@pytest.mark.parametrize("name", ["lucia v1", "lucia v2, pre-1.0 hash", "better-auth"])
def test_a_sample_of_a_lucia_or_better_auth_hash_keeps_its_cost(name):
    case = node_hashes()[name]
    stored = pf.stored_form(case["format"], case["hash"], case["params"])
    sampled = pf.sample(stored)
    assert cost_of(sampled) == cost_of(stored)
    assert not pf.verify(sampled, NODE_PASSWORD)


CHEAP = {  # each format's making options, at low cost
    "argon2": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
    "bcrypt": {"cost": 4, "prefix": "2y"},
    "django": {"algorithm": "pbkdf2_sha1", "iterations": 1000},
    "pbkdf2": {"digest": "sha512", "variant": "phc", "iterations": 1000, "length": 32},
    "scrypt": {"ln": 10, "r": 8, "p": 2},
    "firebase_scrypt": {"rounds": 8, "mem_cost": 10},
    "lucia_scrypt": {"version": "v2"},
    "better_auth_scrypt": {},
    "md5": {"salt_encoding": "base64"},
    "sha1": {"hash_encoding": "base64"},
    "sha256": {"salt_position": "suffix", "salt_encoding": "hex"},
    "sha512": {},
}


@pytest.mark.parametrize("format_", pf.FORMATS)
def test_made_hashes_verify(format_):
    stored = pf.make(format_, PASSWORD, CHEAP[format_])
    assert pf.describe(stored)[0] == format_
    assert pf.verify(stored, PASSWORD)
    assert not pf.verify(stored, PASSWORD + " ")


def test_verify_never_raises():
    stored = real_hashes()["bcrypt $2a$"][0]
    for odd in ("", "{", "{}", "[]", "null", '{"format":"bcrypt"}', "$argon2id$v=19$m=8,t=1,p=1$"):
        assert not pf.verify(odd, PASSWORD)
    format_, encoded, _ = pf.describe(stored)
    assert not pf.verify(json.dumps({"format": format_, "hash": encoded, "params": None}), "x")
    assert not pf.verify(stored, "\udc80 lone surrogate")
    assert not pf.verify(stored, "\x00")
    assert not pf.verify(stored, "x" * 10_000)
    assert not pf.verify(stored, None)  # type: ignore[arg-type]


def test_importing_the_module_loads_no_hashing_library():
    """It is imported on every failed sign-in's path: the libraries load only when a hash of
    theirs is checked."""
    script = (
        "import json, sys; import chalicelib.password_formats; "
        "libraries = {'bcrypt', 'argon2', 'cryptography', 'django'}; "
        "print(json.dumps(sorted(libraries & set(sys.modules))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(result.stdout) == []
