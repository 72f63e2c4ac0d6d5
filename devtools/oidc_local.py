"""A real OpenID Provider on this machine, for `make dev` and the test suites: panva's
oidc-provider (npm, OpenID Certified) run by the machine's Node through
devtools/oidc-provider.mjs.

Its development login form takes any email (one with "+unverified" in it is reported
unverified); it requires PKCE, puts `email` only in UserInfo, and adds RFC 9207's `iss` to its
authorization responses. It listens on 127.0.0.1, another site than the app's localhost, as a
real provider is. `sign_in` drives its forms without a browser.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
import time
import urllib.request
from typing import Any
from urllib.parse import urljoin

from devtools.dynamodb_local import ROOT, _LocalServer, die_with_parent, stop_process

SCRIPT = ROOT / "devtools" / "oidc-provider.mjs"
PACKAGE = ROOT / "node_modules" / "oidc-provider"
PROVIDER_ID = "local"
PROVIDER_NAME = "Local test provider"


class LocalOpenIDProvider(_LocalServer):
    """The provider, with one confidential client whose callbacks are `redirect_uris`."""

    def __init__(self, redirect_uris: list[str], port: int | None = None) -> None:
        super().__init__(port)
        self.redirect_uris = redirect_uris
        self.client_id = "session-auth-local"
        self.client_secret = secrets.token_urlsafe(24)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return self.endpoint  # http://127.0.0.1:<port>

    def settings_environment(self, provider_id: str = PROVIDER_ID) -> dict[str, str]:
        """The OAUTH_* variables that make the app use it (trusted for email: every linking
        rule can then be tried locally)."""
        prefix = f"OAUTH_{provider_id.upper()}_"
        return {
            "OAUTH_PROVIDERS": provider_id,
            prefix + "ISSUER": self.issuer,
            prefix + "NAME": PROVIDER_NAME,
            prefix + "CLIENT_ID": self.client_id,
            prefix + "CLIENT_SECRET": self.client_secret,
            prefix + "TRUST_EMAIL": "true",
        }

    def start(self, timeout: float = 30) -> LocalOpenIDProvider:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("the local OpenID Provider needs Node.js (`node`) on the PATH")
        if not PACKAGE.exists():
            raise FileNotFoundError(f"{PACKAGE} is missing: run `npm ci` (make does)")
        env = {
            "PATH": "/usr/bin:/bin",
            "NODE_ENV": "development",
            "OIDC_PORT": str(self.port),
            "OIDC_ISSUER": self.issuer,
            "OIDC_CLIENT_ID": self.client_id,
            "OIDC_CLIENT_SECRET": self.client_secret,
            "OIDC_REDIRECT_URIS": ",".join(self.redirect_uris),
        }
        self._process = subprocess.Popen(
            [node, str(SCRIPT)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        try:
            self._wait_for_discovery(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_discovery(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.issuer}/.well-known/openid-configuration"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"oidc-provider exited with code {self._process.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (ours)
                    if json.loads(response.read()).get("issuer") == self.issuer:
                        return
            except (OSError, ValueError):
                time.sleep(0.2)
        raise TimeoutError(f"oidc-provider did not answer on {url} within {timeout:.0f} s")

    def poll(self) -> int | None:
        if self._process is None:
            raise RuntimeError("the OpenID Provider is not started")
        return self._process.poll()

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None


def sign_in(browser: Any, authorization_url: str, email: str, callback_prefix: str) -> str:
    """Sign `email` in at the provider as a person would (its login form, then its consent
    form) with `browser`, a requests.Session; returns the callback URL the provider redirects
    to (starting with `callback_prefix`), without following it."""
    url = authorization_url
    for _ in range(12):
        response = browser.get(url, allow_redirects=False)
        while response.status_code in (302, 303):
            location = urljoin(url, response.headers["Location"])
            if location.startswith(callback_prefix):
                return location
            url = location
            response = browser.get(url, allow_redirects=False)
        if response.status_code != 200:
            raise RuntimeError(f"the provider answered {response.status_code} at {url}")
        action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
        if action is None:
            raise RuntimeError(f"no form at {url}")
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', response.text))
        if 'name="login"' in response.text:
            fields |= {"prompt": "login", "login": email, "password": "any"}
        posted = browser.post(urljoin(url, action.group(1)), data=fields, allow_redirects=False)
        if posted.status_code not in (302, 303):
            raise RuntimeError(f"the provider's form answered {posted.status_code}")
        url = urljoin(url, posted.headers["Location"])
        if url.startswith(callback_prefix):
            return url
    raise RuntimeError("the provider never redirected back")
