"""`chalice local`, as `make dev` runs it, but with every request's access-log line cut at its
query string: an OAuth callback's `code` and `state`, a reset link's `token` and a mailed
sign-in link's `code` are secrets, and a console (or a terminal's scroll-back, or a CI log) is
no place for them. The rest of the line (method, path, status) stays, for debugging.

Run as `python -m devtools.chalice_local local --stage local ...`: Chalice's own CLI, its request
handler's `log_request` wrapped first and its listen backlog raised. The integration tests'
server imports this too, so it serves as make dev does."""

from __future__ import annotations

import re
import sys
from http.server import BaseHTTPRequestHandler

from chalice import local
from chalice.cli import main

_QUERY = re.compile(r"\?\S*")


def without_query(request_line: str) -> str:
    """`GET /auth/oauth/local/callback?code=...&state=... HTTP/1.1` -> `GET
    /auth/oauth/local/callback HTTP/1.1`."""
    return _QUERY.sub("", request_line)


def _log_request(
    handler: BaseHTTPRequestHandler, code: int | str = "-", size: int | str = "-"
) -> None:
    full = handler.requestline
    handler.requestline = without_query(full)
    try:
        BaseHTTPRequestHandler.log_request(handler, code, size)
    finally:
        handler.requestline = full


local.ChaliceRequestHandler.log_request = _log_request  # type: ignore[method-assign]
# socketserver's listen backlog is 5: a burst of parallel connections (a page's assets, a load
# test's clients) beyond it is refused or reset under load instead of waiting its turn.
local.ThreadedHTTPServer.request_queue_size = 128

if __name__ == "__main__":
    sys.exit(main())
