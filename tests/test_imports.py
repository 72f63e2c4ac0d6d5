"""Importing users (chalicelib.imports, devtools.users) on moto: every rule a line must pass, the
one transaction per user and what it leaves in the table, re-runs and dry runs, hostile JSON
Lines refused line by line, the timing pad's formats, and export with age-encrypted secrets.

The CLI runs in this process against the moto table (`opened`), one worker: moto's
transactions are not thread-safe (the DynamoDB Local suite runs several workers)."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path

import argon2
import pyrage
import pytest

from chalicelib import password_formats, totp
from chalicelib.errors import EmailTaken, IdentityTaken
from chalicelib.imports import FormatTally, Rejected, cost_key, parse, writes
from chalicelib.keyring import KeySource
from chalicelib.store import create_table, open_store
from chalicelib.store.accounts import UserRecord
from chalicelib.store.identities import identity_id
from chalicelib.store.imports import HASH_FORMATS_PK, source_pk
from devtools import users
from tests.conftest import START, table_items
from tests.helpers import PASSWORD

ANN = "ann@example.com"
SECRET = "JBSWY3DPEHPK3PXP"  # a base32 TOTP secret
GOOGLE = "https://accounts.google.com"
COSE_KEY = base64.urlsafe_b64encode(bytes(range(77))).decode().rstrip("=")


def argon2_hash(password: str = PASSWORD, memory: int = 1024, time_cost: int = 1) -> str:
    """A hash as argon2-cffi itself makes it (the library the origin used)."""
    return argon2.PasswordHasher(memory_cost=memory, time_cost=time_cost, parallelism=1).hash(
        password
    )


def passkey(credential: bytes = b"\x01\x02\x03", rp_id: str = "localhost", **more):
    return {
        "credential_id": base64.urlsafe_b64encode(credential).decode().rstrip("="),
        "public_key": COSE_KEY,
        "sign_count": 7,
        "rp_id": rp_id,
        **more,
    }


def line(**fields):
    return {"email": ANN, "source_id": "auth0|1", **fields}


@pytest.fixture
def run(store, settings, clock, capsys):
    """`python -m devtools.users ARGS` on the test's table; (exit status, stdout lines)."""

    def run_cli(*args: str, table=None):
        code = users.main(
            list(args), opened=lambda stage, workers: (settings, table or store), clock=clock
        )
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        return code, captured.out.splitlines()

    return run_cli


def jsonl(tmp_path, *records, name="users.jsonl"):
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def item(dynamodb, settings, pk):
    found = dynamodb.get_item(TableName=settings.table_name, Key={"pk": {"S": pk}})
    return found.get("Item")


# -- a line, checked -----------------------------------------------------------------------------


def test_a_full_line_is_normalised(settings):
    hashed = argon2_hash()
    user = parse(
        line(
            email="  Ann@EXAMPLE.com ",
            email_verified=True,
            created_at="2024-03-01T12:00:00Z",
            password={"format": "argon2", "hash": hashed},
            totp_secret="jbsw y3dp ehpk 3pxp",
            identities=[{"issuer": GOOGLE, "subject": "10769150350006150715113082367"}],
            passkeys=[passkey(name=" Laptop ", created_at=1_700_000_000)],
            roles=["support", "admin", "admin"],
            webauthn_handle="AAECAwQ=",
        ),
        settings=settings,
        now=START,
    )
    assert user.email == ANN
    assert user.email_verified is True
    assert user.created_at == 1_709_294_400
    assert password_formats.describe(user.password)[:2] == ("argon2", hashed)
    assert user.totp_secret == SECRET
    assert user.identities[0].subject == "10769150350006150715113082367"
    assert user.identities[0].provider == GOOGLE  # the stage has no provider of that issuer
    (kept,) = user.passkeys
    assert (kept.credential_id, kept.sign_count, kept.name) == ("AQID", 7, "Laptop")
    assert kept.public_key == bytes(range(77))
    assert user.roles == ("admin", "support")
    assert user.grants_roles is True
    assert user.webauthn_handle == "AAECAwQ"
    assert user.two_factor is True


def test_only_email_and_source_id_are_required(settings):
    user = parse(line(), settings=settings, now=START)
    assert (user.password, user.totp_secret, user.roles, user.created_at) == (None, None, (), START)
    assert user.email_verified is False
    assert user.two_factor is False


def test_passkeys_of_another_rp_id_are_left_out_and_counted(settings):
    user = parse(
        line(passkeys=[passkey(b"a"), passkey(b"b", rp_id="old.example.com"), passkey(b"c")]),
        settings=settings,
        now=START,
    )
    assert [p.credential_id for p in user.passkeys] == ["YQ", "Yw"]
    assert user.dropped_passkeys == 1
    elsewhere = replace(settings, public_origin="https://auth.example.com")
    assert parse(line(passkeys=[passkey()]), settings=elsewhere, now=START).dropped_passkeys == 1


HOSTILE_HASH = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$" + "h" * 43


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ([], "not a JSON object"),
        ("ann@example.com", "not a JSON object"),
        (line(pasword="x"), "unknown field 'pasword'"),
        (line(**{"Evil\x00": 1}), "unknown field (unreadable)"),
        ({"source_id": "1"}, "email: missing"),
        ({"email": ANN}, "source_id: missing"),
        (line(email=5), "email: not a string"),
        (line(email="not an address"), "email: not a valid address"),
        (line(email="a" * 1_000_000), "email: empty or longer than 320 characters"),
        (line(email="ann\x00@example.com"), "email: holds control characters"),
        (line(email="ännchen@example.com"), "email: its part before the @ is not ASCII"),
        (line(source_id=""), "source_id: empty"),
        (line(source_id="x" * 5000), "source_id: empty or longer than 1024"),
        (line(source_id="\ud800"), "source_id: holds control characters"),  # a lone surrogate
        (line(source_id=["a"]), "source_id: not a string"),
        (line(email_verified="yes"), "email_verified: not true or false"),
        (line(created_at="yesterday"), "created_at: neither seconds nor an ISO 8601 time"),
        (line(created_at=True), "created_at: neither"),
        (line(created_at=1.5), "created_at: neither"),
        (line(created_at=-1), "created_at: not a time in the past"),
        (line(created_at=START + 10 * 86_400), "created_at: not a time in the past"),
        (line(created_at=START * 1000), "created_at: in the future (milliseconds? give seconds)"),
        (line(created_at="9" * 100), "created_at: neither"),
        (line(roles="admin"), "roles: not a list of role names"),
        (line(roles=[1]), "roles: not a list of role names"),
        (line(roles=["A" * 1000]), "roles: not a list of role names"),
        (line(roles=["wizard"]), "unknown role 'wizard'"),
        (line(password="hunter22"), "password: not an object of format, hash and params"),
        (line(password={"hash": "x"}), "password: not an object of format, hash and params"),
        (line(password={"format": "xyz", "hash": "abc"}), "unknown password format 'xyz'"),
        (line(password={"format": "X" * 500, "hash": "a"}), "password.format: not a format name"),
        (line(password={"format": "argon2", "hash": 5}), "password.hash: not a string"),
        (line(password={"format": "argon2", "hash": "h" * 10_000}), "password.hash: empty or"),
        (line(password={"format": "argon2", "hash": "$argon2\x00"}), "password.hash: holds"),
        (
            line(password={"format": "argon2", "hash": HOSTILE_HASH, "params": {"a": {"b": 1}}}),
            "password.params.a: not a string or a number",
        ),
        (
            line(password={"format": "argon2", "hash": HOSTILE_HASH, "params": [1]}),
            "password.params: not an object",
        ),
        (line(password={"age": "-----BEGIN AGE"}), "password: encrypted to an age recipient"),
        (line(totp_secret=12345), "totp_secret: not a base32 string"),
        (line(totp_secret="not base32!"), "totp_secret: not a base32 secret"),
        (line(totp_secret="ABCDEF"), "totp_secret: not a base32 secret"),  # 30 bits
        (line(totp_secret="A" * 10_000), "totp_secret: not a base32 string"),
        (line(totp_secret={"age": "x"}), "totp_secret: encrypted to an age recipient"),
        (line(identities={"issuer": GOOGLE}), "identities: not a list"),
        (line(identities=[{"issuer": GOOGLE}]), "identities[0]: not an object of issuer"),
        (line(identities=[{"issuer": GOOGLE, "subject": 1}]), "identities[0].subject: not a"),
        (line(identities=[{"issuer": GOOGLE, "subject": "1\x00"}]), "identities[0].subject"),
        (
            line(identities=[{"issuer": GOOGLE, "subject": "1"}] * 2),
            "identities[1]: listed twice",
        ),
        (
            line(identities=[{"issuer": GOOGLE, "subject": str(n)} for n in range(21)]),
            "identities: more than 20",
        ),
        (line(identities=[{}] * 1000), "identities: not a list"),
        (line(passkeys="x"), "passkeys: not a list"),
        (line(passkeys=[{"credential_id": "AQID"}]), "passkeys[0]: not an object of"),
        (line(passkeys=[passkey(credential_id="no/slash")]), "passkeys[0].credential_id: not"),
        (line(passkeys=[passkey(credential_id="")]), "passkeys[0].credential_id: not"),
        (line(passkeys=[passkey(credential_id="A" * 5000)]), "passkeys[0].credential_id: empty"),
        (line(passkeys=[passkey(public_key="A")]), "passkeys[0].public_key: not base64url"),
        (line(passkeys=[passkey(sign_count=-1)]), "passkeys[0].sign_count: not a count"),
        (line(passkeys=[passkey(sign_count=True)]), "passkeys[0].sign_count: not a count"),
        (line(passkeys=[passkey(sign_count=2**40)]), "passkeys[0].sign_count: not a count"),
        (line(passkeys=[passkey(name="a\nb")]), "passkeys[0].name: holds control characters"),
        (line(passkeys=[passkey(name="n" * 65)]), "passkeys[0].name: empty or longer than 64"),
        (line(passkeys=[passkey(surprise=1)]), "passkeys[0]: not an object of"),
        (line(passkeys=[passkey(), passkey()]), "passkeys[1]: listed twice"),
        (
            line(passkeys=[passkey(bytes([n])) for n in range(11)]),
            "passkeys: more than 10 for this RP ID",
        ),
        (line(webauthn_handle="A" * 200), "webauthn_handle: empty or longer than 64 bytes"),
        (line(webauthn_handle=7), "webauthn_handle: not base64url"),
    ],
)
def test_a_line_that_breaks_a_rule_is_rejected_naming_the_field(settings, obj, reason):
    with pytest.raises(Rejected) as rejected:
        parse(obj, settings=settings, now=START)
    assert rejected.value.reason.startswith(reason)


def test_a_rejection_never_shows_the_hash_or_the_secret(settings):
    hashed = argon2_hash()
    for obj in [
        line(password={"format": "argon2", "hash": hashed + "\x01"}),
        line(password={"format": "argon2", "hash": hashed, "params": {"salt": {"s": hashed}}}),
        line(totp_secret=SECRET + "!"),
        line(password={"format": "argon2", "hash": "$argon2id$v=19$garbage"}),
    ]:
        with pytest.raises(Rejected) as rejected:
            parse(obj, settings=settings, now=START)
        assert hashed not in rejected.value.reason
        assert SECRET not in rejected.value.reason
        assert "garbage" not in rejected.value.reason


def test_only_the_stages_roles_are_known(settings):
    with pytest.raises(Rejected, match="unknown role 'editor'"):
        parse(line(roles=["editor"]), settings=settings, now=START)
    staged = replace(settings, roles=(("editor", frozenset({"notes:write"})),))
    user = parse(line(roles=["editor"]), settings=staged, now=START)
    assert (user.roles, user.grants_roles) == (("editor",), False)


# -- one transaction per user ---------------------------------------------------------------------


def full_user(settings, **fields):
    return parse(
        line(
            email_verified=True,
            created_at=1_600_000_000,
            password={"format": "argon2", "hash": argon2_hash()},
            totp_secret=SECRET,
            identities=[{"issuer": GOOGLE, "subject": "g-1"}],
            passkeys=[passkey()],
            roles=["admin"],
            webauthn_handle="AAECAwQ",
            **fields,
        ),
        settings=settings,
        now=START,
    )


def test_the_users_one_transaction_leaves_every_item_it_needs(store, settings, dynamodb):
    user = full_user(settings)
    keyring = KeySource(settings).keyring
    store.table.commit(*writes(store, user, keyring, START))

    source = item(dynamodb, settings, source_pk("auth0|1"))
    user_id = source["user_id"]["S"]
    (account,) = store.table.read(store.accounts.user(user_id))
    assert account.email == ANN
    assert account.email_verified
    assert account.two_factor
    assert account.created_at == 1_600_000_000
    assert account.roles == ("admin",)
    assert account.passkeys == {"AQID"}
    assert account.identities == {identity_id(GOOGLE, "g-1")}
    assert account.webauthn_handle == "AAECAwQ"
    assert account.source_id == "auth0|1"
    assert account.has_password is True
    # The secret, encrypted for this user only.
    assert SECRET not in account.totp_secret
    opened = keyring.decrypt(account.totp_secret, totp.secret_context(user_id))
    assert opened == SECRET

    (claim,) = store.table.read(store.accounts.claim(ANN))
    assert claim.user_id == user_id
    assert claim.password_hash == user.password  # the stored form, verified at sign-in
    assert (claim.email_verified, claim.two_factor, claim.roles) == (True, True, ("admin",))

    (identity,) = store.identities.all_of(account.identities)
    assert (identity.user_id, identity.issuer, identity.subject, identity.email) == (
        user_id,
        GOOGLE,
        "g-1",
        ANN,
    )
    (stored_passkey,) = store.passkeys.all_of(account)
    assert (stored_passkey.public_key, stored_passkey.sign_count) == (bytes(range(77)), 7)
    (holders,) = store.table.read(store.granters.holders())
    assert holders == {user_id}
    # The admin's search finds them.
    found = store.directory.search("ann", after=None, limit=10)
    assert [u.user_id for u in found.users] == [user_id]


def test_a_user_without_password_or_second_factor(store, settings):
    user = parse(line(roles=["support"]), settings=settings, now=START)
    store.table.commit(*writes(store, user, None, START))
    (claim,) = store.table.read(store.accounts.claim(ANN))
    assert claim.password_hash is None
    assert claim.two_factor is False
    (account,) = store.table.read(store.accounts.user(claim.user_id))
    assert account.has_password is False
    assert account.totp_secret is None
    (holders,) = store.table.read(store.granters.holders())
    assert holders is None  # support grants no roles


def test_a_user_whose_identity_is_taken_leaves_nothing_behind(store, settings, dynamodb):
    """Bob's account has Google's g-1 already: Ann's import, which lists it too, fails whole."""
    bob = parse(
        line(
            email="bob@example.com",
            source_id="bob",
            identities=[{"issuer": GOOGLE, "subject": "g-1"}],
        ),
        settings=settings,
        now=START,
    )
    store.table.commit(*writes(store, bob, None, START))
    before = table_items(dynamodb, settings.table_name)

    with pytest.raises(IdentityTaken):
        store.table.commit(*writes(store, full_user(settings), KeySource(settings).keyring, START))

    assert table_items(dynamodb, settings.table_name) == before  # no source, claim or user


def test_a_taken_email_raises_its_own_error(store, settings):
    store.table.commit(*writes(store, parse(line(), settings=settings, now=START), None, START))
    again = parse(line(source_id="other"), settings=settings, now=START)
    with pytest.raises(EmailTaken):
        store.table.commit(*writes(store, again, None, START))


# -- the command: import ---------------------------------------------------------------------------


def test_import_reports_each_line_and_a_summary(run, tmp_path, dynamodb, settings):
    path = jsonl(
        tmp_path,
        line(password={"format": "argon2", "hash": argon2_hash()}),
        line(source_id="2"),  # the same email
        line(email="bob@example.com"),  # the same source id
        line(email="cy@example.com", source_id="3", password={"format": "xyz", "hash": "h"}),
        line(email="di@example.com", source_id="4", passkeys=[passkey(rp_id="old.example")]),
    )
    code, out = run("import", str(path), "--stage", "test", "--workers", "1")
    assert out == [
        "line 1: imported ann@example.com",
        "line 2: skipped (email exists)",
        "line 3: skipped (already imported)",
        "line 4: rejected (unknown password format 'xyz')",
        "line 5: imported di@example.com (1 passkey of another RP ID left out)",
        "imported 2, skipped 2, rejected 1",
        "passkeys of another RP ID left out: 1",
    ]
    assert code == 1


def test_running_an_import_again_skips_every_line(run, tmp_path, dynamodb, settings):
    path = jsonl(tmp_path, line(), line(email="bob@example.com", source_id="2"))
    assert run("import", str(path), "--stage", "test", "--workers", "1")[0] == 0
    before = table_items(dynamodb, settings.table_name)
    code, out = run("import", str(path), "--stage", "test", "--workers", "1")
    assert code == 0
    assert out == [
        "line 1: skipped (already imported)",
        "line 2: skipped (already imported)",
        "imported 0, skipped 2, rejected 0",
    ]
    assert table_items(dynamodb, settings.table_name) == before


def test_a_dry_run_writes_nothing_and_reports_the_same(run, tmp_path, dynamodb, settings, store):
    store.table.commit(
        *writes(
            store,
            parse(line(email="old@example.com", source_id="old"), settings=settings, now=START),
            None,
            START,
        )
    )
    records = [
        line(),
        line(source_id="2"),
        line(email="bob@example.com"),
        line(email="old@example.com", source_id="5"),
        line(email="eve@example.com", source_id="old"),
        line(email="cy@example.com", source_id="3", roles=["wizard"]),
        line(
            email="di@example.com", source_id="4", identities=[{"issuer": GOOGLE, "subject": "1"}]
        ),
        line(
            email="fi@example.com", source_id="6", identities=[{"issuer": GOOGLE, "subject": "1"}]
        ),
    ]
    path = jsonl(tmp_path, *records)
    before = table_items(dynamodb, settings.table_name)
    code, dry = run("import", str(path), "--stage", "test", "--dry-run")
    assert table_items(dynamodb, settings.table_name) == before
    code_real, real = run("import", str(path), "--stage", "test", "--workers", "1")
    assert dry[:-1] == real[:-1]
    assert dry[-1] == real[-1] + " (dry run: nothing written)"
    assert (code, code_real) == (1, 1)
    assert real[-1] == "imported 2, skipped 4, rejected 2"


def test_hostile_json_lines_are_rejected_line_by_line(run, tmp_path, dynamodb, settings):
    good = json.dumps(line()).encode()
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(
        b"\n".join(
            [
                b"{not json",
                b"[1, 2, 3]",
                b'"just a string"',
                b"null",
                b"\x00\x00\x00",
                b'{"email": "a\x00b@example.com", "source_id": "1"}',  # a raw NUL in a string
                b"\xff\xfe invalid utf-8",
                b"[" * 200_000 + b"]" * 200_000,
                b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
                b'{"email": NaN, "source_id": "1"}',
                b'{"email": "x", "created_at": ' + b"9" * 5000 + b"}",
                b'{"email": "' + b"a" * (2 << 20) + b'"}',  # longer than 1 MiB
                b"",  # a blank line: skipped, not counted
                b'{"email": "ann@example.com", "source_id": "\\ud800"}',
                good,
            ]
        )
        + b"\n"
    )
    code, out = run("import", str(path), "--stage", "test")
    assert out == [
        "line 1: rejected (invalid JSON)",
        "line 2: rejected (not a JSON object)",
        "line 3: rejected (not a JSON object)",
        "line 4: rejected (not a JSON object)",
        "line 5: rejected (invalid JSON)",
        "line 6: rejected (invalid JSON)",  # JSON forbids raw control characters in strings
        "line 7: rejected (not UTF-8)",
        "line 8: rejected (invalid JSON (nested too deeply))",
        "line 9: rejected (invalid JSON (nested too deeply))",
        "line 10: rejected (invalid JSON)",
        "line 11: rejected (invalid JSON)",
        "line 12: rejected (line longer than 1 MiB)",
        "line 14: rejected (source_id: holds control characters)",
        "line 15: imported ann@example.com",
        "imported 1, skipped 0, rejected 13",
    ]
    assert code == 1


@pytest.mark.parametrize(
    "args",
    [
        ["import", "missing.jsonl", "--stage", "test"],
        ["import", "{file}", "--stage", "test", "--workers", "0"],
        ["import", "{file}", "--stage", "test", "--surprise"],
        ["import", "{file}", "--stage", "test", "--from", "myspace"],
        ["import", "{file}"],
        ["export", "--stage", "test", "--include-secrets", "not-a-recipient"],
        ["import", "{file}", "--stage", "test", "--identity", "{file}"],
        [],
    ],
)
def test_bad_usage_exits_2(run, tmp_path, args, capsys):
    path = jsonl(tmp_path, line())
    code, out = run(*[a.replace("{file}", str(path)) for a in args])
    assert code == 2
    assert out == []


def test_another_systems_export_is_read_with_its_options(run, tmp_path, store):
    """`--from`: the adapter's records go through the same checks and report (Clerk's CSV)."""
    sample = Path(__file__).parent / "data" / "sources" / "clerk-users.csv"
    code, out = run("import", str(sample), "--stage", "test", "--from", "clerk")
    assert code == 1  # its sample holds users it cannot bring (no email, phpass)
    assert out[-1].startswith("imported ")
    assert any(": imported " in text for text in out)
    assert all(text.startswith("line ") for text in out[:-1])
    # A system's own options are flags; one it lacks is bad usage.
    firebase = Path(__file__).parent / "data" / "sources" / "firebase-users.json"
    assert run("import", str(firebase), "--stage", "test", "--from", "firebase")[0] == 2
    assert run("import", str(sample), "--stage", "test", "--from", "clerk", "--rounds", "8")[0] == 2


# -- the timing pad's formats ---------------------------------------------------------------------


def test_each_run_records_its_formats_counts_and_slowest_sample(run, tmp_path, store):
    slow, fast = argon2_hash(memory=2048, time_cost=2), argon2_hash()
    path = jsonl(
        tmp_path,
        line(password={"format": "argon2", "hash": fast}),
        line(email="bob@example.com", source_id="2", password={"format": "argon2", "hash": slow}),
        line(email="cy@example.com", source_id="3"),  # no password
    )
    assert run("import", str(path), "--stage", "test")[0] == 0
    (formats,) = store.table.read(store.imports.hash_formats())
    count, sample = formats["argon2"]
    assert count == 2
    assert cost_key(sample) == cost_key(password_formats.stored_form("argon2", slow))
    assert not password_formats.verify(sample, PASSWORD)  # of a random password

    # A second run adds its count; a faster cost never replaces the slower sample.
    again = jsonl(
        tmp_path,
        line(email="di@example.com", source_id="4", password={"format": "argon2", "hash": fast}),
        name="more.jsonl",
    )
    assert run("import", str(again), "--stage", "test")[0] == 0
    (formats,) = store.table.read(store.imports.hash_formats())
    assert formats["argon2"] == (3, sample)
    store.table.commit(store.imports.upgraded("argon2"))
    (formats,) = store.table.read(store.imports.hash_formats())
    assert formats["argon2"] == (2, sample)


def test_a_dry_run_records_no_formats(run, tmp_path, dynamodb, settings):
    path = jsonl(tmp_path, line(password={"format": "argon2", "hash": argon2_hash()}))
    run("import", str(path), "--stage", "test", "--dry-run")
    assert item(dynamodb, settings, HASH_FORMATS_PK) is None


def test_the_tally_keeps_the_slowest_cost_of_each_format(settings):
    def user(hashed):
        return parse(
            line(password={"format": "argon2", "hash": hashed}), settings=settings, now=START
        )

    cheap, dear = argon2_hash(), argon2_hash(memory=4096, time_cost=3)
    tally = FormatTally()
    for hashed in (cheap, argon2_hash(), dear, argon2_hash()):  # salts differ, costs do not
        tally.note(user(hashed))
    assert tally.counts == {"argon2": 4}
    timed = []

    def measure(stored):
        timed.append(stored)
        return {cost_key(user(cheap).password): 1.0, cost_key(user(dear).password): 2.0}[
            cost_key(stored)
        ]

    (sample,) = tally.samples({}, measure).values()
    assert len(timed) == 2  # once per distinct cost
    assert cost_key(sample) == cost_key(user(dear).password)
    # A slower sample recorded before stays.
    older = password_formats.sample(
        password_formats.stored_form("argon2", argon2_hash(memory=8192))
    )
    chosen = tally.samples({"argon2": (9, older)}, lambda s: 3.0 if s == older else 1.0)
    assert chosen == {"argon2": older}


@pytest.mark.parametrize(
    ("format", "cheap", "dear"),
    [
        ("argon2", {"memory_cost": 1024, "time_cost": 1}, {"memory_cost": 2048, "time_cost": 1}),
        ("bcrypt", {"cost": 4}, {"cost": 5}),
        ("django", {"algorithm": "pbkdf2_sha256", "iterations": 1000}, {"iterations": 2000}),
        ("pbkdf2", {"iterations": 1000}, {"iterations": 2000}),
        ("scrypt", {"ln": 4}, {"ln": 5}),
        ("lucia_scrypt", {"version": "v1"}, {"version": "v3"}),
    ],
)
def test_cost_keys_tell_costs_apart_not_salts(format, cheap, dear):
    """Hashes made by the formats' own code: two passwords at one cost share a key (their salts
    and digests differ), another cost has its own."""
    one, two = password_formats.make(format, "a", cheap), password_formats.make(format, "b", cheap)
    other = password_formats.make(format, "a", {**cheap, **dear})
    assert cost_key(one) == cost_key(two) != cost_key(other)


# -- the command: export, and back ----------------------------------------------------------------


def test_export_writes_every_user_in_the_import_format_without_secrets(
    run, tmp_path, store, settings, dynamodb
):
    store.table.commit(*writes(store, full_user(settings), KeySource(settings).keyring, START))
    native = UserRecord("native-id", "bob@example.com", False, False, START)
    store.table.commit(*store.accounts.create(native, argon2_hash()))
    code, out = run("export", "--stage", "test")
    assert code == 0
    lines = sorted((json.loads(text) for text in out), key=lambda u: u["email"])
    assert lines == [
        {
            "email": ANN,
            "email_verified": True,
            "created_at": 1_600_000_000,
            "roles": ["admin"],
            "identities": [{"issuer": GOOGLE, "subject": "g-1"}],
            "passkeys": [
                {
                    "credential_id": "AQID",
                    "public_key": COSE_KEY,
                    "sign_count": 7,
                    "rp_id": "localhost",
                    "name": "Passkey",
                    "created_at": START,
                }
            ],
            "source_id": "auth0|1",
            "webauthn_handle": "AAECAwQ",
        },
        {
            "email": "bob@example.com",
            "email_verified": False,
            "created_at": START,
            "roles": [],
            "identities": [],
            "passkeys": [],
            "source_id": "native-id",  # our own user id
        },
    ]
    assert "$argon2" not in "\n".join(out)
    assert SECRET not in "\n".join(out)


def test_secrets_travel_encrypted_to_the_age_recipient_and_back(
    run, tmp_path, store, settings, dynamodb
):
    identity = pyrage.x25519.Identity.generate()
    key_file = tmp_path / "age-key.txt"
    key_file.write_text(f"# created: now\n# public key: {identity.to_public()}\n{identity}\n")
    imported = full_user(settings)
    store.table.commit(*writes(store, imported, KeySource(settings).keyring, START))
    native_hash = argon2_hash()
    native = UserRecord("native-id", "bob@example.com", True, False, START)
    store.table.commit(*store.accounts.create(native, native_hash))

    code, out = run("export", "--stage", "test", "--include-secrets", str(identity.to_public()))
    assert code == 0
    exported = "\n".join(out)
    assert "$argon2" not in exported
    assert SECRET not in exported
    by_email = {json.loads(text)["email"]: json.loads(text) for text in out}
    assert set(by_email[ANN]["password"]) == {"age"}
    assert by_email[ANN]["password"]["age"].startswith("-----BEGIN AGE ENCRYPTED FILE-----")
    assert set(by_email[ANN]["totp_secret"]) == {"age"}
    assert by_email["bob@example.com"]["totp_secret"] is None
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(out) + "\n")

    # Into another, empty table: without the identity the secrets cannot come along...
    create_table(dynamodb, "second")
    second = open_store(dynamodb, "second", sleep=lambda _: None)
    code, refused = run("import", str(path), "--stage", "test", "--dry-run", table=second)
    assert code == 1
    assert "password: encrypted to an age recipient (import with --identity)" in refused[0]
    other_key = tmp_path / "other.txt"
    other_key.write_text(f"{pyrage.x25519.Identity.generate()}\n")
    code, refused = run(
        "import", str(path), "--stage", "test", "--identity", str(other_key), table=second
    )
    assert "does not open with the given identity" in refused[0]
    # ... with it they do.
    code, out = run(
        "import", str(path), "--stage", "test", "--identity", str(key_file), table=second
    )
    assert code == 0, out
    (claim,) = second.table.read(second.accounts.claim(ANN))
    assert claim.password_hash == imported.password
    (account,) = second.table.read(second.accounts.user(claim.user_id))
    keyring = KeySource(settings).keyring
    assert keyring.decrypt(account.totp_secret, totp.secret_context(claim.user_id)) == SECRET
    assert account.source_id == "auth0|1"
    (bob,) = second.table.read(second.accounts.claim("bob@example.com"))
    # Our own Argon2id hash, now an imported one of format argon2: the same password.
    assert password_formats.describe(bob.password_hash)[:2] == ("argon2", native_hash)
    assert password_formats.verify(bob.password_hash, PASSWORD)
    (bob_account,) = second.table.read(second.accounts.user(bob.user_id))
    assert bob_account.source_id == "native-id"
