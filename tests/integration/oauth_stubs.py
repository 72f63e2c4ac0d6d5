"""Stand-ins for providers the suite cannot reach: GitHub's documented OAuth API, and an OpenID
Provider that signs the ID tokens a test asks for (wrong nonce, wrong audience, expired, a
stranger's key) with a key of the test's own. The real OpenID Provider of the suite is panva's
oidc-provider (devtools.oidc_local); these cover what it would never do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from devtools.dynamodb_local import free_port


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class _Stub:
    """A threaded HTTP server on 127.0.0.1 whose routes are this object's methods."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._route("GET")

            def do_POST(self) -> None:
                self._route("POST")

            def _route(self, method: str) -> None:
                parts = urlsplit(self.path)
                stub.requests.append((method, parts.path))
                length = int(self.headers.get("Content-Length") or 0)
                form = parse_qs(self.rfile.read(length).decode()) if length else {}
                query = parse_qs(parts.query)
                fields = {k: v[0] for k, v in {**query, **form}.items()}
                status, headers, body = stub.answer(method, parts.path, fields, self.headers)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._handler = Handler
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)

    def answer(
        self, method: str, path: str, fields: dict[str, str], headers: Any
    ) -> tuple[int, dict[str, str], Any]:
        raise NotImplementedError

    def __enter__(self) -> Any:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Down, as a provider may be; `restart` brings it back on the same port."""
        self._server.shutdown()
        self._server.server_close()

    def restart(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()


class GitHubUser:
    def __init__(
        self, user_id: int, login: str, emails: list[dict[str, Any]] | None = None
    ) -> None:
        self.id = user_id
        self.login = login
        self.emails = emails  # None: /user/emails answers 404


class GitHubStub(_Stub):
    """GitHub's web flow and REST API as documented: the authorize page (here it signs in
    `self.user` at once), /login/oauth/access_token (200 with an `error` field on failure, PKCE
    checked), /user and /user/emails."""

    def __init__(self) -> None:
        super().__init__()
        self.user = GitHubUser(583231, "octocat", [])
        self._codes: dict[str, tuple[GitHubUser, str, str]] = {}  # code -> user, challenge, uri
        self._tokens: dict[str, GitHubUser] = {}

    def answer(
        self, method: str, path: str, fields: dict[str, str], headers: Any
    ) -> tuple[int, dict[str, str], Any]:
        if path == "/login/oauth/authorize":
            code = secrets.token_hex(10)
            self._codes[code] = (self.user, fields["code_challenge"], fields["redirect_uri"])
            location = (
                fields["redirect_uri"] + "?" + urlencode({"code": code, "state": fields["state"]})
            )
            return 302, {"Location": location}, b""
        if path == "/login/oauth/access_token":
            found = self._codes.pop(fields.get("code", ""), None)
            if (
                found is None
                or fields.get("client_secret") != "github-secret"
                or _s256(fields.get("code_verifier", "")) != found[1]
                or fields.get("redirect_uri") != found[2]
            ):
                return 200, {}, {"error": "bad_verification_code"}
            token = secrets.token_hex(16)
            self._tokens[token] = found[0]
            return 200, {}, {"access_token": token, "token_type": "bearer", "scope": "user:email"}
        user = self._tokens.get(headers.get("Authorization", "").removeprefix("Bearer "))
        if user is None:
            return 401, {}, {"message": "Bad credentials"}
        if path == "/user":
            return 200, {}, {"id": user.id, "login": user.login, "name": None}
        if path == "/user/emails":
            if user.emails is None:
                return 404, {}, {"message": "Not Found"}
            return 200, {}, user.emails
        return 404, {}, {"message": "Not Found"}


class TokenStub(_Stub):
    """An OpenID Provider that signs whatever ID token `self.shape` makes of the right one:
    discovery, its JWKS (the test's own RSA key), an authorize endpoint that answers at once,
    and a token endpoint."""

    CLIENT_ID = "stub-client"
    CLIENT_SECRET = "stub-secret-" + "x" * 32  # long enough to be a real HMAC key

    def __init__(self) -> None:
        super().__init__()
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "stub-1"
        # (claims, header) -> (claims, header, signing key): set by a test, reset after it.
        self.shape: Callable[[dict[str, Any], dict[str, Any]], tuple[dict, dict, Any]] = (
            lambda claims, header: (claims, header, self.key)
        )
        self.subject = "stub-subject"
        self.email = "stubby@example.com"
        self._codes: dict[str, str] = {}  # code -> nonce

    def answer(
        self, method: str, path: str, fields: dict[str, str], headers: Any
    ) -> tuple[int, dict[str, str], Any]:
        if path == "/.well-known/openid-configuration":
            return (
                200,
                {},
                {
                    "issuer": self.url,
                    "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token",
                    "jwks_uri": f"{self.url}/jwks",
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "token_endpoint_auth_methods_supported": ["client_secret_post"],
                },
            )
        if path == "/jwks":
            import jwt

            public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
            return 200, {}, {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "RS256"}]}
        if path == "/authorize":
            code = secrets.token_hex(10)
            self._codes[code] = fields.get("nonce", "")
            query = urlencode({"code": code, "state": fields["state"], "iss": self.url})
            return 302, {"Location": f"{fields['redirect_uri']}?{query}"}, b""
        if path == "/token":
            nonce = self._codes.pop(fields.get("code", ""), None)
            if nonce is None or fields.get("client_secret") != self.CLIENT_SECRET:
                return 400, {}, {"error": "invalid_grant"}
            return (
                200,
                {},
                {
                    "access_token": secrets.token_hex(16),
                    "token_type": "Bearer",
                    "id_token": self.id_token(nonce),
                },
            )
        return 404, {}, {"error": "not_found"}

    def id_token(self, nonce: str) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": self.subject,
            "aud": self.CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "email": self.email,
            "email_verified": True,
        }
        claims, header, key = self.shape(claims, {"kid": self.kid})
        algorithm = header.pop("alg", "RS256")
        if algorithm == "none":
            return jwt.encode(claims, None, algorithm="none", headers=header)
        return jwt.encode(claims, key, algorithm=algorithm, headers=header)
