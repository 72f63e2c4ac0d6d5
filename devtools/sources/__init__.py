"""`--from SYSTEM`: read another system's own user export as our import format's records.

Each module here reads one system's export in the shape its documentation gives and yields,
per user, a `SourceLine`: our import format's dict (docs/migration.md), or the reason that user
cannot come across. A bad record never stops the rest; a file that cannot be read as that
system's export at all (not JSON, the wrong top-level shape, a missing option) raises
`SourceError` before the first line.

The adapters map, they do not verify: a password hash travels as `{format, hash, params}` and
the importer checks it (chalicelib.password_formats). Emails travel as given; the importer
normalises them. Nothing here ever puts a hash, salt or key into an error message.

    for line in read("firebase", Path("users.json"), {"signer_key": ..., "rounds": "8", ...}):
        line.number, line.record, line.error
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

SYSTEMS: tuple[str, ...] = (
    "auth0",
    "firebase",
    "supabase",
    "clerk",
    "cognito",
    "django",
    "lucia",
    "better-auth",
)


class SourceLine(NamedTuple):
    number: int  # 1-based line (JSON Lines, CSV) or record (JSON array) number in the input
    record: dict | None  # our import format's object, or None when rejected
    error: str | None  # why the record was rejected: never a hash, salt or key


class SourceError(ValueError):
    """The whole input cannot be read as this system's export (the CLI prints it, exit 2)."""


def _module(system: str):  # noqa: ANN202 (a module object)
    if system not in SYSTEMS:
        raise SourceError(f"unknown source system {system!r}: one of {', '.join(SYSTEMS)}")
    # Imported on demand: the CLI's other commands never load the adapters.
    return importlib.import_module(f"devtools.sources.{system.replace('-', '_')}")


def options_of(system: str) -> tuple[str, ...]:
    """The options (CLI flags, `rounds` -> `--rounds`) this system's adapter reads."""
    return _module(system).OPTIONS


def read(system: str, path: Path, options: Mapping[str, str]) -> Iterator[SourceLine]:
    """The records of `path`, one `SourceLine` per user, in input order.

    Raises SourceError at once (not on the first `next`) for an unreadable file, an unknown
    option or an option's bad value; an option given as None or "" counts as not given."""
    module = _module(system)
    given = {key: value for key, value in options.items() if value not in (None, "")}
    unknown = sorted(set(given) - set(module.OPTIONS))
    if unknown:
        raise SourceError(f"{system} takes no option {', '.join(unknown)}")
    return module.read(Path(path), given)
