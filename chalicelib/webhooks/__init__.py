"""Webhooks: what the service tells other systems when something happens to an account.

`signing` signs each delivery the Standard Webhooks way (https://www.standardwebhooks.com/),
so receivers can verify it with that project's libraries; `endpoints` reads the stage's
WEBHOOKS setting and delivers one request to one endpoint without letting a URL reach into
the service's own network.
"""
