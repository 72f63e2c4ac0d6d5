"""Routes only: parse input, call one function of chalicelib, shape the response."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response

from chalicelib import openapi, pages, web
from chalicelib.clock import isoformat
from chalicelib.errors import AppError
from chalicelib.sessions import SessionSummary
from chalicelib.trainings import TRAININGS
from chalicelib.users import User

app = Chalice(app_name="session-auth")
web.install(app)


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email}


def _session_json(session: SessionSummary, current_id: str) -> dict[str, Any]:
    return {
        "id": session.id,
        "created_at": isoformat(session.created_at),
        "last_used_at": isoformat(session.last_used_at),
        "expires_at": isoformat(session.expires_at),
        "user_agent": session.user_agent,
        "ip": session.ip,
        "current": session.id == current_id,
    }


def _no_content() -> Response:
    return Response(body="", status_code=204)


@app.route("/auth/signup", methods=["POST"])
def signup() -> Response:
    user = web.auth().sign_up(*web.json_fields("email", "password"))
    return Response(body={"user": _user_json(user)}, status_code=201)


@app.route("/auth/login", methods=["POST"])
def login() -> dict[str, Any]:
    user = web.auth().log_in(*web.json_fields("email", "password"))
    return {"user": _user_json(user)}


@app.route("/auth/logout", methods=["POST"])
def logout() -> Response:
    web.auth().log_out()
    return _no_content()


@app.route("/auth/session", methods=["GET"])
@web.login_required
def session() -> dict[str, Any]:
    current = web.current_session()
    return {
        "user": _user_json(current.user),
        "session": {"expires_at": isoformat(current.expires_at), "fresh": current.fresh},
    }


@app.route("/auth/sessions", methods=["GET"])
@web.login_required
def list_sessions() -> dict[str, Any]:
    sessions, current_id = web.auth().list_sessions()
    return {"sessions": [_session_json(s, current_id) for s in sessions]}


@app.route("/auth/sessions/{session_id}", methods=["DELETE"])
@web.login_required
def revoke_session(session_id: str) -> Response:
    web.auth().revoke_session(session_id)
    return _no_content()


@app.route("/auth/sessions", methods=["DELETE"])
@web.login_required
def revoke_other_sessions() -> Response:
    web.auth().revoke_other_sessions()
    return _no_content()


@app.route("/auth/password", methods=["POST"])
@web.login_required
def change_password() -> dict[str, Any]:
    user = web.auth().change_password(*web.json_fields("current_password", "new_password"))
    return {"user": _user_json(user)}


@app.route("/auth/account", methods=["DELETE"])
@web.login_required
def delete_account() -> Response:
    web.auth().delete_account(*web.json_fields("password"))
    return _no_content()


@app.route("/trainings", methods=["GET"])
@web.login_required
def trainings() -> dict[str, Any]:
    return {"trainings": list(TRAININGS)}


@app.route("/openapi.json", methods=["GET"])
def openapi_document() -> Response:
    headers = {"Content-Type": "application/json", "Cache-Control": "public, max-age=300"}
    return Response(body=openapi.document_text(), headers=headers)


# -- pages -------------------------------------------------------------------------------------


@app.route("/", methods=["GET"])
def home() -> Response:
    return pages.render(app.current_request, "home.html")


@app.route("/static/style.css", methods=["GET"])
def stylesheet() -> Response:
    headers = {"Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=3600"}
    return Response(body=pages.stylesheet(), headers=headers)


@app.route("/signup", methods=["GET"])
def signup_page() -> Response:
    return _form_page("signup.html")


@app.route("/login", methods=["GET"])
def login_page() -> Response:
    return _form_page("login.html")


@app.route("/signup", methods=["POST"], content_types=[web.FORM])
def signup_form() -> Response:
    return _submit_form("signup.html", web.auth().sign_up)


@app.route("/login", methods=["POST"], content_types=[web.FORM])
def login_form() -> Response:
    return _submit_form("login.html", web.auth().log_in)


@app.route("/logout", methods=["POST"], content_types=[web.FORM])
def logout_form() -> Response:
    web.auth().log_out()
    return pages.redirect(app.current_request, "/login")


@app.route("/training", methods=["GET"])
@web.login_page_required
def training_page() -> Response:
    user = web.current_session().user
    return pages.render(app.current_request, "training.html", email=user.email, trainings=TRAININGS)


def _form_page(template: str) -> Response:
    if web.auth().session() is not None:
        return pages.redirect(app.current_request, "/training")
    return pages.form_page(app.current_request, template)


def _submit_form(template: str, action: Callable[[str, str], User]) -> Response:
    request = app.current_request
    email, password = web.form_fields(request, "email", "password")
    try:
        action(email, password)
    except AppError as error:
        return pages.form_page(request, template, error=error, email=email)
    return pages.redirect(request, "/training")
