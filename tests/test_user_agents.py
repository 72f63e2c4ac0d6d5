"""What the settings page calls a session's device, from its User-Agent."""

from __future__ import annotations

import pytest

from chalicelib.user_agents import describe
from tests.helpers import call, sign_up

LINUX_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)


# What each header is called: a browser and its system, a program by its name, or nothing.
NAMED = {
    LINUX_CHROME: "Chrome on Linux",
    LINUX_CHROME.replace("Chrome/", "HeadlessChrome/"): "Chrome on Linux",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0": "Edge on Windows",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15": "Safari on macOS",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1": "Safari on iPhone",
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1": "Chrome on iPad",
    "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0": "Firefox on Android",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36": "Samsung Internet on Android",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36": "Chrome on ChromeOS",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0": "Opera on Windows",
    "curl/8.5.0": "curl",
    "python-requests/2.32.3": "python-requests",
    "okhttp/4.12.0": "okhttp",
    "": "Unknown device",
    "<script>alert(1)</script>": "Unknown device",
}


@pytest.mark.parametrize(("user_agent", "seen"), NAMED.items())
def test_a_user_agent_is_named_as_people_know_it(user_agent, seen):
    assert describe(user_agent) == seen


def test_the_settings_page_names_devices_and_never_shows_the_raw_header(client):
    token = sign_up(client, headers={"User-Agent": LINUX_CHROME})
    body = client.http.get("/settings", headers={"Cookie": f"auth_session={token}"}).body.decode()
    assert "<strong>Chrome on Linux</strong>" in body
    assert "Mozilla/5.0" not in body
    assert "AppleWebKit" not in body
    # The JSON API still gives the header as it came, for a client of its own to read.
    listed = call(client, "GET", "/auth/sessions", token=token).json_body["sessions"]
    assert listed[0]["user_agent"] == LINUX_CHROME
