"""Hooks: the team's own code, run by this service at named moments.

The team writes one module (HOOKS_MODULE: `hooks` for a hooks.py beside app.py, or any module
on the Python path) and marks its functions with the decorators of `events`:

    from chalicelib.hooks import events

    @events.on("user.created")
    def welcome(event: dict) -> None: ...

    @events.before_sign_up(on_error="deny")
    def staff_only(email: str, method: str) -> events.Deny | None:
        if not email.endswith("@example.com"):
            return events.deny("Sign-up is for example.com staff.")
        return None

    @events.access_token_claims(on_error="allow")
    def tenant(user: dict, session: dict) -> dict:
        return {"tenant": "acme"}

- Reactions (`events.on`) run after the fact, in the events consumer, never in a request; this
  module only lists them (`Hooks.reactions`), each named `module:function`.
- Decisions run in a request: `before_sign_up` before anything of a new account is written,
  `access_token_claims` as a token is signed. Each is a function of the module or an HTTPS
  endpoint (HOOK_BEFORE_SIGN_UP_URL, HOOK_ACCESS_TOKEN_CLAIMS_URL), never both; each has
  HOOK_TIMEOUT (2 s) in a thread of its own. A timeout, an exception or a wrong answer follows
  the decision's on_error and is audited (hook_failed): a sign-up denies by default, the claims
  allow (the token without extra claims: its own claims are what authorise). A thread cannot
  be stopped: one that overran runs on, apart, and while MAX_OVERRUNNING of them do, decisions
  fail at once rather than pile up more.
- Extra claims never replace a registered one (RESERVED_CLAIMS): an answer that names one is
  dropped whole, as a failure; together they fit MAX_CLAIMS_BYTES of compact JSON.
- Hooks are given plain dicts of what is not secret: the user's id, email, email_verified and
  roles; the session's `sid` (as the token carries it), amr and times. Never a token.

The decorators only mark functions. `Hooks` imports the module when a decision is first needed
(or the consumer asks for reactions), never at app import: a protected request's cold start
does not pay for the team's code. Marked functions are found among the module's own names:
define them there, or import them into it.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from chalicelib.access_tokens import session_handle
from chalicelib.config import ON_ERROR, ConfigError, Settings
from chalicelib.errors import ServiceUnavailable, SignUpDenied
from chalicelib.events import EVENT_TYPES

if TYPE_CHECKING:
    from types import ModuleType

    from chalicelib.sessions import Session
    from chalicelib.users import User
    from chalicelib.webhooks.signing import WebhookSecret

logger = logging.getLogger(__name__)


BEFORE_SIGN_UP = "before_sign_up"
ACCESS_TOKEN_CLAIMS = "access_token_claims"  # noqa: S105 (a hook's name)
DENY, ALLOW = ON_ERROR

# Every claim chalicelib.access_tokens signs, and the JWT and OAuth ones a verifier reads as
# the issuer's word (RFC 7519, 9068, 8693, 7800; OpenID Connect Core).
RESERVED_CLAIMS = frozenset(
    {
        "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "act", "roles", "permissions",
        "scope", "client_id", "auth_time", "amr", "acr", "sid", "azp", "typ", "cnf",
        "email", "email_verified", "org_id", "org_role", "org_permissions",
    }
)  # fmt: skip
MAX_CLAIMS_BYTES = 2048
MAX_MESSAGE = 200
MAX_ANSWER_BYTES = 64 * 1024  # an endpoint's answer; anything longer is a wrong one
MAX_OVERRUNNING = 4
# A failed deny-on-error sign-up hook: nothing is wrong with the address, so say so.
UNAVAILABLE = "Sign-up is not available right now. Try again in a few minutes."
# Control and format characters (bidirectional overrides among them): a message is plain text.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")

# What a failed decision reports (the caller audits it): the hook, its source, a short reason.
Report = Callable[[str, str, str], None]
# POST a JSON payload to a hook's endpoint within `timeout` seconds; its answer's JSON.
PostJson = Callable[[str, Mapping[str, Any], float], Any]


class HookError(Exception):
    """A hook failed; `reason` is what the audit log says of it: short, and no values."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Deny(NamedTuple):
    """A before_sign_up's refusal; its message is shown to the user (plain text, 200 chars)."""

    message: str = ""


class _Mark(NamedTuple):
    kind: str  # "on", BEFORE_SIGN_UP or ACCESS_TOKEN_CLAIMS
    value: str  # the event type, or the decision's on_error


_MARKS = "__session_auth_hooks__"


class Events:
    """The decorators of the team's module. They only mark a function (so loading the module
    twice, or two modules in one process, registers nothing twice); `Hooks` finds them."""

    Deny = Deny

    def on[F: Callable[..., Any]](self, event_type: str) -> Callable[[F], F]:
        """A reaction to `event_type` (EVENT_TYPES): `handler(event: dict) -> None`, where the
        event is {"id", "type", "occurred_at", "user_id", "seq", "data"}."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"events.on: {event_type!r} is not an event type ({EVENT_TYPES})")
        return lambda function: _mark(function, _Mark("on", event_type))

    @overload
    def before_sign_up[F: Callable[..., Any]](self, function: F, /) -> F: ...
    @overload
    def before_sign_up[F: Callable[..., Any]](
        self, *, on_error: str = DENY
    ) -> Callable[[F], F]: ...
    def before_sign_up(
        self, function: Callable[..., Any] | None = None, /, *, on_error: str = DENY
    ) -> Any:
        """`fn(email: str, method: str) -> Deny | None`: None lets the sign-up go on. `method`
        is `password`, `email_code` or `oauth:<provider id>`."""
        return _decision(BEFORE_SIGN_UP, function, on_error)

    @overload
    def access_token_claims[F: Callable[..., Any]](self, function: F, /) -> F: ...
    @overload
    def access_token_claims[F: Callable[..., Any]](
        self, *, on_error: str = ALLOW
    ) -> Callable[[F], F]: ...
    def access_token_claims(
        self, function: Callable[..., Any] | None = None, /, *, on_error: str = ALLOW
    ) -> Any:
        """`fn(user: dict, session: dict) -> dict`: claims added to the access token."""
        return _decision(ACCESS_TOKEN_CLAIMS, function, on_error)

    @staticmethod
    def deny(message: str = "") -> Deny:
        return Deny(message)


events = Events()


def _decision(kind: str, function: Callable[..., Any] | None, on_error: str) -> Any:
    if on_error not in ON_ERROR:
        raise ValueError(f"events.{kind}: on_error is 'deny' or 'allow', not {on_error!r}")
    if function is not None:
        return _mark(function, _Mark(kind, on_error))
    return lambda function: _mark(function, _Mark(kind, on_error))


def _mark[F: Callable[..., Any]](function: F, mark: _Mark) -> F:
    setattr(function, _MARKS, (*getattr(function, _MARKS, ()), mark))
    return function


# -- what the module holds ------------------------------------------------------------------


class Reaction(NamedTuple):
    name: str  # module:function
    handler: Callable[[dict[str, Any]], None]


class Decision(NamedTuple):
    hook: str  # BEFORE_SIGN_UP or ACCESS_TOKEN_CLAIMS
    source: str  # module:function, or "endpoint"
    on_error: str
    function: Callable[..., Any] | None = None
    url: str | None = None


class Registry(NamedTuple):
    reactions: dict[str, tuple[Reaction, ...]]
    decisions: dict[str, Decision]


def load(settings: Settings) -> Registry:
    """The stage's hooks: HOOKS_MODULE's marked functions and the endpoints. A module that
    cannot be imported, or a decision made twice, is a ConfigError."""
    reactions: dict[str, list[Reaction]] = {}
    decisions: dict[str, Decision] = {}
    if settings.hooks_module is not None:
        seen: set[int] = set()
        for value in list(vars(_import(settings.hooks_module)).values()):
            marks = getattr(value, _MARKS, None) if callable(value) else None
            if not isinstance(marks, tuple) or id(value) in seen:
                continue
            seen.add(id(value))
            name = f"{value.__module__}:{value.__qualname__}"
            for mark in marks:
                if mark.kind == "on":
                    reactions.setdefault(mark.value, []).append(Reaction(name, value))
                    continue
                if mark.kind in decisions:
                    raise ConfigError(
                        f"HOOKS_MODULE has two {mark.kind} hooks: "
                        f"{decisions[mark.kind].source} and {name}"
                    )
                decisions[mark.kind] = Decision(mark.kind, name, mark.value, function=value)
    for hook, url, on_error in (
        (BEFORE_SIGN_UP, settings.hook_before_sign_up_url, settings.hook_before_sign_up_on_error),
        (
            ACCESS_TOKEN_CLAIMS,
            settings.hook_access_token_claims_url,
            settings.hook_access_token_claims_on_error,
        ),
    ):
        if url is None:
            continue
        if hook in decisions:
            raise ConfigError(
                f"{hook} is both {decisions[hook].source} (HOOKS_MODULE) and "
                f"HOOK_{hook.upper()}_URL: keep one"
            )
        decisions[hook] = Decision(hook, "endpoint", on_error, url=url)
    return Registry({kind: tuple(found) for kind, found in reactions.items()}, decisions)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as error:  # the team's module: anything may go wrong in it
        raise ConfigError(
            f"HOOKS_MODULE {name!r} could not be imported: {type(error).__name__}: {error}"
        ) from error


# -- running them ---------------------------------------------------------------------------


class Hooks:
    """The stage's hooks, loaded on first use; the decisions, each within its budget."""

    def __init__(
        self,
        settings: Settings,
        post_json: PostJson | None = None,
        secrets: Callable[[], Sequence[WebhookSecret]] = tuple,
    ) -> None:
        self._settings = settings
        self._post = post_json or post_json_over_https(settings, secrets)
        self._timeout = settings.hook_timeout.total_seconds()

    @cached_property
    def registry(self) -> Registry:
        return load(self._settings)

    def reactions(self, event_type: str) -> list[Reaction]:
        """The handlers of `event_type`, in the module's order (the module loads now)."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"{event_type!r} is not an event type")
        return list(self.registry.reactions.get(event_type, ()))

    def before_sign_up(self, email: str, method: str, failed: Report) -> None:
        """Nothing if the sign-up may go on; SignUpDenied with the hook's message if not, or
        with UNAVAILABLE if the hook failed and denies on error."""
        decision = self._decision(BEFORE_SIGN_UP, self._settings.hook_before_sign_up_url)
        if decision is None:
            return
        payload = {"type": BEFORE_SIGN_UP, "email": email, "method": method}
        try:
            answer = self._ask(decision, (email, method), payload)
            refusal = _refusal(decision, answer)
        except HookError as failure:
            self._failed(decision, failure, failed)
            if decision.on_error == DENY:
                raise SignUpDenied(UNAVAILABLE) from None
            return
        if refusal is not None:
            raise SignUpDenied(refusal or None)

    def access_token_claims(self, session: Session, failed: Report) -> dict[str, Any]:
        """The extra claims for a token of `session` ({} with no hook, or after a failure that
        allows on error); 503 after one that denies on error."""
        decision = self._decision(ACCESS_TOKEN_CLAIMS, self._settings.hook_access_token_claims_url)
        if decision is None:
            return {}
        user, view = user_view(session.user), session_view(session)
        payload = {"type": ACCESS_TOKEN_CLAIMS, "user": user, "session": view}
        try:
            # The function gets dicts of its own: what it does to them reaches nothing.
            answer = self._ask(decision, (dict(user), dict(view)), payload)
            return _claims(decision, answer)
        except HookError as failure:
            self._failed(decision, failure, failed)
            if decision.on_error == DENY:
                raise ServiceUnavailable() from None
            return {}

    def _decision(self, hook: str, url: str | None) -> Decision | None:
        if self._settings.hooks_module is None and url is None:
            return None  # nothing to load: the common case costs nothing
        return self.registry.decisions.get(hook)

    def _ask(self, decision: Decision, args: tuple[Any, ...], payload: dict[str, Any]) -> Any:
        function, url, timeout = decision.function, decision.url, self._timeout
        if function is not None:
            return run_within(timeout, lambda: function(*args))
        return run_within(timeout, lambda: self._post(str(url), payload, timeout))

    @staticmethod
    def _failed(decision: Decision, failure: HookError, report: Report) -> None:
        if failure.__cause__ is not None:  # the team's own exception: their traceback, in full
            logger.warning(
                "hook %s (%s) raised", decision.hook, decision.source, exc_info=failure.__cause__
            )
        report(decision.hook, decision.source, failure.reason)


def _refusal(decision: Decision, answer: Any) -> str | None:
    """None to allow, else the message to show ("" for the default one)."""
    if decision.function is not None:
        if answer is None:
            return None
        if isinstance(answer, Deny):
            return plain_message(answer.message)
    elif isinstance(answer, dict) and answer.get("allow") is True:
        return None
    elif isinstance(answer, dict) and answer.get("allow") is False:
        return plain_message(answer.get("message"))
    raise HookError("bad_answer")


def _claims(decision: Decision, answer: Any) -> dict[str, Any]:
    claims = answer if decision.function is not None else _field(answer, "claims")
    if not isinstance(claims, dict) or not all(isinstance(name, str) for name in claims):
        raise HookError("bad_answer")
    if RESERVED_CLAIMS & claims.keys():
        raise HookError("reserved_claim")
    try:
        text = json.dumps(claims, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        raise HookError("bad_answer") from None
    if len(text.encode()) > MAX_CLAIMS_BYTES:
        raise HookError("too_large")
    extra: dict[str, Any] = json.loads(text)  # plain JSON, no object of the hook's thread
    return extra


def _field(answer: Any, name: str) -> Any:
    return answer.get(name) if isinstance(answer, dict) else None


def plain_message(message: Any) -> str:
    """A hook's message as the page and the JSON error show it: plain text on one line, at
    most MAX_MESSAGE characters ("" when there is none: the error's own)."""
    if not isinstance(message, str):
        return ""
    return " ".join(_UNPRINTABLE.sub(" ", message).split())[:MAX_MESSAGE].strip()


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "email_verified": user.email_verified,
        "roles": list(user.roles),
    }


def session_view(session: Session) -> dict[str, Any]:
    return {
        "sid": session_handle(session.id),
        "amr": list(session.amr),
        "created_at": session.created_at,
        "auth_time": session.auth_time or session.created_at,
        "impersonator_id": None if session.impersonator is None else session.impersonator.id,
    }


# A thread of its own per call rather than a pool: a pool's worker held by a hook that hangs
# would make the next calls wait behind it, and its threads are joined at interpreter exit.
_overrunning: list[threading.Thread] = []
_overrunning_lock = threading.Lock()


def run_within[T](seconds: float, call: Callable[[], T]) -> T:
    """`call()`'s result if it returns within `seconds`; HookError otherwise ("timeout", "busy"
    while MAX_OVERRUNNING earlier calls still run, or "raised <Type>" with the exception as
    its cause). A HookError that `call` raises passes as it is."""
    with _overrunning_lock:
        _overrunning[:] = [thread for thread in _overrunning if thread.is_alive()]
        if len(_overrunning) >= MAX_OVERRUNNING:
            raise HookError("busy")
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as error:  # the team's code: anything, reported
            outcome.append((False, error))

    thread = threading.Thread(target=run, name="session-auth-hook", daemon=True)
    thread.start()
    thread.join(seconds)
    if not outcome:
        with _overrunning_lock:
            _overrunning.append(thread)
        raise HookError("timeout")
    returned, value = outcome[0]
    if returned:
        return value
    if isinstance(value, HookError):
        raise value
    raise HookError(f"raised {type(value).__name__}") from value


# -- endpoints ------------------------------------------------------------------------------


def post_json_over_https(
    settings: Settings, signing_secrets: Callable[[], Sequence[WebhookSecret]]
) -> PostJson:
    """How a decision asks its endpoint: a POST of JSON signed like a webhook (Standard
    Webhooks, with the stage's webhook secrets), through the one delivery that follows no
    redirect and reaches no private address on a deployed stage; the answer's JSON."""

    def post(url: str, payload: Mapping[str, Any], timeout: float) -> Any:
        import secrets
        import time

        from chalicelib.webhooks.endpoints import deliver
        from chalicelib.webhooks.signing import headers

        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        hook_id = "hook_" + secrets.token_urlsafe(16)
        signed = headers(signing_secrets(), hook_id, int(time.time()), body)
        local = not settings.cookie_secure
        outcome = deliver(url, signed, body, allow_private=local, timeout=timeout)
        if not outcome.ok:
            raise HookError(f"status {outcome.status}" if outcome.status else "unreachable")
        if len(outcome.answer) >= MAX_ANSWER_BYTES:
            raise HookError("bad_answer")
        try:
            return json.loads(outcome.answer)
        except ValueError:
            raise HookError("bad_answer") from None

    return post
