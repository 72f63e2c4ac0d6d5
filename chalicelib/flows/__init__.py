"""Authentication flows as one request sees them, one module per family over a shared request
context (`context.RequestContext`): `signin` (sign-up, login, logout, sessions, password,
account), `email` (verification, password reset, email change), `mailbox` (every proof of an
address), `mailed_codes` (every emailed code), `codes` (signing in and re-authenticating with
one), `twofactor` (an authenticator app and recovery codes), `passkeys`, `social` (providers'
sign-in and connected identities), `tokens` (access tokens) and `active_org` (the
organization a session works in)."""
