"""Social sign-in's browser routes: the start and the callback (navigations, answered with
redirects and, on failure, the login or settings page), and the settings form that disconnects
an identity (the JSON API of identities is in social_api). Connecting is a link to the start
(a form could not redirect to the provider: the pages' CSP allows forms to post to this origin
only). A client that sends `Accept: application/json` gets the failures in the error shape
instead of a page. These are pages to the edge: the cookie transport only, no CORS."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import pages, web
from chalicelib.errors import AppError
from chalicelib.flows import social
from chalicelib.routes.pages import sign_in_offers
from chalicelib.routes.settings_pages import settings_action, settings_page

blueprint = Blueprint(__name__)


@blueprint.route("/auth/oauth/{provider}", methods=["GET"])
@web.page
def start(provider: str) -> Response:
    query = web.current_request().query_params or {}
    intent = query.get("intent", social.SIGN_IN)
    try:
        url = social.start(web.context(), provider, query.get("next"), intent)
    except AppError as error:
        return _failure(error, intent)
    return Response(body="", status_code=303, headers={"Location": url})


@blueprint.route("/auth/oauth/{provider}/callback", methods=["GET"])
@web.page
def callback(provider: str) -> Response:
    request = web.current_request()
    try:
        outcome = social.callback(web.context(), provider, request.query_params or {})
    except social.CallbackFailed as failure:
        return _failure(failure, failure.intent)
    except AppError as error:  # an unknown provider
        return _failure(error, social.SIGN_IN)
    if outcome.next.startswith("/settings"):
        return pages.redirect(request, outcome.next)
    return pages.redirect(
        request, "/2fa" if web.current_session().second_factor_owed else outcome.next
    )


# -- the settings forms -------------------------------------------------------------------------


@blueprint.route("/settings/identities/disconnect", methods=["POST"], content_types=[web.FORM])
@web.account_page_required
def disconnect_form() -> Response:
    (identity_id,) = web.form_fields(web.current_request(), "identity_id")
    return settings_action(
        lambda: social.disconnect(web.context(), identity_id, None),
        "/settings?notice=identity-unlinked",
        form="identities",
        field_of={"invalid_credentials": "", "last_sign_in_method": ""},
    )


def _failure(error: AppError, intent: str) -> Response:
    request = web.current_request()
    if "application/json" in request.headers.get("accept", ""):
        return web.error_response(error)
    if intent == social.LINK and web.context().session() is not None:
        return settings_page(error, form="identities")
    return pages.form_page(
        request,
        "login.html",
        error=error,
        field_of={"invalid_email": ""},  # the provider's address, not a field of this form
        email="",
        **sign_in_offers(),
    )
