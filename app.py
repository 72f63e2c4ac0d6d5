"""The Chalice app: the one middleware, then every route, registered by area (chalicelib/routes)."""

from __future__ import annotations

from chalice import Chalice

from chalicelib import routes, web

app = Chalice(app_name="session-auth")
web.install(app)
routes.register(app)
