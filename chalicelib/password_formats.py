"""Password hashes imported from other systems: their stored form, and checking a password
against them exactly as the system that made them did.

An imported hash is kept as canonical JSON, `{"format": F, "hash": H, "params": {...}}`: the
`password` object of our import format, so an export writes it back unchanged. Our own hashes
are PHC argon2id strings, so a stored hash that starts with `{` is an imported one.

Each format is checked with a maintained library or the standard library: argon2-cffi, pyca's
bcrypt, hashlib's PBKDF2 and scrypt, cryptography's AES (Firebase). passlib is not used: it is
unmaintained and breaks with bcrypt 4.1 and later. The libraries are imported inside the
functions that need them; only a sign-in with an imported hash, or an import, pays for them.

Work factors are capped when a hash is imported (`stored_form`): a failed sign-in waits out the
slowest verifier the stage holds (see issue 30, Timing), so one absurd cost in an import file
would otherwise make every failed sign-in, or a Lambda's memory, the attacker's to spend.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# The caps. Every producer's default sits well inside them: bcrypt 10-12, Django 6.1's
# PBKDF2 1,500,000 iterations, passlib's scrypt 64 MiB, Django's argon2 100 MiB x 2 passes.
# Memory also has to fit the 512 MB Lambda beside the runtime.
MAX_BCRYPT_COST = 16
MAX_PBKDF2_ITERATIONS = 10_000_000
MAX_SCRYPT_N = 2**20
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16
MAX_SCRYPT_MEMORY = 256 * 2**20  # bytes: 128 * N * r
MAX_SCRYPT_WORK = 2**22  # N * r * p: 8x passlib's default (0.2 s here)
MAX_ARGON2_MEMORY_KIB = 256 * 1024
MAX_ARGON2_TIME_COST = 16
MAX_ARGON2_PARALLELISM = 16
MAX_ARGON2_WORK_KIB = 1024 * 1024  # memory x passes
_MAX_TEXT = 1024  # characters of a hash or of one parameter: nothing real comes near

_DIGESTS = {"md5": 16, "sha1": 20, "sha256": 32, "sha512": 64}  # name: digest size in bytes
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_BASE64_ANY = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")  # Firebase's tools write either alphabet
_AB64 = re.compile(r"[A-Za-z0-9./]+")  # passlib's "adapted base64": '.' for '+', no padding
_HEX = re.compile(r"[0-9a-fA-F]+")
_DECIMAL = re.compile(r"[1-9][0-9]{0,9}")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")


class FormatError(ValueError):
    """A hash or its params that cannot be imported. The message names the format and what is
    wrong with it, never the hash, a salt or a key, so an import report can print it."""


def stored_form(format: str, hash: str, params: Mapping[str, object] | None = None) -> str:
    """The canonical JSON kept in the claim's `password_hash`, once the hash's shape, params
    and cost have all been checked (FormatError otherwise)."""
    spec = _parse(format, hash, params)
    return _canonical(spec.format, spec.hash, spec.params)


def describe(stored: str) -> tuple[str, str, dict]:
    """(format, hash, params) of a stored form, as the import file had them."""
    spec = _load(stored)
    return spec.format, spec.hash, dict(spec.params)


def verify(stored: str, password: str) -> bool:
    """Whether `password` is the one the imported hash was made of. Comparisons run in
    constant time; a wrong password and a malformed stored value both give False."""
    if not isinstance(password, str):
        return False
    try:
        spec = _load(stored)
        return spec.kind.check(spec.parsed, password)
    except (ValueError, TypeError):  # FormatError, and the libraries' refusals of odd input
        return False


def sample(stored: str) -> str:
    """A stored form of the same format and cost, of a random password: verifying anything
    against it takes as long as against `stored`, and succeeds for nothing."""
    spec = _load(stored)
    return make(spec.format, secrets.token_urlsafe(24), spec.kind.options(spec.parsed))


def make(format: str, password: str, params: Mapping[str, object] | None = None) -> str:
    """The stored form of a new hash of `password`, made as its origin would (for tests,
    timing samples and the bench). `params` are the format's making options (see each
    format's `make`); they default to the origin's own defaults."""
    kind = _kind(format)
    options = dict(params or {})
    hash_, stored_params = kind.make(password, options)
    return stored_form(format, hash_, stored_params)


# The machinery: one small adapter per format.


@dataclass(frozen=True)
class _Spec:
    format: str
    hash: str
    params: dict[str, object]
    kind: _Kind
    parsed: Any


@dataclass(frozen=True)
class _Kind:
    """One format: `parse` checks the shape (FormatError), `check` verifies a password,
    `options` are the making options of a same-cost hash, `make` makes one."""

    parse: Callable[[str, str, dict[str, object]], Any]
    check: Callable[[Any, str], bool]
    options: Callable[[Any], dict[str, object]]
    make: Callable[[str, dict[str, object]], tuple[str, dict[str, object]]]
    params: frozenset[str] = frozenset()


def _canonical(format: str, hash: str, params: Mapping[str, object]) -> str:
    return json.dumps(
        {"format": format, "hash": hash, "params": dict(params)},
        sort_keys=True,
        separators=(",", ":"),
    )


def _shown(value: object) -> str:
    """A name from an import file (a format, a parameter), fit for a report line. Names are
    not secrets, but anything that does not look like one might be a hash: it stays out."""
    if isinstance(value, str) and _NAME.fullmatch(value):
        return repr(value)
    return "(not a name)"


def _kind(format: str) -> _Kind:
    kind = _KINDS.get(format)
    if kind is None:
        raise FormatError(f"unknown password format {_shown(format)}")
    return kind


def _parse(format: object, hash: object, params: object) -> _Spec:
    if not isinstance(format, str):
        raise FormatError("the password format must be a string")
    kind = _kind(format)
    if not isinstance(hash, str) or not hash:
        raise FormatError(f"{format}: the hash must be a non-empty string")
    if len(hash) > _MAX_TEXT:
        raise FormatError(f"{format}: the hash is too long")
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise FormatError(f"{format}: params must be an object")
    params = dict(params)
    for key in params:
        if key not in kind.params:
            raise FormatError(f"{format}: unknown parameter {_shown(key)}")
    return _Spec(format, hash, params, kind, kind.parse(format, hash, params))


def _load(stored: str) -> _Spec:
    if not isinstance(stored, str) or not stored.startswith("{"):  # passwords.is_imported
        raise FormatError("not an imported password hash")
    try:
        data = json.loads(stored)
    except (ValueError, RecursionError):
        raise FormatError("the stored password hash is not JSON") from None
    if not isinstance(data, dict) or set(data) != {"format", "hash", "params"}:
        raise FormatError("the stored password hash is not {format, hash, params}")
    return _parse(data["format"], data["hash"], data["params"])


# Small shared checks.


def _b64decode(text: str, fmt: str, what: str, pattern: re.Pattern[str] = _BASE64) -> bytes:
    """Standard base64 (padding optional); with `_BASE64_ANY`, URL-safe too; with `_AB64`,
    passlib's adapted base64."""
    if not isinstance(text, str) or not pattern.fullmatch(text) or len(text) > _MAX_TEXT:
        raise FormatError(f"{fmt}: {what} is not valid base64")
    text = text.rstrip("=").replace("-", "+").replace("_", "/").replace(".", "+")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error:
        raise FormatError(f"{fmt}: {what} is not valid base64") from None


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unpadded(data: bytes) -> str:
    return _b64encode(data).rstrip("=")


def _ab64(data: bytes) -> str:
    return _unpadded(data).replace("+", ".")


def _text(params: Mapping[str, object], key: str, fmt: str, *, default: str | None = None) -> str:
    value = params.get(key, default)
    if value is None:
        raise FormatError(f"{fmt}: the parameter {key!r} is missing")
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise FormatError(f"{fmt}: the parameter {key!r} must be a string")
    return value


def _choice(params: Mapping[str, object], key: str, fmt: str, choices: tuple[str, ...]) -> str:
    """One of `choices`; the first is the default."""
    value = params.get(key, choices[0])
    if value not in choices:
        raise FormatError(f"{fmt}: {key!r} must be one of {', '.join(choices)}")
    return str(value)


def _integer(value: object, fmt: str, what: str, low: int, high: int) -> int:
    """A whole number (a JSON number, never a string) within [low, high]."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise FormatError(f"{fmt}: {what} must be a whole number")
    if not low <= value <= high:
        raise FormatError(f"{fmt}: {what} must be between {low} and {high}")
    return value


def _decimal(text: str, fmt: str, what: str, low: int, high: int) -> int:
    """A number written in a hash. A leading zero is refused: no origin writes one, and the
    origins that compare whole encoded strings (Django) would never match it."""
    if not _DECIMAL.fullmatch(text):
        raise FormatError(f"{fmt}: {what} is not a number")
    return _integer(int(text), fmt, what, low, high)


def _check_scrypt_cost(fmt: str, n: int, r: int, p: int) -> None:
    if n < 2 or n & (n - 1):
        raise FormatError(f"{fmt}: scrypt's N must be a power of 2")
    if n > MAX_SCRYPT_N or r > MAX_SCRYPT_R or p > MAX_SCRYPT_P:
        raise FormatError(f"{fmt}: scrypt's cost is above this service's limit")
    if 128 * n * r > MAX_SCRYPT_MEMORY or n * r * p > MAX_SCRYPT_WORK:
        raise FormatError(f"{fmt}: scrypt's cost is above this service's limit")


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # OpenSSL refuses unless maxmem covers V (128*r*(N+2)) and B (128*r*p); its default is 32 MiB.
    maxmem = 128 * r * (n + 2) + 128 * r * p + 2**20
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=length, maxmem=maxmem)


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def _nfkc(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


# argon2: PHC strings, checked by argon2-cffi.

_ARGON2 = re.compile(
    r"\$argon2(?P<type>id|i)\$(?:v=(?P<version>16|19)\$)?"
    r"m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)


@dataclass(frozen=True)
class _Argon2:
    encoded: str
    type: str
    memory_cost: int
    time_cost: int
    parallelism: int


def _parse_argon2_phc(fmt: str, encoded: str) -> _Argon2:
    match = _ARGON2.fullmatch(encoded)
    if not match:
        raise FormatError(f"{fmt}: not a PHC $argon2id$ or $argon2i$ string")
    parallelism = _decimal(match["p"], fmt, "argon2's p", 1, MAX_ARGON2_PARALLELISM)
    memory = _decimal(match["m"], fmt, "argon2's m", 8 * parallelism, MAX_ARGON2_MEMORY_KIB)
    passes = _decimal(match["t"], fmt, "argon2's t", 1, MAX_ARGON2_TIME_COST)
    if memory * passes > MAX_ARGON2_WORK_KIB:
        raise FormatError(f"{fmt}: argon2's cost is above this service's limit")
    _b64decode(match["salt"], fmt, "the salt")
    _b64decode(match["hash"], fmt, "the hash")
    return _Argon2(encoded, match["type"], memory, passes, parallelism)


def _check_argon2(parsed: _Argon2, password: str) -> bool:
    import argon2

    try:
        # The hash names its own type and parameters; argon2-cffi reads them from it.
        return argon2.PasswordHasher().verify(parsed.encoded, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def _argon2_options(parsed: _Argon2) -> dict[str, object]:
    return {
        "type": parsed.type,
        "time_cost": parsed.time_cost,
        "memory_cost": parsed.memory_cost,
        "parallelism": parsed.parallelism,
    }


def _make_argon2_phc(password: str, options: Mapping[str, object]) -> str:
    """argon2-cffi's defaults (argon2id, t=3, m=64 MiB, p=4) unless `options` say otherwise."""
    import argon2

    kind = _choice(options, "type", "argon2", ("id", "i"))
    return argon2.PasswordHasher(
        time_cost=_integer(options.get("time_cost", 3), "argon2", "time_cost", 1, 2**16),
        memory_cost=_integer(options.get("memory_cost", 65536), "argon2", "memory_cost", 8, 2**24),
        parallelism=_integer(options.get("parallelism", 4), "argon2", "parallelism", 1, 2**8),
        type=argon2.Type.ID if kind == "id" else argon2.Type.I,
    ).hash(password)


_ARGON2_KIND = _Kind(
    parse=lambda fmt, hash_, params: _parse_argon2_phc(fmt, hash_),
    check=_check_argon2,
    options=_argon2_options,
    make=lambda password, options: (_make_argon2_phc(password, options), {}),
)


# bcrypt: $2a$, $2b$, $2y$, checked by pyca's bcrypt.

_BCRYPT = re.compile(r"\$(?P<prefix>2[aby])\$(?P<cost>\d\d)\$[./A-Za-z0-9]{53}")


@dataclass(frozen=True)
class _Bcrypt:
    encoded: str
    prefix: str
    cost: int


def _parse_bcrypt_string(fmt: str, encoded: str) -> _Bcrypt:
    match = _BCRYPT.fullmatch(encoded)
    if not match:
        raise FormatError(f"{fmt}: not a $2a$, $2b$ or $2y$ bcrypt hash")
    cost = _integer(int(match["cost"]), fmt, "bcrypt's cost", 4, MAX_BCRYPT_COST)
    return _Bcrypt(encoded, match["prefix"], cost)


def _bcrypt_input(password: bytes) -> bytes:
    # Every bcrypt before pyca's bcrypt 5 silently used the first 72 bytes; bcrypt 5 raises
    # instead. The origins truncated, so the same password has to reach the same 72 bytes.
    return password[:72]


def _check_bcrypt(parsed: _Bcrypt, password: str) -> bool:
    import bcrypt

    return bcrypt.checkpw(_bcrypt_input(password.encode()), parsed.encoded.encode("ascii"))


def _bcrypt_salt(cost: int, prefix: str) -> bytes:
    import bcrypt

    # gensalt makes only $2a$ and $2b$; $2y$ (PHP's name) is the same algorithm as $2b$.
    salt = bcrypt.gensalt(cost, prefix=b"2a" if prefix == "2a" else b"2b")
    return b"$" + prefix.encode() + salt[3:]


def _make_bcrypt(password: str, options: Mapping[str, object]) -> tuple[str, dict[str, object]]:
    """Cost 10 (Auth0's) and $2b$ unless `options` give `cost` and `prefix`."""
    import bcrypt

    cost = _integer(options.get("cost", 10), "bcrypt", "cost", 4, MAX_BCRYPT_COST)
    prefix = _choice(options, "prefix", "bcrypt", ("2b", "2a", "2y"))
    encoded = bcrypt.hashpw(_bcrypt_input(password.encode()), _bcrypt_salt(cost, prefix))
    return encoded.decode("ascii"), {}


_BCRYPT_KIND = _Kind(
    parse=lambda fmt, hash_, params: _parse_bcrypt_string(fmt, hash_),
    check=_check_bcrypt,
    options=lambda parsed: {"cost": parsed.cost, "prefix": parsed.prefix},
    make=_make_bcrypt,
)


# django: the encoded strings of Django's own hashers (django/contrib/auth/hashers.py). Each is
# checked as Django does: encode the password again with the stored salt and cost, and compare
# the whole encoded string.

_DJANGO_PBKDF2 = re.compile(r"(pbkdf2_sha256|pbkdf2_sha1)\$(\d+)\$([^$]+)\$([A-Za-z0-9+/=]+)")
_DJANGO_SCRYPT = re.compile(r"scrypt\$(\d+)\$([^$]+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)")
_DJANGO_MD5 = re.compile(r"md5\$([^$]+)\$([0-9a-f]{32})")
_DJANGO_DEFAULTS: dict[str, dict[str, object]] = {  # Django 6.1's own
    "pbkdf2_sha256": {"iterations": 1_500_000},
    "pbkdf2_sha1": {"iterations": 1_500_000},
    "argon2": {"type": "id", "time_cost": 2, "memory_cost": 102400, "parallelism": 8},
    "bcrypt_sha256": {"rounds": 12},
    "bcrypt": {"rounds": 12},
    "scrypt": {"work_factor": 2**14, "block_size": 8, "parallelism": 5},
    "md5": {},
}


@dataclass(frozen=True)
class _Django:
    encoded: str
    algorithm: str
    options: dict[str, Any]  # the making options of a hash of the same cost
    salt: str = ""
    inner: Any = None  # the argon2 or bcrypt part


def _parse_django(fmt: str, encoded: str, params: Mapping[str, object]) -> _Django:
    if "$" not in encoded:  # then it is no name but maybe a bare digest, kept out of the message
        raise FormatError("django: not a Django password hash")
    algorithm = encoded.split("$", 1)[0]
    if algorithm not in _DJANGO_DEFAULTS:
        raise FormatError(f"django: unknown algorithm {_shown(algorithm)}")
    if algorithm in ("pbkdf2_sha256", "pbkdf2_sha1"):
        match = _DJANGO_PBKDF2.fullmatch(encoded)
        if not match:
            raise FormatError(f"django: not a {algorithm} hash")
        iterations = _decimal(match[2], fmt, "the iterations", 1, MAX_PBKDF2_ITERATIONS)
        size = _DIGESTS[algorithm.removeprefix("pbkdf2_")]
        if len(_b64decode(match[4], fmt, "the hash")) != size:
            raise FormatError(f"django: the {algorithm} hash has the wrong length")
        return _Django(encoded, algorithm, {"iterations": iterations}, match[3])
    if algorithm == "argon2":
        inner = _parse_argon2_phc(fmt, encoded.removeprefix("argon2"))
        return _Django(encoded, algorithm, _argon2_options(inner), inner=inner)
    if algorithm in ("bcrypt_sha256", "bcrypt"):
        inner = _parse_bcrypt_string(fmt, encoded.removeprefix(algorithm + "$"))
        return _Django(encoded, algorithm, {"rounds": inner.cost}, inner=inner)
    if algorithm == "scrypt":
        match = _DJANGO_SCRYPT.fullmatch(encoded)
        if not match:
            raise FormatError("django: not a scrypt hash")
        n = _decimal(match[1], fmt, "scrypt's N", 2, MAX_SCRYPT_N)
        r = _decimal(match[3], fmt, "scrypt's r", 1, MAX_SCRYPT_R)
        p = _decimal(match[4], fmt, "scrypt's p", 1, MAX_SCRYPT_P)
        _check_scrypt_cost(fmt, n, r, p)
        if len(_b64decode(match[5], fmt, "the hash")) != 64:
            raise FormatError("django: the scrypt hash has the wrong length")
        options = {"work_factor": n, "block_size": r, "parallelism": p}
        return _Django(encoded, algorithm, options, match[2])
    match = _DJANGO_MD5.fullmatch(encoded)
    if not match:
        raise FormatError("django: not an md5 hash")
    return _Django(encoded, algorithm, {}, match[1])


def _django_encode(parsed: _Django, password: str) -> str:
    """What Django's hasher writes for `password` with the stored salt and cost."""
    algorithm, options = parsed.algorithm, parsed.options
    secret = password.encode()
    if algorithm in ("pbkdf2_sha256", "pbkdf2_sha1"):
        digest, iterations = algorithm.removeprefix("pbkdf2_"), options["iterations"]
        key = hashlib.pbkdf2_hmac(digest, secret, parsed.salt.encode(), iterations)
        return f"{algorithm}${iterations}${parsed.salt}${_b64encode(key)}"
    if algorithm in ("bcrypt_sha256", "bcrypt"):
        import bcrypt

        if algorithm == "bcrypt_sha256":  # Django's own fix for bcrypt's 72 bytes
            secret = binascii.hexlify(hashlib.sha256(secret).digest())
        data = bcrypt.hashpw(_bcrypt_input(secret), parsed.inner.encoded.encode("ascii"))
        return f"{algorithm}${data.decode('ascii')}"
    if algorithm == "scrypt":
        n, r, p = options["work_factor"], options["block_size"], options["parallelism"]
        key = _scrypt(secret, parsed.salt.encode(), n, r, p, 64)
        return f"scrypt${n}${parsed.salt}${r}${p}${_b64encode(key)}"
    return f"md5${parsed.salt}${hashlib.md5(parsed.salt.encode() + secret).hexdigest()}"  # noqa: S324 -- Django's MD5PasswordHasher


def _check_django(parsed: _Django, password: str) -> bool:
    if parsed.algorithm == "argon2":  # Django hands "$argon2id$..." to argon2-cffi
        return _check_argon2(parsed.inner, password)
    return _same(_django_encode(parsed, password).encode(), parsed.encoded.encode())


def _make_django(password: str, options: dict[str, object]) -> tuple[str, dict[str, object]]:
    """`algorithm` (default pbkdf2_sha256) at Django 6.1's default cost unless `options` give
    it: `iterations`, `rounds`, `work_factor`/`block_size`/`parallelism`, or argon2's
    `time_cost`/`memory_cost`/`parallelism`."""
    algorithm = _choice(options, "algorithm", "django", tuple(_DJANGO_DEFAULTS))
    cost = {**_DJANGO_DEFAULTS[algorithm], **options}
    cost.pop("algorithm", None)
    salt = secrets.token_hex(11)  # Django's: 22 characters
    if algorithm == "argon2":
        return "argon2" + _make_argon2_phc(password, cost), {}
    if algorithm in ("bcrypt_sha256", "bcrypt"):
        rounds = _integer(cost["rounds"], "django", "rounds", 4, MAX_BCRYPT_COST)
        inner = _Bcrypt(_bcrypt_salt(rounds, "2b").decode("ascii"), "2b", rounds)
        return _django_encode(_Django("", algorithm, cost, inner=inner), password), {}
    return _django_encode(_Django("", algorithm, cost, salt), password), {}


_DJANGO_KIND = _Kind(
    parse=_parse_django,
    check=_check_django,
    options=lambda parsed: {"algorithm": parsed.algorithm, **parsed.options},
    make=_make_django,
)


# pbkdf2: PHC-style strings. passlib's `$pbkdf2-sha256$29000$salt$hash` (and `$pbkdf2$` for
# SHA-1) with its adapted base64, and the PHC form Auth0 imports,
# `$pbkdf2-sha512$i=100000,l=64$salt$hash`, with unpadded standard base64.

_PBKDF2_PASSLIB = re.compile(r"\$pbkdf2(?:-(sha1|sha256|sha512))?\$(\d+)\$([^$]*)\$([^$]+)")
_PBKDF2_PHC = re.compile(r"\$pbkdf2-(sha1|sha256|sha512)\$i=(\d+)(?:,l=(\d+))?\$([^$]*)\$([^$]+)")
_PASSLIB_ROUNDS = {"sha1": 131000, "sha256": 29000, "sha512": 25000}  # passlib 1.7's defaults


@dataclass(frozen=True)
class _Pbkdf2:
    digest: str
    iterations: int
    salt: bytes
    key: bytes
    variant: str


def _parse_pbkdf2(fmt: str, encoded: str, params: Mapping[str, object]) -> _Pbkdf2:
    if match := _PBKDF2_PHC.fullmatch(encoded):
        digest, variant, pattern = match[1], "phc", _BASE64
        iterations, length, salt, key = match[2], match[3], match[4], match[5]
    elif match := _PBKDF2_PASSLIB.fullmatch(encoded):
        digest, variant, pattern = match[1] or "sha1", "passlib", _AB64
        iterations, length, salt, key = match[2], None, match[3], match[4]
    else:
        raise FormatError("pbkdf2: not a $pbkdf2-<digest>$ string")
    iterations = _decimal(iterations, fmt, "the iterations", 1, MAX_PBKDF2_ITERATIONS)
    salt_bytes = _b64decode(salt, fmt, "the salt", pattern) if salt else b""
    key_bytes = _b64decode(key, fmt, "the hash", pattern)
    # passlib's checksum is always one digest long; the PHC form says its length (l).
    expected = _DIGESTS[digest] if length is None else _decimal(length, fmt, "l", 1, 1024)
    if len(key_bytes) != expected:
        raise FormatError("pbkdf2: the hash has the wrong length")
    blocks = -(-expected // _DIGESTS[digest])  # each block of the key costs every iteration
    if iterations * blocks > MAX_PBKDF2_ITERATIONS:
        raise FormatError("pbkdf2: the cost is above this service's limit")
    return _Pbkdf2(digest, iterations, salt_bytes, key_bytes, variant)


def _check_pbkdf2(parsed: _Pbkdf2, password: str) -> bool:
    key = hashlib.pbkdf2_hmac(
        parsed.digest, password.encode(), parsed.salt, parsed.iterations, len(parsed.key)
    )
    return _same(key, parsed.key)


def _make_pbkdf2(password: str, options: Mapping[str, object]) -> tuple[str, dict[str, object]]:
    """passlib's form and rounds for `digest` (default sha256) unless `options` give
    `variant` ("passlib" or "phc"), `iterations` and, for "phc", `length`."""
    digest = _choice(options, "digest", "pbkdf2", ("sha256", "sha1", "sha512"))
    variant = _choice(options, "variant", "pbkdf2", ("passlib", "phc"))
    iterations = _integer(
        options.get("iterations", _PASSLIB_ROUNDS[digest]), "pbkdf2", "iterations", 1, 10**9
    )
    length = _DIGESTS[digest] if variant == "passlib" else options.get("length", _DIGESTS[digest])
    length = _integer(length, "pbkdf2", "length", 1, 1024)
    salt = secrets.token_bytes(16)
    key = hashlib.pbkdf2_hmac(digest, password.encode(), salt, iterations, length)
    if variant == "passlib":
        ident = "pbkdf2" if digest == "sha1" else f"pbkdf2-{digest}"
        return f"${ident}${iterations}${_ab64(salt)}${_ab64(key)}", {}
    return f"$pbkdf2-{digest}$i={iterations},l={length}${_unpadded(salt)}${_unpadded(key)}", {}


_PBKDF2_KIND = _Kind(
    parse=_parse_pbkdf2,
    check=_check_pbkdf2,
    options=lambda parsed: {
        "digest": parsed.digest,
        "variant": parsed.variant,
        "iterations": parsed.iterations,
        "length": len(parsed.key),
    },
    make=_make_pbkdf2,
)


# scrypt: the PHC string passlib writes, `$scrypt$ln=16,r=8,p=1$salt$hash`, unpadded base64.

_SCRYPT_PHC = re.compile(r"\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([^$]*)\$([^$]+)")


@dataclass(frozen=True)
class _Scrypt:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes


def _parse_scrypt(fmt: str, encoded: str, params: Mapping[str, object]) -> _Scrypt:
    match = _SCRYPT_PHC.fullmatch(encoded)
    if not match:
        raise FormatError("scrypt: not a $scrypt$ln=..,r=..,p=..$ string")
    ln = _decimal(match[1], fmt, "ln", 1, 20)
    r = _decimal(match[2], fmt, "r", 1, MAX_SCRYPT_R)
    p = _decimal(match[3], fmt, "p", 1, MAX_SCRYPT_P)
    _check_scrypt_cost(fmt, 2**ln, r, p)
    salt = _b64decode(match[4], fmt, "the salt") if match[4] else b""
    key = _b64decode(match[5], fmt, "the hash")
    if not 16 <= len(key) <= 128:
        raise FormatError("scrypt: the hash has the wrong length")
    return _Scrypt(2**ln, r, p, salt, key)


def _check_scrypt(parsed: _Scrypt, password: str) -> bool:
    key = _scrypt(password.encode(), parsed.salt, parsed.n, parsed.r, parsed.p, len(parsed.key))
    return _same(key, parsed.key)


def _make_scrypt(password: str, options: Mapping[str, object]) -> tuple[str, dict[str, object]]:
    """passlib's defaults (ln=16, r=8, p=1, 32 bytes) unless `options` give `ln`, `r`, `p`."""
    ln = _integer(options.get("ln", 16), "scrypt", "ln", 1, 20)
    r = _integer(options.get("r", 8), "scrypt", "r", 1, MAX_SCRYPT_R)
    p = _integer(options.get("p", 1), "scrypt", "p", 1, MAX_SCRYPT_P)
    salt = secrets.token_bytes(16)
    key = _scrypt(password.encode(), salt, 2**ln, r, p, 32)
    return f"$scrypt$ln={ln},r={r},p={p}${_unpadded(salt)}${_unpadded(key)}", {}


_SCRYPT_KIND = _Kind(
    parse=_parse_scrypt,
    check=_check_scrypt,
    options=lambda parsed: {"ln": parsed.n.bit_length() - 1, "r": parsed.r, "p": parsed.p},
    make=_make_scrypt,
)


# firebase_scrypt: Firebase Auth's modified scrypt (github.com/firebase/scrypt). The derived
# key's first 32 bytes encrypt the project's signer key with AES-256-CTR (zero IV); the result
# is the user's password hash. Params: the user's salt, and the project's hash configuration.


@dataclass(frozen=True)
class _Firebase:
    key: bytes
    salt: bytes
    signer_key: bytes
    salt_separator: bytes
    rounds: int
    mem_cost: int


def _parse_firebase(fmt: str, encoded: str, params: Mapping[str, object]) -> _Firebase:
    key = _b64decode(encoded, fmt, "the hash", _BASE64_ANY)
    salt = _b64decode(_text(params, "salt", fmt), fmt, "the salt", _BASE64_ANY)
    signer_key = _b64decode(_text(params, "signer_key", fmt), fmt, "signer_key", _BASE64_ANY)
    separator = _text(params, "salt_separator", fmt)
    separator_bytes = (
        _b64decode(separator, fmt, "salt_separator", _BASE64_ANY) if separator else b""
    )
    rounds = _integer(params.get("rounds"), fmt, "rounds", 1, MAX_SCRYPT_R)
    mem_cost = _integer(params.get("mem_cost"), fmt, "mem_cost", 1, 20)
    _check_scrypt_cost(fmt, 2**mem_cost, rounds, 1)
    if len(key) != len(signer_key):  # AES-CTR keeps the length
        raise FormatError("firebase_scrypt: the hash does not match the signer key's length")
    return _Firebase(key, salt, signer_key, separator_bytes, rounds, mem_cost)


def _firebase_hash(parsed: _Firebase, password: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    derived = _scrypt(
        password.encode(),
        parsed.salt + parsed.salt_separator,
        2**parsed.mem_cost,
        parsed.rounds,
        1,
        64,
    )
    encryptor = Cipher(algorithms.AES(derived[:32]), modes.CTR(bytes(16))).encryptor()
    return encryptor.update(parsed.signer_key) + encryptor.finalize()


def _make_firebase(password: str, options: Mapping[str, object]) -> tuple[str, dict[str, object]]:
    """A new project's: random signer key, separator `Bw==`, rounds 8, mem_cost 14, unless
    `options` give them."""
    params: dict[str, object] = {
        "signer_key": _b64encode(secrets.token_bytes(64)),
        "salt_separator": "Bw==",
        "rounds": 8,
        "mem_cost": 14,
        **options,
        "salt": _b64encode(secrets.token_bytes(12)),
    }
    fmt = "firebase_scrypt"
    signer_key = _b64decode(_text(params, "signer_key", fmt), fmt, "signer_key", _BASE64_ANY)
    parsed = _parse_firebase(fmt, _b64encode(bytes(len(signer_key))), params)
    return _b64encode(_firebase_hash(parsed, password)), params


_FIREBASE_KIND = _Kind(
    parse=_parse_firebase,
    check=lambda parsed, password: _same(_firebase_hash(parsed, password), parsed.key),
    options=lambda parsed: {"rounds": parsed.rounds, "mem_cost": parsed.mem_cost},
    make=_make_firebase,
    params=frozenset({"salt", "signer_key", "salt_separator", "rounds", "mem_cost"}),
)


# lucia_scrypt and better_auth_scrypt: `salt:key`, scrypt N=16384, p=1, 64 bytes, the salt
# string's UTF-8 bytes as the salt and the key in lower-case hex. What differs:
# - Lucia v1 (lucia-auth 1.x): `s2:salt:key` with r=16, or a pre-1.0 `salt:key` with r=8; it
#   NFKC-normalized a password when hashing it but not when checking it, so that is what is
#   checked here too.
# - Lucia v2 (lucia 2.x), and v3's LegacyScrypt, which is v2's algorithm: the same two forms,
#   NFKC-normalized on both sides. A v3 project that kept its v2 hashes names its source v2.
# - Lucia v3's Scrypt (and oslo's, which its guide also used): `salt:key` with r=16, NFKC; a
#   v3 `s2:salt:key` can only be LegacyScrypt's, and is checked as v2 would.
# - Better Auth's hashPassword: `salt:key` with r=16, NFKC (as oslo's Scrypt).

_SCRYPT_KEY = re.compile(r"[0-9a-f]{128}")
_LUCIA_VERSIONS = ("v1", "v2", "v3")


@dataclass(frozen=True)
class _SaltKey:
    salt: str
    key: str
    r: int
    nfkc: bool
    version: str = ""
    legacy: bool = False  # Lucia's pre-1.0 two-part form, r=8


def _split_salt_key(fmt: str, encoded: str) -> list[str]:
    parts = encoded.split(":")
    if not 2 <= len(parts) <= 3 or not all(parts):
        raise FormatError(f"{fmt}: not a salt:key hash")
    if not _SCRYPT_KEY.fullmatch(parts[-1]):
        raise FormatError(f"{fmt}: the key is not 64 bytes of lower-case hex")
    return parts


def _parse_lucia(fmt: str, encoded: str, params: Mapping[str, object]) -> _SaltKey:
    if "version" not in params:
        raise FormatError("lucia_scrypt: the parameter 'version' (v1, v2 or v3) is missing")
    version = _choice(params, "version", fmt, _LUCIA_VERSIONS)
    parts = _split_salt_key(fmt, encoded)
    if len(parts) == 3 and parts[0] != "s2":
        raise FormatError("lucia_scrypt: a three-part hash must start with s2:")
    legacy = len(parts) == 2 and version != "v3"
    return _SaltKey(parts[-2], parts[-1], 8 if legacy else 16, version != "v1", version, legacy)


def _parse_better_auth(fmt: str, encoded: str, params: Mapping[str, object]) -> _SaltKey:
    parts = _split_salt_key(fmt, encoded)
    if len(parts) != 2:
        raise FormatError("better_auth_scrypt: not a salt:key hash")
    return _SaltKey(parts[0], parts[1], 16, True)


def _check_salt_key(parsed: _SaltKey, password: str) -> bool:
    secret = (_nfkc(password) if parsed.nfkc else password).encode()
    key = _scrypt(secret, parsed.salt.encode(), 16384, parsed.r, 1, 64)
    # The origins compare lower-case hex, and the key's shape was checked to be just that.
    return _same(key, bytes.fromhex(parsed.key))


def _salt_key(salt: str, password: str, r: int) -> str:
    # Both hash the NFKC form (Lucia v1 too, though it did not check with it).
    return _scrypt(_nfkc(password).encode(), salt.encode(), 16384, r, 1, 64).hex()


def _make_lucia(password: str, options: Mapping[str, object]) -> tuple[str, dict[str, object]]:
    """As Lucia `version` (default v3) makes one: v1/v2 `s2:salt:key` with a 16-character
    salt, v3 `salt:key` with a hex salt; `legacy: true` gives v1/v2's pre-1.0 `salt:key`."""
    version = _choice(options, "version", "lucia_scrypt", ("v3", "v2", "v1"))
    if version == "v3":
        salt = secrets.token_hex(16)
        return f"{salt}:{_salt_key(salt, password, 16)}", {"version": version}
    salt = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz1234567890") for _ in range(16))
    if options.get("legacy"):
        return f"{salt}:{_salt_key(salt, password, 8)}", {"version": version}
    return f"s2:{salt}:{_salt_key(salt, password, 16)}", {"version": version}


def _make_better_auth(
    password: str, options: Mapping[str, object]
) -> tuple[str, dict[str, object]]:
    salt = secrets.token_hex(16)
    return f"{salt}:{_salt_key(salt, password, 16)}", {}


_LUCIA_KIND = _Kind(
    parse=_parse_lucia,
    check=_check_salt_key,
    options=lambda parsed: {"version": parsed.version, "legacy": parsed.legacy},
    make=_make_lucia,
    params=frozenset({"version"}),
)
_BETTER_AUTH_KIND = _Kind(
    parse=_parse_better_auth,
    check=_check_salt_key,
    options=lambda parsed: {},
    make=_make_better_auth,
)


# md5, sha1, sha256, sha512: a salted digest, as Auth0's custom_password_hash and Clerk allow.
# Params (all optional): salt (none: unsalted), salt_position prefix|suffix, salt_encoding
# utf8|hex|base64, hash_encoding hex|base64.

_DIGEST_PARAMS = frozenset({"salt", "salt_position", "salt_encoding", "hash_encoding"})


@dataclass(frozen=True)
class _Digest:
    algorithm: str
    digest: bytes
    salt: bytes
    suffix: bool
    options: dict[str, object]


def _decode(text: str, encoding: str, fmt: str, what: str) -> bytes:
    if encoding == "utf8":
        return text.encode()
    if encoding == "base64":
        return _b64decode(text, fmt, what)
    if not _HEX.fullmatch(text) or len(text) % 2:
        raise FormatError(f"{fmt}: {what} is not valid hex")
    return bytes.fromhex(text)


def _parse_digest(fmt: str, encoded: str, params: Mapping[str, object]) -> _Digest:
    position = _choice(params, "salt_position", fmt, ("prefix", "suffix"))
    salt_encoding = _choice(params, "salt_encoding", fmt, ("utf8", "hex", "base64"))
    hash_encoding = _choice(params, "hash_encoding", fmt, ("hex", "base64"))
    salt = _decode(_text(params, "salt", fmt, default=""), salt_encoding, fmt, "the salt")
    digest = _decode(encoded, hash_encoding, fmt, "the hash")
    if len(digest) != _DIGESTS[fmt]:
        raise FormatError(f"{fmt}: the hash is not a {fmt} digest")
    options = {"salt_position": position, "salt_encoding": salt_encoding}
    return _Digest(
        fmt, digest, salt, position == "suffix", options | {"hash_encoding": hash_encoding}
    )


def _digest_of(algorithm: str, salt: bytes, suffix: bool, password: str) -> bytes:
    secret = password.encode()
    data = secret + salt if suffix else salt + secret
    return hashlib.new(algorithm, data).digest()


def _make_digest(
    algorithm: str,
) -> Callable[[str, dict[str, object]], tuple[str, dict[str, object]]]:
    def make(password: str, options: dict[str, object]) -> tuple[str, dict[str, object]]:
        """16 random salt bytes, written in `salt_encoding` (utf8: as 32 hex characters)."""
        position = _choice(options, "salt_position", algorithm, ("prefix", "suffix"))
        salt_encoding = _choice(options, "salt_encoding", algorithm, ("utf8", "hex", "base64"))
        hash_encoding = _choice(options, "hash_encoding", algorithm, ("hex", "base64"))
        raw = secrets.token_bytes(16)
        salt = _b64encode(raw) if salt_encoding == "base64" else raw.hex()
        salt_bytes = salt.encode() if salt_encoding == "utf8" else raw
        digest = _digest_of(algorithm, salt_bytes, position == "suffix", password)
        encoded = digest.hex() if hash_encoding == "hex" else _b64encode(digest)
        params = {"salt": salt, "salt_position": position, "salt_encoding": salt_encoding}
        return encoded, params | {"hash_encoding": hash_encoding}

    return make


def _digest_kind(algorithm: str) -> _Kind:
    return _Kind(
        parse=_parse_digest,
        check=lambda parsed, password: _same(
            _digest_of(parsed.algorithm, parsed.salt, parsed.suffix, password), parsed.digest
        ),
        options=lambda parsed: dict(parsed.options),
        make=_make_digest(algorithm),
        params=_DIGEST_PARAMS,
    )


_KINDS: dict[str, _Kind] = {
    "argon2": _ARGON2_KIND,
    "bcrypt": _BCRYPT_KIND,
    "django": _DJANGO_KIND,
    "pbkdf2": _PBKDF2_KIND,
    "scrypt": _SCRYPT_KIND,
    "firebase_scrypt": _FIREBASE_KIND,
    "lucia_scrypt": _LUCIA_KIND,
    "better_auth_scrypt": _BETTER_AUTH_KIND,
    **{algorithm: _digest_kind(algorithm) for algorithm in _DIGESTS},
}
# The import format's `password.format` names, in the docs' order.
FORMATS: tuple[str, ...] = tuple(_KINDS)
