"""Django: `python manage.py dumpdata auth.user --output users.json` (or the project's custom
user model with `--model app.user`). Add django-allauth's addresses to carry which emails were
verified: `dumpdata auth.user account.emailaddress`.

Docs:
- https://docs.djangoproject.com/en/stable/ref/django-admin/#dumpdata and
  https://docs.djangoproject.com/en/stable/topics/serialization/#serialization-formats-json
  ([{"model": "auth.user", "pk": 1, "fields": {"password", "email", "is_active",
  "is_superuser", "is_staff", "date_joined", ...}}])
- https://docs.djangoproject.com/en/stable/topics/auth/passwords/ (`<algorithm>$<iterations>
  $<salt>$<hash>`; an unusable password starts with "!")
- https://docs.allauth.org/en/latest/account/models.html (account.emailaddress: user, email,
  verified, primary)

Mapping:
- pk is the source_id; the `password` field passes as format `django` (the importer checks its
  algorithm: pbkdf2_sha256, pbkdf2_sha1, argon2, bcrypt_sha256, bcrypt, scrypt); an unusable
  ("!...") or empty password is null.
- email_verified: true only when an account.emailaddress record in the same dump says so for
  that user and address (Django itself records no verification).
- roles: [] unless `--superuser-role ROLE` is given, then [ROLE] for is_superuser users
  (is_staff is Django-admin access, not a role here).
- `is_active: false` users are rejected (our format has no disabled state); users without an
  email (Django's email is optional) are rejected. Records of other models are skipped.
- date_joined: ISO 8601; a naive one (USE_TZ = False) is taken as UTC.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from chalicelib.roles import is_role_name
from devtools.sources import SourceError, SourceLine
from devtools.sources._common import (
    Reject,
    flag,
    identifier,
    lines,
    load_json,
    obj,
    password,
    required,
    seconds,
    text,
    user,
)

OPTIONS = ("superuser_role", "model")

_ADDRESSES = "account.emailaddress"


def read(path: Path, options: Mapping[str, str]) -> Iterator[SourceLine]:
    role = options.get("superuser_role")
    if role is not None and not is_role_name(role):
        raise SourceError("--superuser-role is not a role name (a-z, 0-9, _ and -)")
    model = options.get("model", "auth.user").lower()
    records = load_json(path)
    if not isinstance(records, list):
        raise SourceError(f"{path} is not dumpdata's JSON: not an array of records")
    verified = _verified_addresses(records)
    users = (
        (number, record)
        for number, record in enumerate(records, start=1)
        if not (isinstance(record, dict) and _model(record) not in (model, None))
    )
    return lines(users, lambda record: _user(obj(record, "the record"), role, verified))


def _model(record: Mapping) -> str | None:
    model = record.get("model")
    return model.lower() if isinstance(model, str) else None


def _verified_addresses(records: list) -> set[tuple[str, str]]:
    """(user pk, lower-cased email) of allauth's verified addresses in the same dump."""
    found = set()
    for record in records:
        if not isinstance(record, dict) or _model(record) != _ADDRESSES:
            continue
        fields = record.get("fields")
        if not isinstance(fields, dict) or fields.get("verified") is not True:
            continue
        owner, email = fields.get("user"), fields.get("email")
        if isinstance(owner, int | str) and not isinstance(owner, bool) and isinstance(email, str):
            found.add((str(owner), email.lower()))
    return found


def _user(record: Mapping, role: str | None, verified: set[tuple[str, str]]) -> dict:
    if _model(record) is None:
        raise Reject("no model name")
    source_id = identifier(record.get("pk"), "pk")
    fields = obj(record.get("fields"), "fields")
    if not flag(fields.get("is_active", True), "is_active"):
        raise Reject("inactive in Django: not imported, as it would be allowed in again")
    email = required(fields.get("email"), "email")
    encoded = text(fields.get("password"), "password")
    superuser = flag(fields.get("is_superuser"), "is_superuser")
    return user(
        email=email,
        email_verified=(source_id, email.lower()) in verified,
        created_at=seconds(fields.get("date_joined"), "date_joined"),
        password=password("django", encoded) if encoded and not encoded.startswith("!") else None,
        roles=[role] if role and superuser else [],
        source_id=source_id,
    )
