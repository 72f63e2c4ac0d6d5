"""What people recognise of a User-Agent header: "Chrome on Linux", "Safari on iPhone", and for
a program, its name ("curl"). A small table, in order (Edge and Opera say "Chrome" too, and
Chrome says "Safari"), rather than a parser library and its thousand rules: the settings page
names a session's device, it does not identify it. The raw header never reaches a page."""

from __future__ import annotations

import re

UNKNOWN = "Unknown device"

# In order: the first that matches names the browser ...
_BROWSERS = {
    "Edge": re.compile(r"\bEdg(e|A|iOS)?/"),
    "Opera": re.compile(r"\b(OPR|Opera)/"),
    "Samsung Internet": re.compile(r"\bSamsungBrowser/"),
    "Firefox": re.compile(r"\b(Firefox|FxiOS)/"),
    "Chrome": re.compile(r"\b(HeadlessChrome|Chrome|CriOS|Chromium)/"),
    "Safari": re.compile(r"\bVersion/[\d.]+.*\bSafari/"),
}
# ... and the system (a word of the header, or one of its own).
_SYSTEMS = (
    ("iPhone", re.compile(r"\biPhone\b")),
    ("iPad", re.compile(r"\biPad\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b")),
)
# A program's own product token: `curl/8.5.0`, `python-requests/2.32`, `okhttp/4.12`.
_PROGRAM = re.compile(r"([A-Za-z][A-Za-z0-9._-]{0,40})/\S")


def describe(user_agent: str) -> str:
    """`Browser on System`, the browser or the system alone, a program's name, or "Unknown
    device"."""
    browser = next((name for name, found in _BROWSERS.items() if found.search(user_agent)), None)
    system = next((name for name, found in _SYSTEMS if found.search(user_agent)), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return str(browser or system)
    if not user_agent.startswith("Mozilla/") and (program := _PROGRAM.match(user_agent)):
        return program.group(1)
    return UNKNOWN
