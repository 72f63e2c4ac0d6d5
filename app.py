"""The Chalice app: every route, registered by area (chalicelib/routes), then the one
middleware, which treats the JSON API and the pages each its own way."""

from __future__ import annotations

from chalice import Chalice

from chalicelib import routes, web

app = Chalice(app_name="session-auth")
page_paths = routes.register(app)

# Your own routes go here (README: "Add a protected route").

web.install(app, page_paths)  # last: every JSON route, yours included, answers its preflight
