"""Bring users in with their passwords, and take them out again, with the operator's own AWS
credentials against a stage's table (docs/migration.md):

    python -m devtools.users import users.jsonl --stage prod [--dry-run] [--workers 8]
    python -m devtools.users import export.json --stage prod --from firebase --signer-key ...
    python -m devtools.users import users.jsonl --stage prod --identity age-key.txt
    python -m devtools.users export --stage prod > users.jsonl
    python -m devtools.users export --stage prod --include-secrets age1... > users.jsonl

Import reads our own format (JSON Lines) unless `--from` names another system's export
(devtools.sources). It prints a line per input line (imported, skipped, or rejected and why)
and a summary; a bad line never stops the rest. Each user is one transaction, and a line
whose source id or email is in the table already is skipped: running it again is safe.
`--dry-run` writes nothing and reports the same. Exit status: 0 when no line was rejected, 1
otherwise, 2 for bad usage or a file that cannot be read.

Export writes every user in our own format, without password hashes and authenticator
secrets unless `--include-secrets` names an age recipient (`age1...` or an SSH public key):
each of those values is then `{"age": "<armored age ciphertext of its JSON>"}`, and an import
with `--identity` (the matching age identity file) opens them again. It walks the admin search
index, a page of users at a time (Queries, never a Scan, never all users in memory): every user
is in it, as sign-up and import give it its key, and `python -m devtools.admin reindex` gave it
to the users made before the index existed.

`--stage local` reaches the DynamoDB Local of `make dev`, with its keyring and origin. For a
deployed stage the shell names what its template set: TABLE_NAME, PUBLIC_ORIGIN (the RP ID of
passkeys), TOTP_KEYS_PARAMETER (the keyring), and ROLES and OAUTH_* as the stage has them.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from chalicelib import imports, password_formats, totp
from chalicelib.clock import Clock, SystemClock
from chalicelib.config import ConfigError, Settings
from chalicelib.errors import (
    AlreadyImported,
    EmailTaken,
    IdentityTaken,
    PasskeyExists,
    ServiceUnavailable,
)
from chalicelib.imports import FormatTally, ImportedUser, Rejected
from chalicelib.keyring import Keyring, KeyringError, KeySource
from chalicelib.passwords import is_imported
from chalicelib.store import Store, open_store
from chalicelib.store.accounts import Credentials, UserItem
from chalicelib.store.identities import IdentityRecord
from chalicelib.store.passkeys import PasskeyRecord
from chalicelib.store.table import Read
from devtools.dynamodb_local import ROOT
from devtools.sources import SYSTEMS, SourceError, SourceLine, options_of, read
from devtools.sources._common import parse_json
from devtools.stage import operator_client, stage_environment

MAX_LINE_BYTES = 1 << 20  # a user is a few KB; a longer line is refused, not read whole
MAX_ARMORED = 64 * 1024  # an encrypted hash or secret: a few hundred bytes
ENCRYPTED = ("password", "totp_secret")
LOCAL_ORIGIN = "http://localhost:8000"  # `make dev`'s PUBLIC_ORIGIN on its default port
LOCAL_KEYS = ROOT / ".secrets" / "totp-keys.json"  # and its keyring
# What the shell may set over the stage's .chalice/config.json (a deployed stage's template
# sets these, so the operator names them).
SHELL_SETTINGS = (
    "TABLE_NAME",
    "ROLES",
    "PUBLIC_ORIGIN",
    "MAIL_SENDER_NAME",
    "TOTP_KEYS_PARAMETER",
    "TOTP_KEYS_FILE",
)

IMPORTED, SKIPPED, REJECTED = "imported", "skipped", "rejected"


class Outcome(NamedTuple):
    number: int
    status: str  # IMPORTED, SKIPPED or REJECTED
    detail: str  # the email imported, or why not
    user: ImportedUser | None = None

    def line(self) -> str:
        if self.status == IMPORTED:
            text = f"line {self.number}: imported {self.detail}"
            dropped = self.user.dropped_passkeys if self.user is not None else 0
            if dropped:
                text += f" ({dropped} passkey{'s' * (dropped > 1)} of another RP ID left out)"
            return text
        return f"line {self.number}: {self.status} ({self.detail})"


class Summary(NamedTuple):
    imported: int
    skipped: int
    rejected: int
    dropped_passkeys: int

    def line(self) -> str:
        return f"imported {self.imported}, skipped {self.skipped}, rejected {self.rejected}"


# -- reading ---------------------------------------------------------------------------------


def our_lines(path: Path) -> Iterator[SourceLine]:
    """Our own format's lines as records, each refused on its own when it is not one: too long,
    not UTF-8, not JSON (NaN and Infinity included), nested too deeply. Blank lines are
    skipped. Never holds more than one line."""
    with path.open("rb") as file:
        number = 0
        while True:
            raw = file.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):  # the rest of it, a chunk at a time
                    raw = file.readline(MAX_LINE_BYTES)
                yield SourceLine(number, None, "line longer than 1 MiB")
                continue
            if not raw.strip():
                continue
            yield _record(number, raw)


def _record(number: int, raw: bytes) -> SourceLine:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return SourceLine(number, None, "not UTF-8")
    try:
        value = parse_json(text)
    except RecursionError:
        return SourceLine(number, None, "invalid JSON (nested too deeply)")
    except ValueError:  # JSONDecodeError, an integer of too many digits, NaN
        return SourceLine(number, None, "invalid JSON")
    if not isinstance(value, dict):
        return SourceLine(number, None, "not a JSON object")
    return SourceLine(number, value, None)


def load_identities(path: Path) -> list[Any]:
    """The age identities of an identity file (`age-keygen`'s: AGE-SECRET-KEY-1... lines,
    comments), or of an SSH private key."""
    import pyrage

    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("-----BEGIN"):
        return [pyrage.ssh.Identity.from_buffer(text.encode())]
    lines = [line.strip() for line in text.splitlines()]
    found = [pyrage.x25519.Identity.from_str(line) for line in lines if line.startswith("AGE-")]
    if not found:
        raise ValueError("no AGE-SECRET-KEY line")
    return found


def load_recipient(text: str) -> Any:
    """An age recipient: `age1...`, or an SSH public key (`ssh-ed25519 ...`, `ssh-rsa ...`)."""
    import pyrage

    text = text.strip()
    if text.startswith("ssh-"):
        return pyrage.ssh.Recipient.from_str(text)
    return pyrage.x25519.Recipient.from_str(text)


def reveal(record: dict[str, Any], identities: Sequence[Any]) -> dict[str, Any]:
    """`record` with the values an export with secrets encrypted (`{"age": ...}`) decrypted."""
    opened = dict(record)
    for field in ENCRYPTED:
        value = record.get(field)
        if not (isinstance(value, dict) and set(value) == {"age"}):
            continue
        if not identities:
            raise Rejected(f"{field}: encrypted to an age recipient (import with --identity)")
        armored = value["age"]
        if not isinstance(armored, str) or len(armored) > MAX_ARMORED:
            raise Rejected(f"{field}: not an age ciphertext")
        import pyrage

        try:
            plain = pyrage.decrypt(armored.encode(), list(identities))
            opened[field] = parse_json(plain.decode("utf-8"))
        except pyrage.DecryptError:
            raise Rejected(f"{field}: does not open with the given identity") from None
        except (ValueError, RecursionError):
            raise Rejected(f"{field}: not JSON once decrypted") from None
    return opened


def seal(value: Any, recipient: Any) -> dict[str, str]:
    import pyrage

    armored = pyrage.encrypt(json.dumps(value).encode(), [recipient], armored=True)
    return {"age": armored.decode("ascii")}


# -- import ----------------------------------------------------------------------------------


class Importer:
    """One import run: each line parsed, decrypted and checked here, committed by up to
    `workers` threads (one transaction a user), reported in input order."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        now: int,
        keyring: Callable[[], Keyring],
        identities: Sequence[Any] = (),
        dry_run: bool = False,
        workers: int = 1,
    ) -> None:
        self.store = store
        self.settings = settings
        self.now = now
        self._keyring = keyring
        self.identities = identities
        self.dry_run = dry_run
        self.workers = max(1, workers)
        self.tally = FormatTally()
        # A dry run tells within-file repeats by what it has seen, as the table would.
        self._seen: set[str] = set()

    def run(self, lines: Iterable[SourceLine], out: TextIO) -> Summary:
        counts = {IMPORTED: 0, SKIPPED: 0, REJECTED: 0}
        dropped = 0
        pending: deque[Outcome | Writing] = deque()

        def report() -> None:
            nonlocal dropped
            first = pending.popleft()
            outcome = first.future.result() if isinstance(first, Writing) else first
            counts[outcome.status] += 1
            if outcome.status == IMPORTED and outcome.user is not None:
                dropped += outcome.user.dropped_passkeys
                self.tally.note(outcome.user)
            print(outcome.line(), file=out)

        pool = ThreadPoolExecutor(self.workers) if self.workers > 1 and not self.dry_run else None
        try:
            for line in lines:
                started = self._start(line)
                if isinstance(started, Outcome):
                    pending.append(started)
                elif pool is None:
                    pending.append(self.commit(*started))
                else:
                    # A line that writes an item a line still being written writes (the same
                    # email, say) waits for it: the earlier line wins, as with one worker.
                    keys = self._keys(started[1])
                    while any(isinstance(p, Writing) and p.keys & keys for p in pending):
                        report()
                    pending.append(Writing(pool.submit(self.commit, *started), keys))
                while pending and (len(pending) > 4 * self.workers or _done(pending[0])):
                    report()
            while pending:
                report()
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        if not self.dry_run and self.tally.counts:
            self._record_formats()
        out.flush()
        return Summary(counts[IMPORTED], counts[SKIPPED], counts[REJECTED], dropped)

    def _start(self, line: SourceLine) -> Outcome | tuple[int, ImportedUser, Keyring | None]:
        """The line's outcome when it is known without writing; else what to commit."""
        if line.record is None:
            return Outcome(line.number, REJECTED, line.error or "unreadable")
        try:
            user = imports.parse(
                reveal(line.record, self.identities), settings=self.settings, now=self.now
            )
        except Rejected as rejected:
            return Outcome(line.number, REJECTED, rejected.reason)
        if self.dry_run:
            return self._check(line.number, user)
        # Loaded here, in this thread, before any worker needs it (a local keyring's file is
        # made on first use).
        keyring = self._keyring() if user.totp_secret is not None else None
        return line.number, user, keyring

    def _keys(self, user: ImportedUser) -> frozenset[str]:
        """The keys of the items whose conditions decide the user's import."""
        return frozenset(read.pk for read in self._reads(user))

    def _reads(self, user: ImportedUser) -> list[Read]:
        """The source id's claim, the email's, then the identities' and passkeys' items."""
        store = self.store
        return [
            store.imports.source(user.source_id),
            store.accounts.claim(user.email),
            *(store.identities.read(i.issuer, i.subject) for i in user.identities),
            *(store.passkeys.passkey(p.credential_id) for p in user.passkeys),
        ]

    def commit(self, number: int, user: ImportedUser, keyring: Keyring | None) -> Outcome:
        """The user's one transaction; what stops it, mapped to the report."""
        try:
            self.store.table.commit(*imports.writes(self.store, user, keyring, self.now))
        except AlreadyImported:
            return Outcome(number, SKIPPED, "already imported")
        except EmailTaken:
            return Outcome(number, SKIPPED, "email exists")
        except IdentityTaken:
            return Outcome(number, REJECTED, "an identity belongs to another account")
        except PasskeyExists:
            return Outcome(number, REJECTED, "a passkey belongs to another account")
        except ServiceUnavailable:
            return Outcome(number, REJECTED, "the table did not answer: run the import again")
        return Outcome(number, IMPORTED, user.email, user)

    def _check(self, number: int, user: ImportedUser) -> Outcome:
        """What the commit would answer, read instead of written (one BatchGetItem)."""
        reads = self._reads(user)
        try:
            found = self.store.table.read(*reads)
        except ServiceUnavailable:
            return Outcome(number, REJECTED, "the table did not answer: run the import again")
        taken = [f is not None or r.pk in self._seen for r, f in zip(reads, found, strict=True)]
        identities = 2 + len(user.identities)
        if taken[0]:
            return Outcome(number, SKIPPED, "already imported")
        if taken[1]:
            return Outcome(number, SKIPPED, "email exists")
        if any(taken[2:identities]):
            return Outcome(number, REJECTED, "an identity belongs to another account")
        if any(taken[identities:]):
            return Outcome(number, REJECTED, "a passkey belongs to another account")
        self._seen.update(r.pk for r in reads)
        return Outcome(number, IMPORTED, user.email, user)

    def _record_formats(self) -> None:
        """Once per run, after the users: the accounts of each imported format, and its slowest
        sample (the sign-in's timing pad)."""
        store = self.store
        (recorded,) = store.table.read(store.imports.hash_formats())
        samples = self.tally.samples(recorded or {})
        store.table.commit(store.imports.record_formats(self.tally.counts, samples))


class Writing(NamedTuple):
    """A line being committed by a worker, and the keys its conditions are on."""

    future: Future[Outcome]
    keys: frozenset[str]


def _done(item: Outcome | Writing) -> bool:
    return not isinstance(item, Writing) or item.future.done()


# -- export ----------------------------------------------------------------------------------


def export(
    store: Store,
    settings: Settings,
    out: TextIO,
    *,
    recipient: Any = None,
    keyring: Callable[[], Keyring] | None = None,
    page: int = 100,
) -> int:
    """Every user as a line of our format, a page of users at a time (never all in memory);
    returns how many. With `recipient`, each password hash and authenticator secret too,
    encrypted to it (secrets opened with the stage's `keyring`)."""
    rp = imports.rp_id(settings)
    written = 0
    for ids in store.directory.every_user(page):
        users = [u for u in store.table.read(*(store.accounts.user(i) for i in ids)) if u]
        identities = _by_user(
            store.identities.all_of(frozenset().union(*(u.identities for u in users)))
        )
        passkeys = _passkeys_of(store, users)
        claims: dict[str, Credentials] = {}
        if recipient is not None:
            found = store.table.read(*(store.accounts.claim(u.email) for u in users))
            claims = {c.user_id: c for c in found if c is not None}
        for user in users:
            line = _line(user, identities.get(user.user_id, []), passkeys.get(user.user_id, []), rp)
            if recipient is not None:
                line.update(_secrets(user, claims.get(user.user_id), recipient, keyring))
            out.write(json.dumps(line) + "\n")
            written += 1
        out.flush()
    return written


def _by_user(records: Iterable[IdentityRecord]) -> dict[str, list[IdentityRecord]]:
    grouped: dict[str, list[IdentityRecord]] = {}
    for record in records:
        grouped.setdefault(record.user_id, []).append(record)
    return grouped


def _passkeys_of(store: Store, users: list[UserItem]) -> dict[str, list[PasskeyRecord]]:
    reads = [store.passkeys.passkey(c) for u in users for c in sorted(u.passkeys)]
    grouped: dict[str, list[PasskeyRecord]] = {}
    if not reads:
        return grouped
    owners = {c: u.user_id for u in users for c in u.passkeys}
    for record in store.table.read(*reads):
        if record is not None and owners.get(record.credential_id) == record.user_id:
            grouped.setdefault(record.user_id, []).append(record)
    for records in grouped.values():
        records.sort(key=lambda r: (r.created_at, r.credential_id))
    return grouped


def _line(
    user: UserItem,
    identities: list[IdentityRecord],
    passkeys: list[PasskeyRecord],
    rp: str | None,
) -> dict[str, Any]:
    line: dict[str, Any] = {
        "email": user.email,
        "email_verified": user.email_verified,
        "created_at": user.created_at,
        "roles": list(user.roles),
        "identities": [{"issuer": i.issuer, "subject": i.subject} for i in identities],
        "passkeys": [
            {
                "credential_id": p.credential_id,
                "public_key": base64.urlsafe_b64encode(p.public_key).decode().rstrip("="),
                "sign_count": p.sign_count,
                "rp_id": rp,
                "name": p.name,
                "created_at": p.created_at,
            }
            for p in passkeys
        ],
        "source_id": user.source_id or user.user_id,
    }
    if user.webauthn_handle is not None:
        line["webauthn_handle"] = user.webauthn_handle
    return line


def _secrets(
    user: UserItem,
    claim: Credentials | None,
    recipient: Any,
    keyring: Callable[[], Keyring] | None,
) -> dict[str, Any]:
    password: Any = None
    if claim is not None and claim.password_hash is not None:
        stored = claim.password_hash
        if is_imported(stored):
            format, hashed, params = password_formats.describe(stored)
            password = {"format": format, "hash": hashed, "params": params}
        else:  # our own: an Argon2id PHC string
            password = {"format": "argon2", "hash": stored}
    secret: Any = None
    if user.totp_secret is not None:
        if keyring is None:
            raise ValueError("the stage's keyring is needed to export authenticator secrets")
        secret = keyring().decrypt(user.totp_secret, totp.secret_context(user.user_id))
    return {
        "password": None if password is None else seal(password, recipient),
        "totp_secret": None if secret is None else seal(secret, recipient),
    }


# -- the command line ------------------------------------------------------------------------


def stage_settings(stage: str) -> Settings:
    """The stage's settings as its functions have them, as far as an operator's tool needs."""
    env = stage_environment(stage)
    if stage == "local":
        env.update({"PUBLIC_ORIGIN": LOCAL_ORIGIN, "TOTP_KEYS_FILE": str(LOCAL_KEYS)})
    env.update(
        {k: v for k, v in os.environ.items() if k in SHELL_SETTINGS or k.startswith("OAUTH_")}
    )
    return Settings.from_env(env)


def open_stage(stage: str, workers: int = 1) -> tuple[Settings, Store]:
    settings = stage_settings(stage)
    return settings, open_store(operator_client(stage, workers + 4), settings.table_name)


def _keyring_of(settings: Settings) -> Callable[[], Keyring]:
    """The stage's keyring, loaded when first needed (a stage's users may have no
    authenticator app, and then the operator needs no access to it)."""
    loaded: list[Keyring] = []

    def keyring() -> Keyring:
        if not loaded:
            loaded.append(KeySource(settings).keyring)
        return loaded[0]

    return keyring


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.users",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    imported = commands.add_parser("import", help="import users from FILE")
    imported.add_argument("file", type=Path)
    imported.add_argument("--stage", required=True)
    imported.add_argument("--from", dest="system", choices=SYSTEMS, help="another system's export")
    imported.add_argument("--dry-run", action="store_true", help="write nothing, report the same")
    imported.add_argument("--identity", type=Path, help="age identity file for --include-secrets")
    imported.add_argument("--workers", type=int, default=4, help="parallel transactions (4)")
    exported = commands.add_parser("export", help="every user to stdout, our format")
    exported.add_argument("--stage", required=True)
    exported.add_argument(
        "--include-secrets", metavar="AGE_RECIPIENT", help="hashes and secrets, encrypted to it"
    )
    return parser


def main(
    argv: Sequence[str],
    *,
    opened: Callable[[str, int], tuple[Settings, Store]] = open_stage,
    clock: Clock | None = None,
    out: TextIO | None = None,
) -> int:
    """The command line; `opened` (a stage's settings and store), `clock` and `out` for tests."""
    out = out or sys.stdout
    clock = clock or SystemClock()
    parser = _parser()
    try:
        args, rest = parser.parse_known_args(argv)
    except SystemExit as stop:  # --help, or bad usage (argparse said why)
        return 0 if stop.code in (0, None) else 2
    options: dict[str, str] = {}
    if args.command == "import" and args.system is not None:
        # The system's own options (a Firebase signer key, say) as flags: --signer-key.
        extra = argparse.ArgumentParser(
            prog=f"python -m devtools.users import --from {args.system}"
        )
        for name in options_of(args.system):
            extra.add_argument(f"--{name.replace('_', '-')}", dest=name)
        try:
            options = {k: v for k, v in vars(extra.parse_args(rest)).items() if v is not None}
        except SystemExit:
            return 2
    elif rest:
        parser.print_usage(sys.stderr)
        print(f"unrecognized arguments: {' '.join(rest)}", file=sys.stderr)
        return 2
    try:
        if args.command == "import":
            return _import(args, options, opened, clock.now(), out)
        return _export(args, opened, out)
    except (ConfigError, KeyringError) as error:
        print(f"users: {error}", file=sys.stderr)
        return 2


def _import(
    args: argparse.Namespace,
    options: dict[str, str],
    opened: Callable[[str, int], tuple[Settings, Store]],
    now: int,
    out: TextIO,
) -> int:
    if args.workers < 1 or args.workers > 64:
        print("users: --workers takes 1 to 64", file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"users: cannot read {args.file}", file=sys.stderr)
        return 2
    identities: list[Any] = []
    if args.identity is not None:
        try:
            identities = load_identities(args.identity)
        except Exception:  # unreadable, or pyrage's IdentityError (no ValueError)
            print(f"users: {args.identity}: not an age identity file", file=sys.stderr)
            return 2
    try:
        lines: Iterable[SourceLine] = (
            our_lines(args.file) if args.system is None else read(args.system, args.file, options)
        )
    except (SourceError, OSError) as error:
        print(f"users: {error}", file=sys.stderr)
        return 2
    settings, store = opened(args.stage, args.workers)
    importer = Importer(
        store,
        settings,
        now=now,
        keyring=_keyring_of(settings),
        identities=identities,
        dry_run=args.dry_run,
        workers=args.workers,
    )
    try:
        summary = importer.run(lines, out)
    except (SourceError, OSError) as error:
        print(f"users: {error}", file=sys.stderr)
        return 2
    print(summary.line() + (" (dry run: nothing written)" if args.dry_run else ""), file=out)
    if summary.dropped_passkeys:
        print(f"passkeys of another RP ID left out: {summary.dropped_passkeys}", file=out)
    return 1 if summary.rejected else 0


def _export(
    args: argparse.Namespace, opened: Callable[[str, int], tuple[Settings, Store]], out: TextIO
) -> int:
    recipient = None
    if args.include_secrets is not None:
        try:
            recipient = load_recipient(args.include_secrets)
        except Exception as error:  # pyrage's RecipientError is no ValueError
            print(f"users: not an age recipient ({type(error).__name__})", file=sys.stderr)
            return 2
    settings, store = opened(args.stage, 1)
    if imports.rp_id(settings) is None:
        print("users: the stage's PUBLIC_ORIGIN is needed (the passkeys' RP ID)", file=sys.stderr)
        return 2
    count = export(store, settings, out, recipient=recipient, keyring=_keyring_of(settings))
    print(f"exported {count} users", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
