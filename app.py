"""Routes only: parse input, call one function of chalicelib, shape the response."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Response

from chalicelib import runtime, web
from chalicelib.clock import isoformat
from chalicelib.trainings import TRAININGS
from chalicelib.users import User

app = Chalice(app_name="session-auth")
web.install(app)


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email}


@app.route("/auth/signup", methods=["POST"])
def signup() -> Response:
    email, password = web.string_fields(web.json_body(app.current_request), "email", "password")
    user = runtime.get().accounts.sign_up(email, password)
    web.auth().start(user)
    return Response(body={"user": _user_json(user)}, status_code=201)


@app.route("/auth/login", methods=["POST"])
def login() -> dict[str, Any]:
    email, password = web.string_fields(web.json_body(app.current_request), "email", "password")
    user = runtime.get().accounts.authenticate(email, password)
    web.auth().start(user)
    return {"user": _user_json(user)}


@app.route("/auth/logout", methods=["POST"])
def logout() -> Response:
    web.auth().end()
    return Response(body="", status_code=204)


@app.route("/auth/session", methods=["GET"])
@web.login_required
def session() -> dict[str, Any]:
    current = web.current_session()
    return {
        "user": _user_json(current.user),
        "session": {"expires_at": isoformat(current.expires_at), "fresh": current.fresh},
    }


@app.route("/trainings", methods=["GET"])
@web.login_required
def trainings() -> dict[str, Any]:
    return {"trainings": list(TRAININGS)}
