"""Firebase Authentication: `firebase auth:export users.json --format=json`, plus the project's
password hash parameters as options (Firebase console, Authentication > Users > "Password hash
parameters": base64_signer_key, base64_salt_separator, rounds, mem_cost).

Docs:
- https://firebase.google.com/docs/cli/auth (auth:export, the JSON file format: {"users": [
  {localId, email, emailVerified, passwordHash, salt, createdAt (ms, a string), disabled,
  providerUserInfo [{providerId, rawId, ...}], mfaInfo, ...}]}, and the hash parameters)
- https://github.com/firebase/scrypt (the modified scrypt those parameters drive)

Mapping:
- localId is the source_id; `disabled` users are rejected (our format has no disabled state).
- passwordHash + salt -> `firebase_scrypt` with the project's parameters. An empty passwordHash
  means a hash Firebase made with another algorithm (an earlier import): no password here.
- providerUserInfo: google.com, github.com and apple.com become identities ({issuer, rawId});
  `password` and `phone` are not identities; other providers (facebook.com, twitter.com,
  microsoft.com, oidc.*, saml.*) are dropped unless `--issuers` names them.
- Dropped: mfaInfo (Firebase's second factors are SMS, which this service does not offer),
  phone numbers, display names, customAttributes (roles are granted here by the admin API).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from devtools.sources import SourceError, SourceLine
from devtools.sources._common import (
    APPLE,
    GITHUB,
    GOOGLE,
    Reject,
    bounded,
    firebase_scrypt,
    flag,
    identifier,
    identity,
    is_base64,
    issuers,
    items,
    lines,
    load_json,
    obj,
    required,
    seconds,
    text,
    user,
)

OPTIONS = ("signer_key", "salt_separator", "rounds", "mem_cost", "issuers")

ISSUERS = {"google.com": GOOGLE, "github.com": GITHUB, "apple.com": APPLE}
_HASH_OPTIONS = ("signer_key", "salt_separator", "rounds", "mem_cost")


def read(path: Path, options: Mapping[str, str]) -> Iterator[SourceLine]:
    config = _hash_config(options)
    mapping = issuers(ISSUERS, options.get("issuers"))
    document = load_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("users"), list):
        raise SourceError(f'{path} is not auth:export\'s JSON: no "users" list')
    return lines(
        enumerate(document["users"], start=1),
        lambda record: _user(obj(record, "the user"), config, mapping),
    )


def _hash_config(options: Mapping[str, str]) -> dict[str, object]:
    """The project's hash parameters, checked once (a wrong one would fail every sign-in)."""
    missing = [key for key in _HASH_OPTIONS if key not in options]
    if missing:
        flags = ", ".join("--" + key.replace("_", "-") for key in missing)
        raise SourceError(
            f"firebase needs the project's password hash parameters: {flags} "
            "(Firebase console, Authentication > Users > Password hash parameters)"
        )
    for key in ("signer_key", "salt_separator"):
        if not is_base64(options[key]) or (key == "signer_key" and not options[key]):
            raise SourceError(f"--{key.replace('_', '-')} is not base64")
    return {
        "signer_key": options["signer_key"],
        "salt_separator": options["salt_separator"],
        "rounds": bounded(options["rounds"], 1, 8, "--rounds", SourceError),
        "mem_cost": bounded(options["mem_cost"], 1, 14, "--mem-cost", SourceError),
    }


def _user(record: Mapping, config: Mapping[str, object], mapping: Mapping[str, str]) -> dict:
    source_id = identifier(record.get("localId"), "localId")
    if flag(record.get("disabled"), "disabled"):
        raise Reject("disabled in Firebase: not imported, as it would be allowed in again")
    email = required(record.get("email"), "email")
    hashed = text(record.get("passwordHash"), "passwordHash")
    found = None
    if hashed:
        salt = text(record.get("salt"), "salt")
        if salt is None:
            raise Reject("passwordHash without its salt")
        found = firebase_scrypt(
            hashed,
            salt,
            str(config["signer_key"]),
            str(config["salt_separator"]),
            config["rounds"],
            config["mem_cost"],
            "passwordHash",
        )
    linked = []
    for index, info in enumerate(items(record.get("providerUserInfo"), "providerUserInfo")):
        info = obj(info, f"providerUserInfo[{index}]")
        entry = identity(mapping, info.get("providerId"), info.get("rawId"))
        if entry:
            linked.append(entry)
    return user(
        email=email,
        email_verified=flag(record.get("emailVerified"), "emailVerified"),
        created_at=seconds(record.get("createdAt"), "createdAt", unit="ms"),
        password=found,
        identities=linked,
        source_id=source_id,
    )
