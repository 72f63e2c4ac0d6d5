"""What imports leave behind besides the users themselves (chalicelib.imports writes those).

- source claim: pk `SOURCE#<source id>`; user_id, imported_at. The id the user had in the
  system they came from, claimed in the same transaction as the user (only if new: running an
  import again skips the lines it brought in, AlreadyImported). The user item keeps a copy
  (`source_id`) so an export writes it back.
- hash formats: pk `HASHFORMATS`; per imported password format F, `n_F` (how many accounts
  still hold a hash of F: added by each import run, one less per upgrade to Argon2id at
  sign-in) and `sample_F` (a stored form of F at the slowest cost imported, of a random
  password). A failed sign-in verifies against the slowest sample of the formats still held,
  so the clock cannot tell an imported account from a native one or an unknown address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from chalicelib.errors import AlreadyImported
from chalicelib.store.table import Item, Read, Write, put, update

HASH_FORMATS_PK = "HASHFORMATS"
_FORMAT = re.compile(r"[a-z0-9_]{1,40}")  # attribute names are built from it


def source_pk(source_id: str) -> str:
    return f"SOURCE#{source_id}"


class ImportItems:
    def source(self, source_id: str) -> Read:
        """The user id an import gave `source_id` (None: never imported)."""
        return Read(source_pk(source_id), lambda item: item["user_id"]["S"])

    def claim_source(self, source_id: str, user_id: str, now: int) -> Write:
        """`source_id` is this user's, only if no import claimed it before (AlreadyImported)."""
        return put(
            {
                "pk": {"S": source_pk(source_id)},
                "user_id": {"S": user_id},
                "imported_at": {"N": str(now)},
            },
            "attribute_not_exists(pk)",
            on_condition_failed=AlreadyImported,
        )

    def hash_formats(self) -> Read:
        """{format: (accounts holding it, its slowest sample or None)}."""
        return Read(HASH_FORMATS_PK, _formats)

    def record_formats(self, counts: Mapping[str, int], samples: Mapping[str, str]) -> Write:
        """One import run's tally: `counts[F]` more accounts hold F, whose slowest sample is now
        `samples[F]` (the caller compared it with the one stored)."""
        parts: list[str] = []
        adds: list[str] = []
        names: dict[str, str] = {}
        values: Item = {}
        for index, (name, count) in enumerate(sorted(counts.items())):
            _check(name)
            names[f"#n{index}"] = f"n_{name}"
            values[f":n{index}"] = {"N": str(count)}
            adds.append(f"#n{index} :n{index}")
        for index, (name, sample) in enumerate(sorted(samples.items())):
            _check(name)
            names[f"#s{index}"] = f"sample_{name}"
            values[f":s{index}"] = {"S": sample}
            parts.append(f"#s{index} = :s{index}")
        if not adds and not parts:
            raise ValueError("nothing to record")
        expression = " ".join(
            clause
            for clause in (
                f"SET {', '.join(parts)}" if parts else "",
                f"ADD {', '.join(adds)}" if adds else "",
            )
            if clause
        )
        return update(HASH_FORMATS_PK, expression, values=values, names=names)

    def upgraded(self, format: str) -> Write:
        """One account less holds `format`: its hash became our Argon2id at sign-in."""
        _check(format)
        return update(
            HASH_FORMATS_PK,
            "ADD #n :minus",
            values={":minus": {"N": "-1"}},
            names={"#n": f"n_{format}"},
        )


def _check(name: str) -> None:
    if not _FORMAT.fullmatch(name):
        raise ValueError(f"not a password format name: {name!r}")


def _formats(item: Item) -> dict[str, tuple[int, str | None]]:
    found: dict[str, tuple[int, str | None]] = {}
    names = {k[2:] for k in item if k.startswith("n_")} | {
        k[7:] for k in item if k.startswith("sample_")
    }
    for name in names:
        count = int(item.get(f"n_{name}", {}).get("N", "0"))
        found[name] = (count, item.get(f"sample_{name}", {}).get("S"))
    return found
