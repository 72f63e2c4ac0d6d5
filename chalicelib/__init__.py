"""The session-authentication service: everything except the routes in app.py."""
