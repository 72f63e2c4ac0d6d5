"""Authentication flows as one request sees them, one module per family over a shared request
context (`context.RequestContext`): `signin` (sign-up, login, logout, sessions, password,
account), `email` (verification, password reset, email change)."""
