"""The keyring that encrypts TOTP secrets at rest, for a deployed stage's SSM parameter.

    python -m devtools.totp_keys new                 # a keyring of one fresh key (k1)
    python -m devtools.totp_keys rotate < old.json   # the same keyring plus a new current key

Put it into Parameter Store as a SecureString (the template's TotpKeysParameter):

    python -m devtools.totp_keys new > keys.json
    aws ssm put-parameter --name /session-auth/totp-keys --type SecureString \\
        --value file://keys.json && rm keys.json

Rotating keeps the old keys (ciphertexts name theirs), so no secret becomes unreadable; running
containers pick the new keyring up when Lambda starts new ones.
"""

from __future__ import annotations

import json
import sys

from chalicelib.keyring import Keyring


def rotate(current_json: str) -> str:
    keyring = json.loads(current_json)
    Keyring.from_json(current_json)  # refuse to extend a malformed keyring
    number = 1 + max(int(k[1:]) for k in keyring["keys"] if k[1:].isdigit())
    fresh = json.loads(Keyring.new_json(f"k{number}"))
    merged = {"current": fresh["current"], "keys": {**keyring["keys"], **fresh["keys"]}}
    return json.dumps(merged, indent=2) + "\n"


def main(argv: list[str]) -> int:
    if argv == ["new"]:
        sys.stdout.write(Keyring.new_json())
        return 0
    if argv == ["rotate"]:
        sys.stdout.write(rotate(sys.stdin.read()))
        return 0
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
