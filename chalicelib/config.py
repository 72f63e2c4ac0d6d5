"""Settings: one frozen object per Lambda container, read from the stage's environment.

Every setting is an environment variable set per stage in `.chalice/config.json`.
Durations are written with a unit: `30d`, `12h`, `15m` or `45s`.

- TABLE_NAME (session-auth): the DynamoDB table of users, email claims and sessions.
- SESSION_LIFETIME (30d): idle lifetime, extended when less than half of it remains.
- SESSION_ABSOLUTE_LIFETIME (90d): hard cap from creation that sliding never passes.
- COOKIE_NAME (auth_session): the cookie's base name.
- COOKIE_SECURE (true): Secure attribute and `__Host-` name prefix; false only on `local`.
- SESSION_ACTIVITY_INTERVAL (1h): how stale a session's last_used_at may get before a request
  refreshes it (bounds the writes that session listing costs).
- ARGON2_MEMORY_KIB (19456), ARGON2_TIME_COST (2), ARGON2_PARALLELISM (1): Argon2id cost,
  OWASP's minimum, sized for a small Lambda.
- PUBLIC_ORIGIN (unset): the origin browsers see (`https://auth.example.com`) when a proxy such
  as CloudFront sends another Host header; state-changing requests from it are same-origin.
- ALLOWED_ORIGINS (empty): comma-separated further origins trusted for state-changing requests.
- CORS_ORIGINS (empty): comma-separated exact origins of single-page apps that call the JSON
  API from another origin, with credentials: they get CORS headers, and are trusted like
  ALLOWED_ORIGINS. https only, but for http://localhost:<port> where cookies are not Secure;
  never a path, a wildcard or `*`.
- COOKIE_SAMESITE (lax): the session cookie's SameSite: lax, strict, or none (which needs
  COOKIE_SECURE: an app on another site, where the browser allows third-party cookies).
- LOGIN_EMAIL_MAX_FAILURES (5), LOGIN_IP_MAX_FAILURES (20): failed logins per normalised email
  and per source IP after which attempts get 429.
- LOGIN_FAILURE_WINDOW (15m): failures are forgotten this long after the last one (or after the
  lockout it caused ends).
- LOGIN_LOCKOUT_BASE (1m), LOGIN_LOCKOUT_MAX (15m): the first lockout, doubled on each further
  failure up to the maximum.
- SIGNUP_IP_MAX (30): sign-ups per client address an hour, whatever they answer (a 409
  tells which addresses have accounts); a company onboarding behind one NAT may need more.
  Sign-ups per address are 3 per 10 minutes.
- SIGNUP_REVEALS_ACCOUNTS (true): sign-up answers 409 email_taken for an address that has an
  account, and signs a new one in at once. false: every sign-up answers the same 202 in the
  same time and signs nobody in; a new address is mailed a code that finishes the sign-up (as
  a code sign-in does), a taken one's owner a notice.
- CLIENT_IP_HEADER (unset): the header a proxy in front of API Gateway (CloudFront's
  `CloudFront-Viewer-Address`, a load balancer's) sets to the client's address; per-IP limits
  and the audit log use it instead of the proxy's own address. Only for an API that cannot be
  reached but through that proxy: anyone reaching it directly chooses their own address.
- REQUIRE_VERIFIED_EMAIL (false): when true, protected resources answer 403 email_unverified
  (and protected pages redirect to /verify-email) until the user has verified their address.
- MAIL_FROM (unset): the From address of every message, a verified Amazon SES identity;
  deployed stages send through SES v2 from it.
- MAIL_OUTBOX_DIR (unset): when set, mail is never sent but written as .eml files into this
  folder (the `local` stage: `.outbox`), and one line per message is printed.
- MAIL_SENDER_NAME (Training): the display name on the From line and the issuer in messages.
- TOTP_ISSUER (Training): the issuer authenticator apps show beside the account.
- TOTP_KEYS_PARAMETER (unset): the SSM SecureString holding the keyring that encrypts TOTP
  secrets at rest (deployed stages; the template's TotpKeysParameter).
- TOTP_KEYS_FILE (unset): a keyring file instead, made on first use (`make dev`:
  `.secrets/totp-keys.json`).
- EMAIL_CODE_LOGIN (true): sign-in with a code sent by email (POST /auth/login/code); false
  answers those routes 404 and the pages offer no code sign-in.
- EMAIL_CODE_SIGNUP (true): a code sent to an address without an account creates one, with no
  password, when it is used; false sends such addresses nothing.
- OAUTH_PROVIDERS (empty): social sign-in, provider ids in button order (`google,github,corp`).
  For each, upper-cased as <ID>: OAUTH_<ID>_CLIENT_ID, and OAUTH_<ID>_CLIENT_SECRET unless
  OAUTH_SECRETS_PARAMETER names the SSM SecureString that holds every secret (a JSON object,
  id -> secret). `google` and `github` are built in; any other id is a generic OpenID Connect
  provider found by discovery: OAUTH_<ID>_ISSUER, OAUTH_<ID>_NAME (its button label) and
  OAUTH_<ID>_TRUST_EMAIL (false: may its verified emails link to an existing account).
  Issuers are https, but for http://localhost and http://127.0.0.1 where cookies are not
  Secure (the `local` stage). OAUTH_GITHUB_URL (https://github.com) and OAUTH_GITHUB_API_URL
  (https://api.github.com) point the built-in GitHub at GitHub Enterprise Server.
- ACCESS_TOKEN_AUDIENCES (api): comma-separated audiences that POST /auth/token signs access
  tokens for (`aud`, and `client_id`); the first is the default.
- ACCESS_TOKEN_LIFETIME (5m): how long an access token lives; at most 1h. A token outlives a
  logout by at most this.
- ACCESS_TOKEN_SCOPES (api): the tokens' `scope`, space- or comma-separated.
- ACCESS_TOKEN_KEYS_PARAMETER (unset): the SSM SecureString holding the RSA keyring that signs
  access tokens (deployed stages; the template's AccessTokenKeysParameter).
- ACCESS_TOKEN_KEYS_FILE (unset): a keyring file instead, made on first use (`make dev`:
  `.secrets/access-token-keys.json`).
- ACCESS_TOKEN_KEY_ACTIVATION (2h): how long a new key is published before it signs (API
  Gateway caches a JWKS for up to two hours); at most 24h.
- ROLES (empty): the stage's own roles beside the built-in `admin` and `support`, a JSON
  object of role -> `resource:action` permissions: `{"editor":["notes:write"]}`
  (chalicelib.roles; docs/admin.md).
- ORG_ROLES (empty): the stage's own organization roles beside the built-in `owner`, `admin`
  and `member`, a JSON object of role -> permissions: `{"editor":["projects:write"]}`
  (chalicelib.roles.org_roles; docs/organizations.md).
- ADMIN_MFA_REQUIRED (true): the admin API and pages need a session that gave a second factor
  or a passkey when it signed in (403 admin_mfa_required).
- EVENT_RETENTION (90d): how long each user's events are kept (GET /auth/events; the table's
  TTL removes them after), at least a day (chalicelib.events; docs/events.md).
- WEBHOOK_QUEUE_URL (unset): the SQS FIFO queue that carries each event to each webhook and
  reaction (the template's WebhookQueue; `make dev` runs its own). Unset: events are kept,
  and delivered to no one.
- WEBHOOKS (empty): where events are delivered, a JSON list of endpoints, each the event types
  it wants: `[{"url": "https://hooks.example.com/auth", "events": ["user.created"]}]`. https
  only (http://localhost, 127.0.0.1 or [::1] where cookies are not Secure), no user:password@,
  no #fragment, known event types only. Kept as text here and read by
  chalicelib.webhooks.endpoints.webhook_endpoints, which knows the event types; whoever builds
  the stage's services calls it at start-up, so a mistake still fails there.
- WEBHOOK_SECRETS_PARAMETER (unset): the SSM SecureString holding the signing secrets, newest
  first: `{"secrets": ["whsec_..."]}` (deployed stages; chalicelib.webhooks.signing).
- WEBHOOK_SECRETS_FILE (unset): a secrets file instead, made with one new secret on first use
  (the `local` stage: `.secrets/webhook-secrets.json`).
- WEBHOOK_GIVE_UP (3d): how long a delivery that keeps failing is retried (the waits growing
  to a day) before its endpoint is marked failing and the delivery set aside in the
  dead-letter queue (WEBHOOK_DEAD_LETTER_QUEUE_URL); the event stays, to replay.
- WEBHOOK_DEAD_LETTER_QUEUE_URL (unset): the SQS FIFO queue of deliveries given up on (the
  template's WebhookDeadLetterQueue).
- HOOKS_MODULE (unset): the dotted name of the team's own module of hooks (`hooks` for a
  hooks.py beside app.py, or any module on the Python path), imported when a hook is first
  needed, never on a protected request (chalicelib.hooks).
- HOOK_TIMEOUT (2s): how long a decision hook may take before its on_error applies; at most
  10s, and `ms` may be used (`500ms`).
- HOOK_BEFORE_SIGN_UP_URL, HOOK_ACCESS_TOKEN_CLAIMS_URL (unset): an HTTPS endpoint that makes
  that decision instead of a function of HOOKS_MODULE (http only to localhost or 127.0.0.1
  where cookies are not Secure); a decision is one or the other, never both.
- HOOK_BEFORE_SIGN_UP_ON_ERROR (deny), HOOK_ACCESS_TOKEN_CLAIMS_ON_ERROR (allow): what such an
  endpoint's failure (a timeout, an error, a wrong answer) means: deny refuses the sign-up
  (403 sign_up_denied) or the token (503); allow lets the sign-up go on, or issues the token
  without extra claims. A function's own on_error comes with its decorator.
- MIGRATE_FROM_URL (unset): the team's HTTPS endpoint that a sign-in finding no account asks
  whether the old system knows the user (and, for a password sign-in, the password); on yes
  the account is made then (chalicelib.migration, docs/migration.md). Signed like webhooks,
  within HOOK_TIMEOUT; http only to this machine where cookies are not Secure.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import NamedTuple

from chalicelib.roles import BUILT_IN, ORG_BUILT_IN, RoleError, parse_roles

_DURATION = re.compile(r"^\s*(\d+)\s*([dhms])\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
# scheme://host[:port], lower case, no path: exactly what browsers put in an Origin header.
_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:\d{1,5})?")
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# RFC 6749 3.3's scope-token; an audience is any such printable word too (no comma: the list's).
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
_AUDIENCE = re.compile(r"[\x21-\x2b\x2d-\x7e]{1,256}")
MAX_ACCESS_TOKEN_LIFETIME = timedelta(hours=1)
MAX_ACCESS_TOKEN_KEY_ACTIVATION = timedelta(hours=24)
# A decision hook's budget: well inside the Lambda's 25 s and API Gateway's 29 s, whatever
# else the request waits for.
MAX_HOOK_TIMEOUT = timedelta(seconds=10)
ON_ERROR = ("deny", "allow")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A stage setting is missing or malformed; raised at start-up, never per request."""


class OAuthProviderSettings(NamedTuple):
    """One social sign-in provider as the stage configures it (chalicelib.oauth resolves it)."""

    id: str
    kind: str  # "google", "github" or "oidc" (a generic OpenID Connect provider)
    name: str  # the button's label
    client_id: str
    client_secret: str | None  # None: read from OAUTH_SECRETS_PARAMETER
    issuer: str
    trust_email: bool  # its verified emails may link to an existing account
    github_url: str = "https://github.com"
    github_api_url: str = "https://api.github.com"


_BUILT_IN = {
    "google": ("google", "Google", "https://accounts.google.com"),
    "github": ("github", "GitHub", ""),  # its issuer is OAUTH_GITHUB_URL
}
_PROVIDER_ID = re.compile(r"[a-z][a-z0-9]{0,31}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
_LOOPBACK = re.compile(r"http://(localhost|127\.0\.0\.1)(:\d{1,5})?")
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", re.ASCII)
_MILLISECONDS = re.compile(r"^\s*(\d+)\s*ms\s*$")


@dataclass(frozen=True)
class Settings:
    table_name: str = "session-auth"
    session_lifetime: timedelta = timedelta(days=30)
    session_absolute_lifetime: timedelta = timedelta(days=90)
    cookie_name: str = "auth_session"
    cookie_secure: bool = True
    session_activity_interval: timedelta = timedelta(hours=1)
    argon2_memory_kib: int = 19456
    argon2_time_cost: int = 2
    argon2_parallelism: int = 1
    public_origin: str | None = None
    allowed_origins: tuple[str, ...] = ()
    cors_origins: tuple[str, ...] = ()
    cookie_samesite: str = "Lax"
    login_email_max_failures: int = 5
    login_ip_max_failures: int = 20
    login_failure_window: timedelta = timedelta(minutes=15)
    login_lockout_base: timedelta = timedelta(minutes=1)
    login_lockout_max: timedelta = timedelta(minutes=15)
    require_verified_email: bool = False
    signup_ip_max: int = 30
    signup_reveals_accounts: bool = True
    client_ip_header: str | None = None
    mail_from: str | None = None
    mail_outbox_dir: str | None = None
    mail_sender_name: str = "Training"
    totp_issuer: str = "Training"
    totp_keys_parameter: str | None = None
    totp_keys_file: str | None = None
    email_code_login: bool = True
    email_code_signup: bool = True
    oauth_providers: tuple[OAuthProviderSettings, ...] = ()
    oauth_secrets_parameter: str | None = None
    access_token_audiences: tuple[str, ...] = ("api",)
    access_token_lifetime: timedelta = timedelta(minutes=5)
    access_token_scopes: tuple[str, ...] = ("api",)
    access_token_keys_parameter: str | None = None
    access_token_keys_file: str | None = None
    access_token_key_activation: timedelta = timedelta(hours=2)
    # role -> permissions, the stage's own (ROLES); the built-in ones are chalicelib.roles'
    roles: tuple[tuple[str, frozenset[str]], ...] = ()
    org_roles: tuple[tuple[str, frozenset[str]], ...] = ()  # ORG_ROLES: the stage's own
    admin_mfa_required: bool = True
    event_retention: timedelta = timedelta(days=90)
    webhook_queue_url: str | None = None
    webhooks_json: str = ""  # WEBHOOKS as written: chalicelib.webhooks.endpoints parses it
    webhook_secrets_parameter: str | None = None
    webhook_secrets_file: str | None = None
    webhook_give_up: timedelta = timedelta(days=3)
    webhook_dead_letter_queue_url: str | None = None
    hooks_module: str | None = None
    hook_timeout: timedelta = timedelta(seconds=2)
    hook_before_sign_up_url: str | None = None
    hook_access_token_claims_url: str | None = None
    hook_before_sign_up_on_error: str = "deny"
    hook_access_token_claims_on_error: str = "allow"  # noqa: S105 (not a secret)
    migrate_from_url: str | None = None

    @property
    def emailed_codes_sign_in(self) -> bool:
        """Whether an emailed code can be entered to sign in (or finish a quiet sign-up)."""
        return self.email_code_login or not self.signup_reveals_accounts

    def oauth_provider(self, provider_id: str) -> OAuthProviderSettings | None:
        return next((p for p in self.oauth_providers if p.id == provider_id), None)

    def __post_init__(self) -> None:
        if self.session_lifetime <= timedelta(0):
            raise ConfigError("SESSION_LIFETIME must be positive")
        if self.session_absolute_lifetime < self.session_lifetime:
            raise ConfigError("SESSION_ABSOLUTE_LIFETIME must be at least SESSION_LIFETIME")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", self.cookie_name):
            raise ConfigError("COOKIE_NAME may only hold letters, digits, '_' and '-'")
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            raise ConfigError("ARGON2_MEMORY_KIB must be at least 8 x ARGON2_PARALLELISM")
        if self.argon2_time_cost < 1 or self.argon2_parallelism < 1:
            raise ConfigError("ARGON2_TIME_COST and ARGON2_PARALLELISM must be at least 1")
        for origin in (self.public_origin, *self.allowed_origins):
            if origin is not None and not _ORIGIN.fullmatch(origin):
                raise ConfigError(f"{origin!r} is not an origin like 'https://app.example.com'")
        for origin in self.cors_origins:
            secure = origin.startswith("https://")
            local = not self.cookie_secure and re.fullmatch(r"http://localhost:\d{1,5}", origin)
            if not _ORIGIN.fullmatch(origin) or not (secure or local):
                raise ConfigError(
                    f"CORS_ORIGINS: {origin!r} is not an exact origin like "
                    "'https://app.example.com' (http://localhost:<port> on the local stage only;"
                    " no path, no wildcard)"
                )
        if self.cookie_samesite not in ("Lax", "Strict", "None"):
            raise ConfigError("COOKIE_SAMESITE must be lax, strict or none")
        if self.cookie_samesite == "None" and not self.cookie_secure:
            raise ConfigError("COOKIE_SAMESITE=none needs COOKIE_SECURE=true (browsers insist)")
        if self.login_email_max_failures < 1 or self.login_ip_max_failures < 1:
            raise ConfigError("LOGIN_EMAIL_MAX_FAILURES and LOGIN_IP_MAX_FAILURES must be >= 1")
        if self.signup_ip_max < 1:
            raise ConfigError("SIGNUP_IP_MAX must be at least 1")
        if self.client_ip_header is not None and not _HEADER_NAME.fullmatch(self.client_ip_header):
            raise ConfigError(f"CLIENT_IP_HEADER {self.client_ip_header!r} is not a header name")
        if not timedelta(0) < self.login_lockout_base <= self.login_lockout_max:
            raise ConfigError("LOGIN_LOCKOUT_BASE must be positive and at most LOGIN_LOCKOUT_MAX")
        if self.mail_from is not None and not _ADDRESS.fullmatch(self.mail_from):
            raise ConfigError(f"MAIL_FROM {self.mail_from!r} is not an address like a@b.example")
        for name, value in (
            ("MAIL_SENDER_NAME", self.mail_sender_name),
            ("TOTP_ISSUER", self.totp_issuer),
        ):
            if not re.fullmatch(r"[\w .'-]{1,64}", value):
                raise ConfigError(f"{name} may hold letters, digits, spaces and .'- only")
        self._check_access_tokens()
        if self.event_retention < timedelta(days=1):
            raise ConfigError("EVENT_RETENTION must be at least 1d")
        if self.webhook_give_up <= timedelta(0):
            raise ConfigError("WEBHOOK_GIVE_UP must be positive")
        self._check_hooks()

    def _check_hooks(self) -> None:
        module = self.hooks_module
        if module is not None and (not _MODULE.fullmatch(module) or module.endswith(".py")):
            raise ConfigError(
                f"HOOKS_MODULE {module!r} is not a module's dotted name (`hooks` for hooks.py)"
            )
        if not timedelta(0) < self.hook_timeout <= MAX_HOOK_TIMEOUT:
            raise ConfigError("HOOK_TIMEOUT must be positive and at most 10s")
        for name, url in (
            ("HOOK_BEFORE_SIGN_UP_URL", self.hook_before_sign_up_url),
            ("HOOK_ACCESS_TOKEN_CLAIMS_URL", self.hook_access_token_claims_url),
            ("MIGRATE_FROM_URL", self.migrate_from_url),
        ):
            if url is not None:
                _check_url(name, url, secure=self.cookie_secure)
        for name, value in (
            ("HOOK_BEFORE_SIGN_UP_ON_ERROR", self.hook_before_sign_up_on_error),
            ("HOOK_ACCESS_TOKEN_CLAIMS_ON_ERROR", self.hook_access_token_claims_on_error),
        ):
            if value not in ON_ERROR:
                raise ConfigError(f"{name} must be deny or allow, not {value!r}")

    def _check_access_tokens(self) -> None:
        if not self.access_token_audiences:
            raise ConfigError("ACCESS_TOKEN_AUDIENCES needs at least one audience")
        for audience in self.access_token_audiences:
            if not _AUDIENCE.fullmatch(audience):
                raise ConfigError(
                    f"ACCESS_TOKEN_AUDIENCES: {audience!r} is not an audience of 1-256 "
                    "printable characters without spaces or commas"
                )
        if not self.access_token_scopes:
            raise ConfigError("ACCESS_TOKEN_SCOPES needs at least one scope")
        for scope in self.access_token_scopes:
            if not _SCOPE.fullmatch(scope):
                raise ConfigError(f"ACCESS_TOKEN_SCOPES: {scope!r} is not an OAuth scope")
        if not timedelta(0) < self.access_token_lifetime <= MAX_ACCESS_TOKEN_LIFETIME:
            raise ConfigError("ACCESS_TOKEN_LIFETIME must be positive and at most 1h")
        if not timedelta(0) <= self.access_token_key_activation <= MAX_ACCESS_TOKEN_KEY_ACTIVATION:
            raise ConfigError("ACCESS_TOKEN_KEY_ACTIVATION must be at most 24h")

    def check_mail(self) -> None:
        """Mail needs a way out and an origin for its links; checked when the mailer is built
        (the first request of a container), so a stage that never mails needs neither."""
        if self.mail_outbox_dir is None and self.mail_from is None:
            raise ConfigError("MAIL_FROM (a verified SES identity) or MAIL_OUTBOX_DIR is required")
        if self.public_origin is None:
            raise ConfigError("PUBLIC_ORIGIN is required: links in mail are built from it")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            table_name=env.get("TABLE_NAME", defaults.table_name),
            session_lifetime=_duration(env, "SESSION_LIFETIME", defaults.session_lifetime),
            session_absolute_lifetime=_duration(
                env, "SESSION_ABSOLUTE_LIFETIME", defaults.session_absolute_lifetime
            ),
            cookie_name=env.get("COOKIE_NAME", defaults.cookie_name),
            cookie_secure=_flag(env, "COOKIE_SECURE", defaults.cookie_secure),
            session_activity_interval=_duration(
                env, "SESSION_ACTIVITY_INTERVAL", defaults.session_activity_interval
            ),
            argon2_memory_kib=_integer(env, "ARGON2_MEMORY_KIB", defaults.argon2_memory_kib),
            argon2_time_cost=_integer(env, "ARGON2_TIME_COST", defaults.argon2_time_cost),
            argon2_parallelism=_integer(env, "ARGON2_PARALLELISM", defaults.argon2_parallelism),
            public_origin=env.get("PUBLIC_ORIGIN") or None,
            allowed_origins=_origins(env, "ALLOWED_ORIGINS"),
            cors_origins=_origins(env, "CORS_ORIGINS"),
            cookie_samesite=env.get("COOKIE_SAMESITE", "lax").strip().capitalize(),
            login_email_max_failures=_integer(
                env, "LOGIN_EMAIL_MAX_FAILURES", defaults.login_email_max_failures
            ),
            login_ip_max_failures=_integer(
                env, "LOGIN_IP_MAX_FAILURES", defaults.login_ip_max_failures
            ),
            login_failure_window=_duration(
                env, "LOGIN_FAILURE_WINDOW", defaults.login_failure_window
            ),
            login_lockout_base=_duration(env, "LOGIN_LOCKOUT_BASE", defaults.login_lockout_base),
            login_lockout_max=_duration(env, "LOGIN_LOCKOUT_MAX", defaults.login_lockout_max),
            require_verified_email=_flag(
                env, "REQUIRE_VERIFIED_EMAIL", defaults.require_verified_email
            ),
            signup_ip_max=_integer(env, "SIGNUP_IP_MAX", defaults.signup_ip_max),
            signup_reveals_accounts=_flag(
                env, "SIGNUP_REVEALS_ACCOUNTS", defaults.signup_reveals_accounts
            ),
            client_ip_header=env.get("CLIENT_IP_HEADER", "").strip() or None,
            mail_from=env.get("MAIL_FROM") or None,
            mail_outbox_dir=env.get("MAIL_OUTBOX_DIR") or None,
            mail_sender_name=env.get("MAIL_SENDER_NAME", defaults.mail_sender_name),
            totp_issuer=env.get("TOTP_ISSUER", defaults.totp_issuer),
            totp_keys_parameter=env.get("TOTP_KEYS_PARAMETER") or None,
            totp_keys_file=env.get("TOTP_KEYS_FILE") or None,
            email_code_login=_flag(env, "EMAIL_CODE_LOGIN", defaults.email_code_login),
            email_code_signup=_flag(env, "EMAIL_CODE_SIGNUP", defaults.email_code_signup),
            oauth_providers=_oauth_providers(env, secure=_flag(env, "COOKIE_SECURE", True)),
            oauth_secrets_parameter=env.get("OAUTH_SECRETS_PARAMETER") or None,
            access_token_audiences=_words(
                env, "ACCESS_TOKEN_AUDIENCES", defaults.access_token_audiences, ", "
            ),
            access_token_lifetime=_duration(
                env, "ACCESS_TOKEN_LIFETIME", defaults.access_token_lifetime
            ),
            access_token_scopes=_words(
                env, "ACCESS_TOKEN_SCOPES", defaults.access_token_scopes, ", "
            ),
            access_token_keys_parameter=env.get("ACCESS_TOKEN_KEYS_PARAMETER") or None,
            access_token_keys_file=env.get("ACCESS_TOKEN_KEYS_FILE") or None,
            access_token_key_activation=_duration(
                env, "ACCESS_TOKEN_KEY_ACTIVATION", defaults.access_token_key_activation
            ),
            roles=_roles(env),
            org_roles=_roles(env, "ORG_ROLES", ORG_BUILT_IN),
            admin_mfa_required=_flag(env, "ADMIN_MFA_REQUIRED", defaults.admin_mfa_required),
            event_retention=_duration(env, "EVENT_RETENTION", defaults.event_retention),
            webhook_queue_url=env.get("WEBHOOK_QUEUE_URL") or None,
            webhooks_json=env.get("WEBHOOKS", "").strip(),
            webhook_secrets_parameter=env.get("WEBHOOK_SECRETS_PARAMETER") or None,
            webhook_secrets_file=env.get("WEBHOOK_SECRETS_FILE") or None,
            webhook_give_up=_duration(env, "WEBHOOK_GIVE_UP", defaults.webhook_give_up),
            webhook_dead_letter_queue_url=env.get("WEBHOOK_DEAD_LETTER_QUEUE_URL") or None,
            hooks_module=env.get("HOOKS_MODULE", "").strip() or None,
            hook_timeout=_hook_timeout(env, defaults.hook_timeout),
            hook_before_sign_up_url=env.get("HOOK_BEFORE_SIGN_UP_URL", "").strip() or None,
            migrate_from_url=env.get("MIGRATE_FROM_URL", "").strip() or None,
            hook_access_token_claims_url=(
                env.get("HOOK_ACCESS_TOKEN_CLAIMS_URL", "").strip() or None
            ),
            hook_before_sign_up_on_error=_choice(
                env, "HOOK_BEFORE_SIGN_UP_ON_ERROR", defaults.hook_before_sign_up_on_error
            ),
            hook_access_token_claims_on_error=_choice(
                env, "HOOK_ACCESS_TOKEN_CLAIMS_ON_ERROR", defaults.hook_access_token_claims_on_error
            ),
        )


def _roles(
    env: Mapping[str, str], variable: str = "ROLES", built_in: Iterable[str] = BUILT_IN
) -> tuple[tuple[str, frozenset[str]], ...]:
    text = env.get(variable, "").strip()
    if not text:
        return ()
    try:
        return tuple(sorted(parse_roles(text, variable, built_in).items()))
    except RoleError as error:
        raise ConfigError(str(error)) from None


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in env.get(name, "").split(",") if o.strip())


def _words(
    env: Mapping[str, str], name: str, default: tuple[str, ...], separators: str
) -> tuple[str, ...]:
    """A list setting split on any of `separators`; unset keeps the default, empty is empty."""
    if name not in env:
        return default
    return tuple(word for word in re.split(f"[{re.escape(separators)}]+", env[name]) if word)


def _oauth_providers(env: Mapping[str, str], *, secure: bool) -> tuple[OAuthProviderSettings, ...]:
    ids = [p.strip() for p in env.get("OAUTH_PROVIDERS", "").split(",") if p.strip()]
    providers = []
    for provider_id in ids:
        if not _PROVIDER_ID.fullmatch(provider_id):
            raise ConfigError(
                f"OAUTH_PROVIDERS: {provider_id!r} is not an id of lower-case letters and digits"
            )
        if provider_id in (p.id for p in providers):
            raise ConfigError(f"OAUTH_PROVIDERS names {provider_id!r} twice")
        prefix = f"OAUTH_{provider_id.upper()}_"

        def setting(name: str, prefix: str = prefix) -> str | None:
            return env.get(prefix + name) or None

        client_id = setting("CLIENT_ID")
        if client_id is None:
            raise ConfigError(f"{prefix}CLIENT_ID is required")
        secret = setting("CLIENT_SECRET")
        if secret is None and not env.get("OAUTH_SECRETS_PARAMETER"):
            raise ConfigError(f"{prefix}CLIENT_SECRET (or OAUTH_SECRETS_PARAMETER) is required")
        if provider_id in _BUILT_IN:
            kind, name, issuer = _BUILT_IN[provider_id]
            trusted = True
        else:
            kind, name, issuer = "oidc", setting("NAME") or "", setting("ISSUER") or ""
            if not name or len(name) > 40 or not name.isprintable():
                raise ConfigError(f"{prefix}NAME is required: the button's label, 1-40 characters")
            trusted = _flag(env, prefix + "TRUST_EMAIL", False)
        github_url = env.get("OAUTH_GITHUB_URL", "https://github.com").rstrip("/")
        github_api_url = env.get("OAUTH_GITHUB_API_URL", "https://api.github.com").rstrip("/")
        urls = [(prefix + "ISSUER", issuer)]
        if kind == "github":
            # GitHub (or an Enterprise Server) is its own issuer: identities are keyed by it.
            issuer = github_url
            urls = [("OAUTH_GITHUB_URL", github_url), ("OAUTH_GITHUB_API_URL", github_api_url)]
        for variable, url in urls:
            if not url:
                raise ConfigError(f"{variable} is required: the provider's issuer URL")
            _check_url(variable, url, secure=secure)
        providers.append(
            OAuthProviderSettings(
                provider_id,
                kind,
                name,
                client_id,
                secret,
                issuer.rstrip("/"),
                trusted,
                github_url,
                github_api_url,
            )
        )
    return tuple(providers)


def _check_url(variable: str, url: str, *, secure: bool) -> None:
    """https (no query, no fragment); http only to this machine where cookies are not Secure
    (the whole host: never http://localhost.example.com)."""
    if re.fullmatch(r"https://[A-Za-z0-9.-]+(:\d{1,5})?(/[^\s?#]*)?", url):
        return
    if not secure and re.fullmatch(_LOOPBACK.pattern + r"(/[^\s?#]*)?", url):
        return
    raise ConfigError(
        f"{variable} must be an https URL (http only to localhost or 127.0.0.1 on the local "
        f"stage), not {url!r}"
    )


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"{text!r} is not a duration like '30d', '12h', '15m' or '45s'")
    amount, unit = match.groups()
    return timedelta(**{_UNITS[unit]: int(amount)})


def _duration(env: Mapping[str, str], name: str, default: timedelta) -> timedelta:
    if name not in env:
        return default
    try:
        return parse_duration(env[name])
    except ConfigError as error:
        raise ConfigError(f"{name}: {error}") from None


def _hook_timeout(env: Mapping[str, str], default: timedelta) -> timedelta:
    """A duration, or milliseconds (`500ms`): a hook's budget is counted in seconds."""
    match = _MILLISECONDS.match(env.get("HOOK_TIMEOUT", ""))
    if match:
        return timedelta(milliseconds=int(match.group(1)))
    return _duration(env, "HOOK_TIMEOUT", default)


def _choice(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name, default).strip().lower()


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    if name not in env:
        return default
    value = env[name].strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false, not {env[name]!r}")


def _integer(env: Mapping[str, str], name: str, default: int) -> int:
    if name not in env:
        return default
    try:
        return int(env[name])
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {env[name]!r}") from None
