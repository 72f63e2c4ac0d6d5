"""The Chalice app: every route, registered by area (chalicelib/routes), then the one
middleware, which treats the JSON API and the pages (the routes that say so) each its own way."""

from __future__ import annotations

from chalice import Chalice

from chalicelib import routes, web

app = Chalice(app_name="session-auth")
routes.register(app)

# Your own routes go here (README: "Add a protected route").

web.install(app)  # last: every JSON route, yours included, answers its preflight
