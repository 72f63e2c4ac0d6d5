"""The protected sample resource: the seed app's training catalogue."""

from __future__ import annotations

TRAININGS: tuple[dict[str, object], ...] = (
    {"id": "password-hygiene", "title": "Password hygiene", "minutes": 15, "level": "beginner"},
    {"id": "phishing-101", "title": "Spotting phishing", "minutes": 20, "level": "beginner"},
    {
        "id": "mfa-setup",
        "title": "Setting up multi-factor sign-in",
        "minutes": 10,
        "level": "beginner",
    },
    {
        "id": "session-safety",
        "title": "Sessions and shared devices",
        "minutes": 12,
        "level": "intermediate",
    },
    {
        "id": "incident-report",
        "title": "Reporting a security incident",
        "minutes": 8,
        "level": "intermediate",
    },
)
