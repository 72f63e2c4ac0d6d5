"""Export and import on DynamoDB Local, as an operator runs them (`python -m devtools.users ...
--stage local`, the operator's client): a stage exported with its secrets and imported into an
empty one holds the same users, who sign in there with the same passwords; and two hundred
users come in with several workers, each line reported in order."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import argon2
import bcrypt
import boto3
import pyrage
import pytest
from chalice.test import Client

from chalicelib import runtime
from chalicelib.config import Settings
from chalicelib.passwords import is_imported
from chalicelib.store import ADMIN_CLIENT_CONFIG, CLIENT_CONFIG, create_table, open_store
from devtools import users
from tests.helpers import PASSWORD, call, sign_up_over_http

pytestmark = pytest.mark.integration  # DynamoDB Local, chalice local, Chromium: make test

NATIVE = "native@example.com"
IMPORTED = "imported@example.com"
BCRYPT = "bcrypt@example.com"
GOOGLE = "https://accounts.google.com"
# Enough for 8 workers to overlap on every line and its neighbours; a thousand took minutes
# on a busy DynamoDB Local without telling more.
USERS = 200


def cli(monkeypatch: pytest.MonkeyPatch, capsys: Any, table: str, *args: str) -> list[str]:
    """`python -m devtools.users ARGS --stage local` against `table`: its stdout lines."""
    monkeypatch.setenv("TABLE_NAME", table)
    code = users.main([*args, "--stage", "local"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0, out
    return out


@pytest.fixture
def empty_table(live_server: Any) -> Iterator[str]:
    name = f"it-{uuid.uuid4().hex[:12]}"
    admin = boto3.client("dynamodb", config=ADMIN_CLIENT_CONFIG)
    create_table(admin, name)
    yield name
    admin.delete_table(TableName=name)


def sign_in(table: str, email: str, password: str) -> Any:
    """`POST /auth/login` through the app's test client, on the stage with `table`."""
    services = runtime.build(
        Settings.from_env({**os.environ, "TABLE_NAME": table}),
        client=boto3.client("dynamodb", config=CLIENT_CONFIG),
    )
    runtime.use(services)
    from app import app

    with Client(app) as client:
        return call(client, "POST", "/auth/login", {"email": email, "password": password})


def test_an_exported_stage_imported_into_an_empty_one_has_the_same_users_who_sign_in(
    live_server, empty_table, monkeypatch, capsys, tmp_path
):
    # The first stage: a user who signed up here, and one imported from elsewhere with an
    # Argon2 hash its own library made, an authenticator app, a Google identity and a passkey.
    sign_up_over_http(live_server, NATIVE)
    origin_hash = argon2.PasswordHasher(memory_cost=2048, time_cost=1, parallelism=1).hash(
        "their old password"
    )
    incoming = tmp_path / "incoming.jsonl"
    record = {
        "email": IMPORTED,
        "email_verified": True,
        "created_at": "2023-05-01T09:30:00Z",
        "password": {"format": "argon2", "hash": origin_hash, "params": {}},
        "totp_secret": "JBSWY3DPEHPK3PXP",
        "identities": [{"issuer": GOOGLE, "subject": "g-42"}],
        "passkeys": [
            {
                "credential_id": "AQIDBA",
                "public_key": "pQECAyYgASFYIA",
                "sign_count": 3,
                "rp_id": "localhost",
                "name": "Phone",
            }
        ],
        "roles": ["support"],
        "source_id": "auth0|42",
    }
    from_bcrypt = {
        "email": BCRYPT,
        "password": {
            "format": "bcrypt",
            "hash": bcrypt.hashpw(b"bcrypt's own", bcrypt.gensalt(4)).decode(),
        },
        "source_id": "clerk|7",
    }
    incoming.write_text(json.dumps(record) + "\n" + json.dumps(from_bcrypt) + "\n")
    assert cli(monkeypatch, capsys, live_server.table, "import", str(incoming))[:2] == [
        f"line 1: imported {IMPORTED}",
        f"line 2: imported {BCRYPT}",
    ]

    identity = pyrage.x25519.Identity.generate()
    key_file = tmp_path / "key.txt"
    key_file.write_text(f"{identity}\n")
    exported = cli(
        monkeypatch,
        capsys,
        live_server.table,
        "export",
        "--include-secrets",
        str(identity.to_public()),
    )
    export_file = tmp_path / "export.jsonl"
    export_file.write_text("\n".join(exported) + "\n")
    assert "$argon2" not in export_file.read_text()

    report = cli(
        monkeypatch, capsys, empty_table, "import", str(export_file), "--identity", str(key_file)
    )
    assert report[-1] == "imported 3, skipped 0, rejected 0"

    def plain(table: str) -> list[dict]:
        return sorted(
            (json.loads(line) for line in cli(monkeypatch, capsys, table, "export")),
            key=lambda user: user["email"],
        )

    before, after = plain(live_server.table), plain(empty_table)
    assert after == before
    assert [u["email"] for u in after] == [BCRYPT, IMPORTED, NATIVE]
    assert after[1]["source_id"] == "auth0|42"
    assert after[1]["identities"] == [{"issuer": GOOGLE, "subject": "g-42"}]
    assert after[1]["passkeys"][0]["credential_id"] == "AQIDBA"

    # Both sign in on the new stage with their passwords; a wrong one is refused.
    assert sign_in(empty_table, NATIVE, PASSWORD).status_code == 200
    assert sign_in(empty_table, NATIVE, "not the password").status_code == 401
    assert sign_in(empty_table, BCRYPT, "bcrypt's own").status_code == 200
    first = sign_in(empty_table, IMPORTED, "their old password")
    # Two factors (the app, the passkey): the password step passes, the second is asked.
    assert first.status_code == 200, first.body
    store = open_store(boto3.client("dynamodb", config=CLIENT_CONFIG), empty_table)
    (claim,) = store.table.read(store.accounts.claim(IMPORTED))
    assert claim.password_hash.startswith("$argon2id$")  # upgraded at that sign-in
    assert not is_imported(claim.password_hash)


def test_two_hundred_users_come_in_with_several_workers_in_order(
    live_server, monkeypatch, capsys, tmp_path
):
    hashed = argon2.PasswordHasher(memory_cost=1024, time_cost=1, parallelism=1).hash("pw")
    path = tmp_path / "many.jsonl"
    with path.open("w") as file:
        for n in range(USERS):
            line = {
                "email": f"user{n:04d}@example.com",
                "source_id": f"src-{n}",
                "password": {"format": "argon2", "hash": hashed} if n % 2 else None,
                "identities": [{"issuer": GOOGLE, "subject": f"g-{n}"}] if n % 3 == 0 else [],
            }
            file.write(json.dumps(line) + "\n")
    out = cli(monkeypatch, capsys, live_server.table, "import", str(path), "--workers", "8")
    assert out[:-1] == [f"line {n + 1}: imported user{n:04d}@example.com" for n in range(USERS)]
    assert out[-1] == f"imported {USERS}, skipped 0, rejected 0"

    again = cli(monkeypatch, capsys, live_server.table, "import", str(path), "--workers", "8")
    assert again[-1] == f"imported 0, skipped {USERS}, rejected 0"
    exported = cli(monkeypatch, capsys, live_server.table, "export")
    assert len(exported) == USERS
    store = open_store(boto3.client("dynamodb", config=CLIENT_CONFIG), live_server.table)
    (formats,) = store.table.read(store.imports.hash_formats())
    assert formats["argon2"][0] == USERS // 2
