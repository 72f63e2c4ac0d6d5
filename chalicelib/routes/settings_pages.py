"""The settings page: the account's email and its verification, password, two-factor
sign-in, passkeys, sessions, and deletion. Each form posts to its own route, which calls the
same flow as the JSON API and answers with a redirect and a notice (success), or the page with
the error next to its form. The user confirms it is them once, at the top (the password, a
code by email, or a passkey): for 5 minutes the changes below need no further proof, and no
form of theirs asks for a password."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalice import Blueprint, Response

from chalicelib import pages, web
from chalicelib.errors import AppError, EmailUnverified
from chalicelib.flows import activity, codes, email, orgs, passkeys, signin, social, twofactor
from chalicelib.flows.context import RequestContext
from chalicelib.flows.orgs import Membership

blueprint = Blueprint(__name__)

_SETTINGS_FIELDS = {
    "invalid_email": "new_email",
    "email_taken": "new_email",
    "invalid_credentials": "password",
}


@blueprint.route("/settings", methods=["GET"])
@web.account_page_required
def settings_view() -> Response:
    return settings_page()


@blueprint.route("/settings/reauthenticate/code", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def reauthentication_code_form() -> Response:
    """An account without a password confirms it is the user with a mailed code."""
    try:
        codes.request_reauthentication_code(web.context())
    except AppError as error:
        return settings_page(error, form="reauthenticate-code")
    return settings_page(reauthentication_code_sent=True)


@blueprint.route("/settings/reauthenticate", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def reauthenticate_form() -> Response:
    """Confirm it is the user, with the mailed code or the password: for 5 minutes the other
    forms need no further proof, and sign-ins can be connected. (A passkey does it through
    the JSON API: static/passkeys.js.)"""
    code, password = web.form_fields(web.current_request(), "code", "password")
    try:
        codes.reauthenticate(web.context(), password or None, code or None)
    except AppError as error:
        return settings_page(
            error,
            form="reauthenticate-with-code" if code else "reauthenticate",
            field_of={"invalid_credentials": "password"},
            reauthentication_code_sent=bool(code),
        )
    return pages.redirect(web.current_request(), "/settings?notice=reauthenticated")


@blueprint.route("/settings/email", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def change_email_form() -> Response:
    (new_email,) = web.form_fields(web.current_request(), "new_email")
    return settings_action(
        lambda: email.request_email_change(web.context(), new_email, None),
        "/settings?notice=change-code-sent",
        form="change-email",
        new_email=new_email,
    )


@blueprint.route("/settings/email/confirm", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def confirm_email_form() -> Response:
    (code,) = web.form_fields(web.current_request(), "code")
    return settings_action(
        lambda: email.confirm_email_change(web.context(), code),
        "/settings?notice=email-changed",
        form="confirm-email",
    )


@blueprint.route("/settings/password", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def change_password_form() -> Response:
    (new,) = web.form_fields(web.current_request(), "new_password")
    first = not web.current_user().has_password
    return settings_action(
        lambda: signin.change_password(web.context(), None, new),
        "/settings?notice=password-set" if first else "/settings?notice=password-changed",
        form="password",
        field_of={"weak_password": "new_password", "invalid_password": "new_password"},
    )


@blueprint.route("/settings/2fa/setup", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def two_factor_setup_form() -> Response:
    try:
        setup = twofactor.begin_setup(web.context(), None)
    except AppError as error:
        return settings_page(error, form="setup-2fa")
    return settings_page(setup=setup)


@blueprint.route("/settings/2fa/enable", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def two_factor_enable_form() -> Response:
    (code,) = web.form_fields(web.current_request(), "code")
    try:
        codes = twofactor.enable(web.context(), code)
    except AppError as error:
        # The QR code and the key again, beside the message: no new set-up needed.
        return settings_page(error, form="enable-2fa", setup=twofactor.pending_setup(web.context()))
    # Shown this once, on this page: never in a URL, never again.
    return settings_page(recovery_codes=codes)


@blueprint.route("/settings/2fa/recovery-codes", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def recovery_codes_form() -> Response:
    (code,) = web.form_fields(web.current_request(), "code")
    try:
        codes = twofactor.replace_recovery_codes(web.context(), None, code)
    except AppError as error:
        return settings_page(error, form="recovery-codes")
    return settings_page(recovery_codes=codes)


@blueprint.route("/settings/2fa/disable", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def two_factor_disable_form() -> Response:
    (code,) = web.form_fields(web.current_request(), "code")
    return settings_action(
        lambda: twofactor.disable(web.context(), None, code),
        "/settings?notice=2fa-off",
        form="disable-2fa",
    )


@blueprint.route("/settings/passkeys/rename", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def rename_passkey_form() -> Response:
    passkey_id, name = web.form_fields(web.current_request(), "passkey_id", "name")
    return settings_action(
        lambda: passkeys.rename(web.context(), passkey_id, name, None),
        "/settings?notice=passkey-renamed",
        form="passkeys",
        field_of=_PASSKEY_ERRORS_ON_THE_SECTION,
    )


@blueprint.route("/settings/passkeys/delete", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def delete_passkey_form() -> Response:
    (passkey_id,) = web.form_fields(web.current_request(), "passkey_id")
    return settings_action(
        lambda: passkeys.delete(web.context(), passkey_id, None),
        "/settings?notice=passkey-removed",
        form="passkeys",
        field_of=_PASSKEY_ERRORS_ON_THE_SECTION,
    )


# A passkey's forms are one per passkey: their errors show above the list, not by a field.
_PASSKEY_ERRORS_ON_THE_SECTION = {"invalid_credentials": "", "invalid_request": ""}


@blueprint.route("/settings/sessions/revoke", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def revoke_session_form() -> Response:
    (session_id,) = web.form_fields(web.current_request(), "session_id")
    if session_id == web.current_session().id:
        signin.revoke_session(web.context(), session_id)
        return pages.redirect(web.current_request(), "/login")
    return settings_action(
        lambda: signin.revoke_session(web.context(), session_id),
        "/settings?notice=signed-out",
        form="sessions",
    )


@blueprint.route("/settings/sessions/revoke-others", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def revoke_other_sessions_form() -> Response:
    signin.revoke_other_sessions(web.context())
    return pages.redirect(web.current_request(), "/settings?notice=signed-out-others")


@blueprint.route("/settings/delete-account", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def delete_account_form() -> Response:
    return settings_action(lambda: signin.delete_account(web.context(), None), "/", form="delete")


def settings_action(
    action: Callable[[], object],
    success: str,
    *,
    form: str,
    field_of: dict[str, str] | None = None,
    **values: str,
) -> Response:
    try:
        action()
    except AppError as error:
        return settings_page(error, form=form, field_of=field_of, **values)
    return pages.redirect(web.current_request(), success)


def settings_page(
    error: AppError | None = None,
    *,
    form: str | None = None,
    field_of: dict[str, str] | None = None,
    **values: Any,
) -> Response:
    ctx = web.context()
    sessions, current_id = signin.list_sessions(ctx)
    recent = activity.own_events(ctx, None, ACTIVITY_SHOWN).events
    organization = web.current_session().organization
    return pages.form_page(
        web.current_request(),
        "settings.html",
        error=error,
        form=form,
        field_of={**_SETTINGS_FIELDS, **(field_of or {})},
        user=web.current_user(),
        sessions=sessions,
        current_id=current_id,
        activity=[_activity(event) for event in recent],
        pending_email=email.pending_email_change(ctx),
        two_factor=twofactor.status(ctx),
        passkeys=passkeys.list_passkeys(ctx),
        identities=social.identities(ctx),
        providers=social.provider_names(ctx),
        notice=None if error else pages.notice(web.current_request()),
        reauthenticated=ctx.recently_reauthenticated(),
        reauthenticated_until=ctx.reauthenticated_until(),
        organizations=_organizations(ctx),
        active_org_id=None if organization is None else organization.id,
        **{
            "new_email": "",
            "setup": None,
            "recovery_codes": None,
            "reauthentication_code_sent": False,
            **values,
        },
    )


def _organizations(ctx: RequestContext) -> list[Membership] | None:
    """The user's organizations, for the switcher (org_pages' form); None while the stage
    keeps an unverified account from them (REQUIRE_VERIFIED_EMAIL)."""
    try:
        return orgs.mine(ctx)
    except EmailUnverified:
        return None


ACTIVITY_SHOWN = 10
# What each event says on the settings page (docs/events.md has them all).
_ACTIVITY = {
    "user.created": "Account created",
    "user.updated": "Email address changed",
    "user.email_verified": "Email address verified",
    "user.password_changed": "Password changed",
    "user.two_factor_enabled": "Two-factor authentication turned on",
    "user.two_factor_disabled": "Two-factor authentication turned off",
    "user.passkey_added": "Passkey added",
    "user.passkey_removed": "Passkey removed",
    "user.identity_linked": "Sign-in connected",
    "user.identity_unlinked": "Sign-in disconnected",
    "user.banned": "Account suspended",
    "user.unbanned": "Account suspension lifted",
    "user.roles_changed": "Roles changed",
    "session.created": "Signed in",
    "session.revoked": "Signed out",
    "impersonation.started": "An administrator signed in as you",
}


def _activity(event: dict[str, Any]) -> dict[str, Any]:
    """An event as the settings page lists it: what happened, when, and on which device."""
    data = event["data"]
    what = _ACTIVITY.get(event["type"], event["type"])
    if event["type"] == "session.created" and data.get("rotated"):
        what = "Session renewed"
    elif event["type"] == "user.password_changed" and data.get("action") == "set":
        what = "Password set"
    elif event["type"] == "user.password_changed" and data.get("action") == "removed":
        what = "Password removed"
    when = int(datetime.fromisoformat(event["occurred_at"]).timestamp())
    return {"what": what, "when": when, "device": data.get("user_agent"), "ip": data.get("ip")}
