"""The keyring that signs access tokens, for a deployed stage's SSM parameter.

    python -m devtools.token_keys new                 # a keyring of one fresh RSA-2048 key
    python -m devtools.token_keys rotate < old.json   # the same keyring plus a new key

Put it into Parameter Store as a SecureString (the template's AccessTokenKeysParameter):

    python -m devtools.token_keys new > keys.json
    aws ssm put-parameter --name /session-auth/access-token-keys --type SecureString \\
        --value file://keys.json && rm keys.json

A rotation publishes the new key at once and signs with it only after
ACCESS_TOKEN_KEY_ACTIVATION (2 hours: API Gateway caches a JWKS that long), so tokens signed by
the previous key keep verifying until they expire. Keys whose successor was added more than
25 hours ago (the longest activation, 24 hours, plus the longest token, 1 hour) leave the
keyring. Running containers pick the new keyring up when Lambda starts new ones: to publish
the new key everywhere at once, update the function (a new deployment, or a change to its
configuration) after putting the parameter.
"""

from __future__ import annotations

import sys
import time

from chalicelib.access_tokens import new_keyring_json, rotate_keyring_json
from chalicelib.config import ConfigError


def main(argv: list[str]) -> int:
    now = int(time.time())
    if argv == ["new"]:
        sys.stdout.write(new_keyring_json(now))
        return 0
    if argv == ["rotate"]:
        try:
            sys.stdout.write(rotate_keyring_json(sys.stdin.read(), now))
        except ConfigError as error:
            print(f"token_keys: {error}", file=sys.stderr)
            return 1
        return 0
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
