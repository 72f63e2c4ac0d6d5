"""Amazon Cognito user pools: `aws cognito-idp list-users --user-pool-id ID > users.json` (the
CLI pages through ListUsers itself and writes one {"Users": [...]}).

Docs:
- https://docs.aws.amazon.com/cli/latest/reference/cognito-idp/list-users.html and
  https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserType.html
  (Users[]: Username, Attributes [{Name, Value}], UserCreateDate, Enabled, UserStatus)
- https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-identity-federation-consolidate-users.html
  (the `identities` attribute of a federated user: a JSON list of {userId, providerName,
  providerType, ...})

Cognito never exports a password hash, so every user comes with `password: null`: they sign in
by emailed code, a passkey or a provider, and may set a password afterwards (or the team's
MIGRATE_FROM_URL endpoint checks their Cognito password on a first password sign-in).

Mapping:
- The `sub` attribute is the source_id (the Username can be an email, and changes meaning with
  the pool's sign-in options); `email_verified` comes from its attribute ("true"/"false").
- UserCreateDate: ISO 8601 (CLI v2) or epoch seconds (CLI v1, the raw API).
- `Enabled: false` users are rejected (our format has no disabled state).
- Federated users' `identities`: providerName Google and SignInWithApple become identities with
  the provider's user id as subject; Facebook, LoginWithAmazon and the pool's own OIDC and SAML
  providers are dropped unless `--issuers ProviderName=https://issuer` names them.
- cognito:groups, custom attributes and phone numbers are not carried.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from devtools.sources import SourceError, SourceLine
from devtools.sources._common import (
    APPLE,
    GOOGLE,
    Reject,
    flag,
    identifier,
    identity,
    issuers,
    items,
    lines,
    load_json,
    obj,
    parse_json,
    required,
    seconds,
    user,
)

OPTIONS = ("issuers",)

ISSUERS = {"Google": GOOGLE, "SignInWithApple": APPLE}


def read(path: Path, options: Mapping[str, str]) -> Iterator[SourceLine]:
    mapping = issuers(ISSUERS, options.get("issuers"))
    document = load_json(path)
    if not isinstance(document, dict) or not isinstance(document.get("Users"), list):
        raise SourceError(f'{path} is not ListUsers JSON: no "Users" list')
    return lines(
        enumerate(document["Users"], start=1),
        lambda record: _user(obj(record, "the user"), mapping),
    )


def _attributes(record: Mapping) -> dict[str, object]:
    found: dict[str, object] = {}
    for index, attribute in enumerate(items(record.get("Attributes"), "Attributes")):
        attribute = obj(attribute, f"Attributes[{index}]")
        found[required(attribute.get("Name"), f"Attributes[{index}].Name")] = attribute.get("Value")
    return found


def _user(record: Mapping, mapping: Mapping[str, str]) -> dict:
    attributes = _attributes(record)
    source_id = identifier(attributes.get("sub"), "sub attribute")
    if record.get("Enabled") is not None and not flag(record.get("Enabled"), "Enabled"):
        raise Reject("disabled in Cognito: not imported, as it would be allowed in again")
    return user(
        email=required(attributes.get("email"), "email attribute"),
        email_verified=flag(attributes.get("email_verified"), "email_verified attribute"),
        created_at=seconds(record.get("UserCreateDate"), "UserCreateDate", unit="s"),
        password=None,
        identities=_identities(attributes.get("identities"), mapping),
        source_id=source_id,
    )


def _identities(value: object, mapping: Mapping[str, str]) -> list[dict]:
    if value is None or value == "":
        return []
    if not isinstance(value, str):
        raise Reject("identities attribute is not a string")
    try:
        entries = parse_json(value)
    except (ValueError, RecursionError):
        raise Reject("identities attribute is not JSON") from None
    found = []
    for index, entry in enumerate(items(entries, "identities attribute")):
        entry = obj(entry, f"identities[{index}]")
        linked = identity(mapping, entry.get("providerName"), entry.get("userId"))
        if linked:
            found.append(linked)
    return found
