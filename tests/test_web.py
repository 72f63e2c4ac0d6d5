"""The middleware's mechanisms, on a small app of its own."""

import logging

import pytest
from chalice import Chalice, Response
from chalice.test import Client

from chalicelib import web
from chalicelib.flows import signin
from tests.helpers import PASSWORD, parse_set_cookie, set_cookies


@pytest.fixture
def demo(services):
    app = Chalice(app_name="demo")

    @app.route("/start-with-own-cookie", methods=["POST"])
    def start_with_own_cookie():
        signin.sign_up(web.context(), "ann@example.com", PASSWORD)
        return Response(body={}, headers={"Set-Cookie": ["theme=dark; Path=/", "lang=en; Path=/"]})

    @app.route("/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    @app.route("/cached")
    def cached():
        return Response(body={}, headers={"Cache-Control": "public, max-age=60"})

    web.install(app)
    with Client(app) as client:
        yield client


def test_every_set_cookie_survives_next_to_the_session_cookie(demo):
    response = demo.http.post("/start-with-own-cookie")
    cookies = [parse_set_cookie(c) for c in set_cookies(response.headers)]
    assert [(name, value) for name, value, _ in cookies[:2]] == [("theme", "dark"), ("lang", "en")]
    assert cookies[2][0] == "auth_session"
    assert len(cookies[2][1]) == 43


def test_unhandled_errors_are_500_in_the_error_shape_without_internals(demo, caplog):
    with caplog.at_level(logging.ERROR):
        response = demo.http.get("/boom")
    assert response.status_code == 500
    assert response.json_body == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert b"hunter2" not in response.body
    assert b"Traceback" not in response.body


def test_no_store_is_the_default_but_a_route_may_choose(demo):
    assert demo.http.get("/cached").headers["Cache-Control"] == "public, max-age=60"
    assert demo.http.get("/boom").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/auth/session", "JSON (a 401 in the error shape)"),
        ("/login", "a page"),
        ("/static/style.css", "a static file"),
        ("/openapi.json", "the API's document"),
    ],
)
def test_every_response_forbids_sniffing_and_local_http_sends_no_hsts(client, path, kind):
    response = client.http.get(path)
    assert response.headers["X-Content-Type-Options"] == "nosniff", kind
    assert "Strict-Transport-Security" not in response.headers  # http://localhost: never


def test_a_deployed_stage_sends_hsts_on_every_response(client, stage):
    stage(cookie_secure=True)
    for path in ("/auth/session", "/login", "/static/style.css"):
        response = client.http.get(path)
        assert response.headers["Strict-Transport-Security"] == (
            "max-age=31536000; includeSubDomains"
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    preflight = client.http.request(
        "OPTIONS", "/auth/login", headers={"Origin": "https://x.example"}
    )
    assert preflight.headers["X-Content-Type-Options"] == "nosniff"


def test_a_route_is_a_page_only_when_it_says_so_even_after_install(services, stage):
    """Registered after install() (against the README's advice), a route keeps its own
    declaration: before, an unprotected HTML route added there silently became a page, and
    one added before it silently became API."""
    stage(cors_origins=("https://app.example.com",))
    app = Chalice(app_name="late")

    @app.route("/early", methods=["GET"])
    def early():
        return Response(body="<p>early</p>", headers={"Content-Type": "text/html"})

    web.install(app)

    @app.route("/late-page", methods=["GET"])
    @web.page
    def late_page():
        return Response(body="<p>late</p>", headers={"Content-Type": "text/html"})

    @app.route("/late-api", methods=["GET"])
    def late_api():
        return {"late": True}

    origin = {"Origin": "https://app.example.com"}
    with Client(app) as client:
        assert (
            "Access-Control-Allow-Origin"
            not in client.http.get("/late-page", headers=origin).headers
        )
        api = client.http.get("/late-api", headers=origin)
        assert api.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        # Undeclared, /early is the JSON API: it carries CORS and honours a bearer token.
        assert client.http.get("/early", headers=origin).headers["Access-Control-Allow-Origin"]


def test_a_path_cannot_be_both_page_and_api(services):
    app = Chalice(app_name="mixed")

    @app.route("/both", methods=["GET"])
    @web.page
    def both_page():
        return {}

    @app.route("/both", methods=["POST"])
    def both_api():
        return {}

    with pytest.raises(RuntimeError, match="page and JSON API at once"):
        web.install(app)
