"""What every adapter shares: reading a file as JSON, JSON Lines or CSV, checking one field at a
time, and building our import format's record. One place decides what "malformed" means, so the
eight adapters reject alike, and the reasons never quote a hash or a secret."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from devtools.sources import SourceError, SourceLine

GOOGLE = "https://accounts.google.com"
GITHUB = "https://github.com"
APPLE = "https://appleid.apple.com"

_LAST_SECOND = 253402300799  # 9999-12-31T23:59:59Z: the last instant datetime can name
_MILLISECONDS_FROM = 100_000_000_000  # a number this large is milliseconds (year 5138 in s)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,39}")
_HEXISH = re.compile(r"[0-9a-fA-F]{16,}")
_ISSUER = re.compile(r"https://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s?#,=]*)?")
_LOCAL_ISSUER = re.compile(r"http://(localhost|127\.0\.0\.1)(:\d{1,5})?(/[^\s?#,=]*)?")
MAX_SUBJECT = 255  # chalicelib.oauth refuses a longer subject from a provider


class Reject(Exception):
    """This record cannot be imported: the message is the report's reason."""


# -- reading files -------------------------------------------------------------------------


def read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SourceError(f"{path} is not UTF-8 text") from None


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def parse_json(text: str) -> object:
    """json.loads with JSON's own rules (no NaN or Infinity); raises ValueError or
    RecursionError (nesting deeper than the interpreter's stack), never with the input."""
    return json.loads(text, parse_constant=_no_constant)


def load_json(path: Path) -> object:
    text = read_text(path)
    try:
        return parse_json(text)
    except json.JSONDecodeError as error:
        raise SourceError(
            f"{path} is not JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    except RecursionError:
        raise SourceError(f"{path} nests too deeply to read") from None
    except ValueError as error:  # a NaN, or an integer beyond Python's digit limit
        raise SourceError(f"{path} is not JSON this tool reads: {str(error)[:120]}") from None


def json_lines(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, parsed value or Reject) per non-blank line of a JSON Lines file."""
    try:
        handle = path.open("rb")
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror or error}") from None

    def parsed() -> Iterator[tuple[int, object]]:
        with handle:
            for number, raw in enumerate(handle, start=1):
                try:
                    text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    yield number, Reject("not UTF-8 text")
                    continue
                if not text.strip():
                    continue
                try:
                    yield number, parse_json(text)
                except json.JSONDecodeError as error:
                    yield number, Reject(f"not JSON ({error.msg}, column {error.colno})")
                except RecursionError:
                    yield number, Reject("nests too deeply to read")
                except ValueError as error:
                    yield number, Reject(f"not JSON this tool reads: {str(error)[:120]}")

    return parsed()


def first_character(path: Path) -> str:
    """The file's first non-blank character ("" for an empty file): tells a JSON array from
    JSON Lines without reading the whole file."""
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(4096):
                stripped = chunk.lstrip(b" \t\r\n\xef\xbb\xbf")
                if stripped:
                    return chr(stripped[0])
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror or error}") from None
    return ""


def csv_rows(path: Path, required: Iterable[str]) -> tuple[list[str], Iterator[tuple[int, object]]]:
    """The header and (line number, {column: value} or Reject) per data row of a CSV file."""
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as error:
        raise SourceError(f"{path} is not CSV: {error}") from None
    if not header:
        raise SourceError(f"{path} is empty: no CSV header")
    header = [column.strip() for column in header]
    missing = [column for column in required if column not in header]
    if missing:
        raise SourceError(f"{path} has no column {', '.join(missing)} in its header")

    def rows() -> Iterator[tuple[int, object]]:
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield start, Reject(f"not a CSV row: {str(error)[:80]}")
                if reader.line_num < start:  # nothing consumed: it would fail again forever
                    return
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                yield start, Reject(f"{len(row)} fields where the header names {len(header)}")
                continue
            yield start, dict(zip(header, row + [""] * (len(header) - len(row)), strict=True))

    return header, rows()


# -- one record ----------------------------------------------------------------------------


def lines(
    items: Iterable[tuple[int, object]], convert: Callable[[object], dict]
) -> Iterator[SourceLine]:
    """A SourceLine per item: convert's record, or its Reject's reason. Hostile input can
    still trip a conversion in a way no check foresaw: that item is rejected by the kind of
    fault alone (its message could quote the input), and the rest go on."""
    for number, item in items:
        if isinstance(item, Reject):
            yield SourceLine(number, None, str(item))
            continue
        try:
            yield SourceLine(number, convert(item), None)
        except Reject as reason:
            yield SourceLine(number, None, str(reason))
        except (
            TypeError,
            ValueError,
            KeyError,
            IndexError,
            AttributeError,
            OverflowError,
            RecursionError,
        ) as fault:
            yield SourceLine(number, None, f"malformed record ({type(fault).__name__})")


def user(
    *,
    email: str,
    email_verified: bool,
    created_at: int | None,
    password: dict | None,
    source_id: str,
    identities: Iterable[dict] = (),
    totp_secret: str | None = None,
    roles: Iterable[str] = (),
) -> dict:
    """Our import format's record (docs/migration.md), every key present."""
    unique: dict[tuple[str, str], dict] = {}
    for identity in identities:
        unique.setdefault((identity["issuer"], identity["subject"]), identity)
    return {
        "email": email,
        "email_verified": email_verified,
        "created_at": created_at,
        "password": password,
        "totp_secret": totp_secret,
        "identities": list(unique.values()),
        "passkeys": [],
        "roles": list(roles),
        "source_id": source_id,
    }


def password(format: str, hash: str, params: Mapping[str, object] | None = None) -> dict:
    return {"format": format, "hash": hash, "params": dict(params or {})}


def digest_params(
    *, salt: str = "", position: str = "prefix", salt_encoding: str = "utf8", hash_encoding: str
) -> dict[str, str]:
    """The params of a salted md5/sha1/sha256/sha512 digest, every one spelled out (an unsalted
    digest has the empty salt)."""
    return {
        "salt": salt,
        "salt_position": position,
        "salt_encoding": salt_encoding,
        "hash_encoding": hash_encoding,
    }


def password_string(value: str, what: str) -> dict:
    """A self-describing hash string (modular crypt or PHC) as our format: bcrypt, Argon2 or
    Supabase's `$fbscrypt$` (GoTrue's serialisation of Firebase's scrypt)."""
    if value.startswith(("$2a$", "$2b$", "$2y$")):
        return password("bcrypt", value)
    if value.startswith("$argon2"):
        return password("argon2", value)
    if value.startswith("$fbscrypt$"):
        return fbscrypt(value, what)
    if value.startswith("$pbkdf2"):
        return password("pbkdf2", value)
    if value.startswith("$scrypt$"):
        return password("scrypt", value)
    prefix = re.match(r"\$([A-Za-z0-9-]{1,32})\$", value)
    shown = name(prefix.group(1)) if prefix else "(unrecognised)"
    raise Reject(f"{what}: password hash format {shown} is not supported")


_FBSCRYPT = re.compile(
    r"\$fbscrypt\$v=1,n=(\d{1,3}),r=(\d{1,3}),p=1,ss=([^,$]*),sk=([^$]+)\$([^$]+)\$([^$]+)"
)


def fbscrypt(value: str, what: str) -> dict:
    """GoTrue's `$fbscrypt$v=1,n=<log2 N>,r=<r>,p=1,ss=<b64>,sk=<b64>$<salt>$<hash>`: N = 2^n is
    Firebase's mem_cost, r its rounds (supabase/auth internal/crypto/password.go)."""
    match = _FBSCRYPT.fullmatch(value)
    if not match:
        raise Reject(f"{what}: not a $fbscrypt$ v=1 hash with p=1")
    mem_cost, rounds, separator, signer_key, salt, hashed = match.groups()
    return firebase_scrypt(hashed, salt, signer_key, separator, rounds, mem_cost, what)


def firebase_scrypt(
    hashed: str,
    salt: str,
    signer_key: str,
    separator: str,
    rounds: object,
    mem_cost: object,
    what: str,
) -> dict:
    """Firebase's modified scrypt with its project's parameters (all base64 but the two
    numbers; the ranges are auth:import's)."""
    for part, label in ((hashed, "hash"), (salt, "salt"), (signer_key, "signer key")):
        if not part or not is_base64(part):
            raise Reject(f"{what}: the Firebase scrypt {label} is not base64")
    if not is_base64(separator):
        raise Reject(f"{what}: the Firebase scrypt salt separator is not base64")
    return password(
        "firebase_scrypt",
        hashed,
        {
            "salt": salt,
            "signer_key": signer_key,
            "salt_separator": separator,
            "rounds": bounded(rounds, 1, 8, f"{what}: Firebase scrypt rounds", Reject),
            "mem_cost": bounded(mem_cost, 1, 14, f"{what}: Firebase scrypt mem_cost", Reject),
        },
    )


def is_base64(value: str) -> bool:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def bounded(value: object, low: int, high: int, what: str, error: type[Exception]) -> int:
    """An integer (or its decimal string) within [low, high]; else `error`."""
    if isinstance(value, str) and re.fullmatch(r"\d{1,6}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise error(f"{what} is not a whole number from {low} to {high}")
    return value


def name(value: object) -> str:
    """A hasher's or algorithm's name, quoted, when it reads as a name; a digest that landed in
    the wrong column is never echoed."""
    if isinstance(value, str) and _NAME.fullmatch(value) and not _HEXISH.search(value):
        return repr(value)
    return "(not a name: not shown)"


# -- fields --------------------------------------------------------------------------------


def obj(value: object, what: str) -> Mapping:
    if not isinstance(value, dict):
        raise Reject(f"{what} is not a JSON object")
    return value


def items(value: object, what: str) -> list:
    """A list, or [] when absent."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Reject(f"{what} is not a list")
    return value


def get(record: Mapping, *keys: str) -> object:
    """The first of `keys` present and not null (camelCase and snake_case of one column)."""
    for key in keys:
        value = record.get(key)
        if value is not None:
            return value
    return None


def text(value: object, what: str) -> str | None:
    """A non-empty string, or None when absent or empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Reject(f"{what} is not a string")
    return value


def required(value: object, what: str) -> str:
    found = text(value, what)
    if found is None:
        raise Reject(f"no {what}")
    return found


def identifier(value: object, what: str) -> str:
    """An id that some systems write as a number (a GitHub user id, a Django pk)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    found = required(value, what)
    if len(found) > MAX_SUBJECT:
        raise Reject(f"{what} is longer than {MAX_SUBJECT} characters")
    return found


_TRUE = {"true", "t", "1", "yes"}
_FALSE = {"false", "f", "0", "no", ""}


def flag(value: object, what: str) -> bool:
    """True or false, as JSON, SQLite (0/1) or a CSV/psql text export ("true", "t") writes it;
    absent is false."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise Reject(f"{what} is not true or false")


def seconds(value: object, what: str, *, unit: str = "auto") -> int | None:
    """Seconds since the epoch from an ISO 8601 string (a naive one is UTC), a number of
    seconds or milliseconds (`unit` "s", "ms", or "auto": a number past 10^11 is ms), or
    MongoDB's {"$date": ...}; None when absent."""
    if isinstance(value, dict) and set(value) == {"$date"}:  # unwrapped once, never recursed
        value, unit = value["$date"], "ms"
    if isinstance(value, dict) and set(value) == {"$numberLong"}:
        value = value["$numberLong"]
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Reject(f"{what} is not a date")
    numeric = isinstance(value, str) and re.fullmatch(r"\s*\d{1,17}(\.\d{1,9})?\s*", value)
    number = float(value) if isinstance(value, int | float) or numeric else None
    if number is not None:
        if unit == "ms" or (unit == "auto" and number >= _MILLISECONDS_FROM):
            number /= 1000
        if not math.isfinite(number) or not 0 <= number <= _LAST_SECOND:
            raise Reject(f"{what} is not a date")
        return int(number)
    if not isinstance(value, str) or len(value) > 64:
        raise Reject(f"{what} is not a date")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Reject(f"{what} is not an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        result = int(moment.timestamp())
    except (OverflowError, ValueError, OSError):
        raise Reject(f"{what} is not a date") from None
    if not 0 <= result <= _LAST_SECOND:
        raise Reject(f"{what} is before 1970")
    return result


# -- identities ----------------------------------------------------------------------------


def issuers(defaults: Mapping[str, str], option: str | None) -> dict[str, str]:
    """The source's provider names -> our identities' issuers: the adapter's defaults, then the
    `issuers` option (`provider=https://issuer,provider2=...`) adding or replacing entries,
    for an OpenID provider the team configured under its own issuer (OAUTH_<ID>_ISSUER) or a
    GitHub Enterprise Server (OAUTH_GITHUB_URL)."""
    mapping = dict(defaults)
    for entry in (option or "").split(","):
        if not entry.strip():
            continue
        provider, separator, issuer = entry.partition("=")
        provider, issuer = provider.strip(), issuer.strip().rstrip("/")
        if not separator or not provider:
            raise SourceError(f"--issuers: {entry.strip()!r} is not provider=https://issuer")
        if not (_ISSUER.fullmatch(issuer) or _LOCAL_ISSUER.fullmatch(issuer)):
            raise SourceError(f"--issuers: {provider}'s issuer is not an https URL")
        mapping[provider] = issuer
    return mapping


def identity(mapping: Mapping[str, str], provider: object, subject: object) -> dict | None:
    """{issuer, subject} for a provider we know, None for one we do not (dropped: the user can
    still sign in with an emailed code and link that provider again)."""
    if not isinstance(provider, str) or provider not in mapping:
        return None
    return {"issuer": mapping[provider], "subject": identifier(subject, f"{provider} user id")}
