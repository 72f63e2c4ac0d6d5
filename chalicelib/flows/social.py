"""Social sign-in: "Continue with Google / GitHub / any OpenID Connect issuer", and connecting
such a sign-in to an account (chalicelib.oauth proves who signed in; this decides what that
means for our accounts).

- An attempt (state, PKCE verifier, nonce, where to go next, the intent) is one DynamoDB item
  for 10 minutes, bound to this browser by a short-lived HttpOnly `oauth_attempt` cookie, and
  consumed by a conditional delete: a forged, foreign or replayed callback finds nothing.
- An identity is keyed by (issuer, subject), never by email.
  1. A known identity signs its user in.
  2. An unknown one whose email no account holds makes an account with that email and no
     password, if the team's before_sign_up hook allows it; the email counts as verified
     when the provider says so (strictly) and is trusted for email; else a verification code
     is mailed, as at sign-up.
  3. An unknown one whose email an account holds links to it and signs in only when the
     provider says the email is verified, the provider is trusted for email, and the
     account's own email is verified; a notice is mailed. Otherwise 409 account_exists and
     nothing changes: someone who signed up first with another person's address, and a
     password of their own, never gains that person's provider sign-in, and that person never
     signs in to an account holding the other's password.
  4. A user with two-factor on gets a session that owes the second factor.
- A known identity signs in only while its user's item lists it.
- Connecting from settings needs a recent re-authentication and a verified address (on an
  unverified account, an identity could be a squatter's, waiting for the address's owner);
  disconnecting needs the re-authentication, and is refused when it would leave no way in
  (chalicelib.signin_methods).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from chalicelib.audit import Event
from chalicelib.errors import (
    AccountExists,
    AppError,
    IdentityTaken,
    InvalidEmail,
    InvalidRequest,
    NotFound,
    OAuthFailed,
    ReauthenticationRequired,
    ServiceUnavailable,
    SignUpDenied,
)
from chalicelib.flows import email as email_flows
from chalicelib.flows.context import Access, RequestContext
from chalicelib.mail import Kind
from chalicelib.sessions import PROVIDER
from chalicelib.signin_methods import SignInMethods
from chalicelib.store.identities import AttemptRecord, IdentityRecord, identity_id
from chalicelib.users import User, normalize_email, user_of, user_of_item

if TYPE_CHECKING:
    # The protocol loads on these routes only (chalicelib.oauth, and PyJWT under it).
    from chalicelib import oauth

ATTEMPT_SECONDS = 10 * 60
SIGN_IN, LINK = "sign-in", "link"
DEFAULT_NEXT = "/training"
LINKED_NEXT = "/settings?notice=identity-linked"
# A path of ours: one leading "/", then no "/" or "\" at once (no //host), no scheme, no
# control or non-ASCII characters.
_SAFE_NEXT = re.compile(r"/(?![/\\])[!#-\[\]-~]{0,500}")


class CallbackFailed(AppError):
    """A callback's failure (its status, code and message), with the attempt's intent when it
    was found: a failed connection is told in settings, a failed sign-in on the login page."""

    def __init__(self, cause: AppError, intent: str) -> None:
        super().__init__(cause.message)
        self.status, self.code, self.cause, self.intent = cause.status, cause.code, cause, intent

    def headers(self) -> dict[str, str]:
        return self.cause.headers()


class Outcome(NamedTuple):
    next: str  # where the browser goes now
    user: User
    created: bool = False  # a new account
    linked: bool = False  # the identity was connected in this callback


def safe_next(raw: str | None) -> str:
    """`next` when it is a path on our own origin; /training for anything else."""
    if raw is not None and _SAFE_NEXT.fullmatch(raw) and "\\" not in raw:
        return raw
    return DEFAULT_NEXT


def provider_names(ctx: RequestContext) -> list[tuple[str, str]]:
    """(id, name) of each configured provider, in button order: no provider is contacted."""
    return [(p.id, p.name) for p in ctx.services.oauth.configured]


# -- starting --------------------------------------------------------------------------------


def start(ctx: RequestContext, provider_id: str, raw_next: str | None, intent: str) -> str:
    """The provider's authorization URL for a new attempt, bound to this browser."""
    provider = _provider(ctx, provider_id)
    if intent not in (SIGN_IN, LINK):
        raise InvalidRequest("The intent is 'sign-in' or 'link'.")
    user_id = ""
    if intent == LINK:
        ctx.require_owner()
        user_id = ctx.require(Access.ACCOUNT, verified=True).user.id
        if not ctx.recently_reauthenticated():
            raise ReauthenticationRequired()
    from chalicelib import oauth

    attempt = oauth.new_attempt()
    url = provider.authorization_url(redirect_uri(ctx, provider_id), attempt)
    browser = secrets.token_urlsafe(24)
    now = ctx.services.clock.now()
    record = AttemptRecord(
        provider=provider_id,
        verifier=attempt.verifier,
        nonce=attempt.nonce,
        next=LINKED_NEXT if intent == LINK else safe_next(raw_next),
        intent=intent,
        user_id=user_id,
    )
    ctx.commit(
        ctx.services.store.identities.put_attempt(
            attempt.state, record, _binding(browser), now + ATTEMPT_SECONDS
        )
    )
    ctx.bind_oauth_attempt(browser, now + ATTEMPT_SECONDS)
    return url


def redirect_uri(ctx: RequestContext, provider_id: str) -> str:
    """<PUBLIC_ORIGIN><stage prefix>/auth/oauth/<id>/callback, as registered with the provider."""
    return ctx.link(f"/auth/oauth/{provider_id}/callback")


# -- the callback ----------------------------------------------------------------------------


def callback(ctx: RequestContext, provider_id: str, params: Mapping[str, str]) -> Outcome:
    """What the provider's redirect proves: a session for the identity's user, a new account,
    or the identity connected to the signed-in account. OAuthFailed, AccountExists or
    IdentityTaken otherwise, with nothing changed."""
    provider = _provider(ctx, provider_id)
    intent = SIGN_IN
    try:
        attempt = _take_attempt(ctx, provider_id, params)
        intent = attempt.intent
        if "error" in params:
            raise OAuthFailed("The sign-in was cancelled or refused at the provider.")
        issuer = params.get("iss")
        if issuer is not None and issuer != provider.issuer:  # RFC 9207: no mix-up
            raise OAuthFailed()
        code = params.get("code")
        if not code:
            raise OAuthFailed()
        from chalicelib import oauth

        proof = oauth.Attempt(params["state"], attempt.verifier, attempt.nonce)
        identity = provider.identity(code, proof, redirect_uri(ctx, provider_id))
        if attempt.intent == LINK:
            return _connect(ctx, provider, identity, attempt)
        return _sign_in(ctx, provider, identity, attempt)
    except (
        OAuthFailed,
        AccountExists,
        IdentityTaken,
        ServiceUnavailable,
        SignUpDenied,
    ) as failure:
        ctx.audit(Event.OAUTH_FAILED, None, provider=provider_id, reason=failure.code)
        raise CallbackFailed(failure, intent) from failure


def _take_attempt(
    ctx: RequestContext, provider_id: str, params: Mapping[str, str]
) -> AttemptRecord:
    state, browser = params.get("state"), ctx.oauth_attempt
    # The attempt cookie is used up whatever happens next.
    ctx.release_oauth_attempt()
    if not state or not browser or len(state) > 256:
        raise OAuthFailed()
    attempt = ctx.services.store.identities.take_attempt(
        state, _binding(browser), provider_id, ctx.services.clock.now()
    )
    if attempt is None:  # forged, another browser's, another provider's, used, or expired
        raise OAuthFailed()
    return attempt


def _sign_in(
    ctx: RequestContext,
    provider: oauth.Provider,
    identity: oauth.ExternalIdentity,
    attempt: AttemptRecord,
) -> Outcome:
    services = ctx.services
    store = services.store
    address = _address(identity)
    reads = [store.identities.read(identity.issuer, identity.subject)]
    if address is not None:
        reads.append(services.users.credentials(address))
    known, *rest = store.table.read(*reads)
    credentials = rest[0] if rest else None
    now = services.clock.now()
    if known is not None:  # 1. a known identity
        if credentials is not None and credentials.user_id == known.user_id:
            user = user_of(credentials)
        else:  # the account's email is not the provider's (any more): its own item says
            (owner,) = store.table.read(store.accounts.user(known.user_id))
            if owner is None or known.id not in owner.identities:
                raise OAuthFailed()
            user = user_of_item(owner)
        # Only while the user's item lists it: an identity item left behind by a race with
        # a first proof of the address (flows.mailbox) signs nobody in.
        listed = store.identities.listed(known)._replace(on_condition_failed=OAuthFailed)
        ctx.start_session(user, [store.identities.used(known, now), listed], amr=PROVIDER)
        ctx.audit(Event.OAUTH_SIGN_IN, user.id, provider=provider.id)
        return Outcome(attempt.next, user)
    if address is None:
        raise OAuthFailed(
            f"{provider.name} gave no verified email address: sign in another way, then "
            f"connect {provider.name} in settings."
        )
    if credentials is None:  # 2. a newcomer
        return _new_account(ctx, provider, identity, address, attempt)
    # 3. an account holds the email
    if not (
        identity.email_verified and provider.settings.trust_email and credentials.email_verified
    ):
        raise AccountExists(
            f"An account uses this email: sign in another way, then connect {provider.name} "
            "in settings."
        )
    user = user_of(credentials)
    record = _record(identity, provider, user.id, address, now)
    ctx.send_mail(Kind.IDENTITY_LINKED, user.email, provider=provider.name)
    ctx.start_session(user, store.identities.link(record), amr=PROVIDER)
    ctx.audit(Event.IDENTITY_LINKED, user.id, provider=provider.id, how="email")
    ctx.audit(Event.OAUTH_SIGN_IN, user.id, provider=provider.id)
    return Outcome(attempt.next, user, linked=True)


def _new_account(
    ctx: RequestContext,
    provider: oauth.Provider,
    identity: oauth.ExternalIdentity,
    address: str,
    attempt: AttemptRecord,
) -> Outcome:
    services = ctx.services
    verified = identity.email_verified and provider.settings.trust_email
    # A user of the old system (MIGRATE_FROM_URL) keeps the profile they had there, asked
    # only for an address the provider vouches for: an unproven one would hand that profile,
    # roles and all, to whoever typed the address at the provider.
    migrated = ctx.migration_for(address) if verified else None
    if migrated is not None:
        from chalicelib.imports import ImportedIdentity

        user, writes = ctx.migrated_account(
            address,
            migrated,
            proven=True,
            identity=ImportedIdentity(identity.issuer, identity.subject, provider.id),
        )
        ctx.start_session(user, writes, amr=PROVIDER)
        ctx.audit(Event.OAUTH_SIGN_IN, user.id, provider=provider.id)
        return Outcome(attempt.next, user, created=True)
    ctx.allow_sign_up(address, f"oauth:{provider.id}")
    handle = identity_id(identity.issuer, identity.subject)
    user, account = services.users.register_with_identity(address, handle, verified=verified)
    record = _record(identity, provider, user.id, address, services.clock.now())
    writes = [*account, services.store.identities.put_new(record)]
    code = None
    if not verified:
        code, verification = email_flows.verification_for_new_user(ctx, user)
        writes += verification
    ctx.start_session(user, writes, amr=PROVIDER)
    ctx.audit(Event.SIGNUP, user.id, method="provider", provider=provider.id)
    if code is not None:
        try:
            email_flows.send_verification(ctx, user, code)
        except ServiceUnavailable:
            ctx.audit(Event.MAIL_FAILED, user.id, mail=Kind.VERIFY_EMAIL.template)
    return Outcome(attempt.next, user, created=True)


def _connect(
    ctx: RequestContext,
    provider: oauth.Provider,
    identity: oauth.ExternalIdentity,
    attempt: AttemptRecord,
) -> Outcome:
    """The identity connected to the signed-in account that started the attempt."""
    user = ctx.require(Access.ACCOUNT, verified=True).user
    if user.id != attempt.user_id:  # signed in as someone else since it began
        raise OAuthFailed()
    store = ctx.services.store
    (known,) = store.table.read(store.identities.read(identity.issuer, identity.subject))
    if known is not None:
        if known.user_id != user.id:
            raise IdentityTaken()
        return Outcome(attempt.next, user)  # connected already
    record = _record(
        identity, provider, user.id, _address(identity) or "", ctx.services.clock.now()
    )
    ctx.send_mail(Kind.IDENTITY_LINKED, user.email, provider=provider.name)
    ctx.commit(*store.identities.link(record))
    ctx.audit(Event.IDENTITY_LINKED, user.id, provider=provider.id, how="settings")
    return Outcome(attempt.next, user, linked=True)


# -- the account's identities ------------------------------------------------------------------


class LinkedIdentity(NamedTuple):
    record: IdentityRecord
    name: str  # the provider's label (its id, if the stage no longer configures it)


def identities(ctx: RequestContext) -> list[LinkedIdentity]:
    user = ctx.require(Access.ACCOUNT).user
    store = ctx.services.store
    (owner,) = store.table.read(store.accounts.user(user.id))
    if owner is None or not owner.identities:
        return []
    names = dict(provider_names(ctx))
    return [
        LinkedIdentity(record, names.get(record.provider, record.provider))
        for record in store.identities.all_of(owner.identities)
        if record.user_id == user.id
    ]


def disconnect(ctx: RequestContext, handle: str, password: str | None) -> None:
    """The identity off the account, unless it is the last way in (409 last_sign_in_method);
    needs re-authentication, and the address hears of it first."""
    user = ctx.require(Access.ACCOUNT).user
    store = ctx.services.store
    check = ctx.reauthenticate(password, extra=[store.accounts.user(user.id)])
    (owner,) = check.extra
    if owner is None or handle not in owner.identities:
        raise NotFound("You have no connected sign-in with this id.")
    (record,) = [r for r in store.identities.all_of(frozenset({handle})) if r.user_id == user.id]
    SignInMethods.of(owner, ctx.services.settings).check_removal(identities=1)
    name = dict(provider_names(ctx)).get(record.provider, record.provider)
    ctx.send_mail(Kind.IDENTITY_UNLINKED, user.email, provider=name)
    ctx.commit(*store.identities.unlink(record))
    ctx.audit(Event.IDENTITY_UNLINKED, user.id, provider=record.provider)


# -- internals ---------------------------------------------------------------------------------


def _provider(ctx: RequestContext, provider_id: str) -> oauth.Provider:
    provider = ctx.services.oauth.get(provider_id)
    if provider is None:
        raise NotFound("There is no such sign-in provider here.")
    return provider


def _binding(browser: str) -> str:
    return hashlib.sha256(browser.encode()).hexdigest()


def _address(identity: oauth.ExternalIdentity) -> str | None:
    """The provider's email as our accounts spell it; None when it gave none we can use."""
    if identity.email is None:
        return None
    try:
        return normalize_email(identity.email, deliverable=True)
    except InvalidEmail:
        return None


def _record(
    identity: oauth.ExternalIdentity,
    provider: oauth.Provider,
    user_id: str,
    address: str,
    now: int,
) -> IdentityRecord:
    return IdentityRecord(
        id=identity_id(identity.issuer, identity.subject),
        user_id=user_id,
        provider=provider.id,
        issuer=identity.issuer,
        subject=identity.subject,
        email=address,
        created_at=now,
        last_used_at=now,
    )
