from datetime import timedelta

import pytest

from chalicelib.config import ConfigError, Settings, parse_duration
from devtools.stage import stage_environment


def test_defaults_follow_the_documented_security_baseline():
    settings = Settings.from_env({})
    assert settings.session_lifetime == timedelta(days=30)
    assert settings.session_absolute_lifetime == timedelta(days=90)
    assert settings.cookie_name == "auth_session"
    assert settings.cookie_secure is True
    assert (settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism) == (
        19456,
        2,
        1,
    )
    assert settings.allowed_origins == ()
    assert settings.cors_origins == ()
    assert settings.cookie_samesite == "Lax"
    assert settings.public_origin is None
    assert (settings.login_email_max_failures, settings.login_ip_max_failures) == (5, 20)
    assert settings.login_failure_window == timedelta(minutes=15)
    assert settings.login_lockout_max == timedelta(minutes=15)


def test_every_setting_is_read_from_the_environment():
    settings = Settings.from_env(
        {
            "TABLE_NAME": "t1",
            "SESSION_LIFETIME": "12h",
            "SESSION_ABSOLUTE_LIFETIME": "7d",
            "COOKIE_NAME": "sid",
            "COOKIE_SECURE": "false",
            "ARGON2_MEMORY_KIB": "47104",
            "ARGON2_TIME_COST": "1",
            "ARGON2_PARALLELISM": "2",
            "SESSION_ACTIVITY_INTERVAL": "10m",
            "PUBLIC_ORIGIN": "https://auth.example.com",
            "ALLOWED_ORIGINS": "https://app.example.com, http://localhost:3000",
            "LOGIN_EMAIL_MAX_FAILURES": "3",
            "LOGIN_IP_MAX_FAILURES": "50",
            "LOGIN_FAILURE_WINDOW": "1h",
            "LOGIN_LOCKOUT_BASE": "30s",
            "LOGIN_LOCKOUT_MAX": "1h",
        }
    )
    assert settings == Settings(
        table_name="t1",
        session_lifetime=timedelta(hours=12),
        session_absolute_lifetime=timedelta(days=7),
        cookie_name="sid",
        cookie_secure=False,
        argon2_memory_kib=47104,
        argon2_time_cost=1,
        argon2_parallelism=2,
        session_activity_interval=timedelta(minutes=10),
        public_origin="https://auth.example.com",
        allowed_origins=("https://app.example.com", "http://localhost:3000"),
        login_email_max_failures=3,
        login_ip_max_failures=50,
        login_failure_window=timedelta(hours=1),
        login_lockout_base=timedelta(seconds=30),
        login_lockout_max=timedelta(hours=1),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("15m", timedelta(minutes=15)),
        (" 45 s ", timedelta(seconds=45)),
    ],
)
def test_durations_carry_their_unit(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "env",
    [
        {"SESSION_LIFETIME": "30"},
        {"SESSION_LIFETIME": "0d"},
        {"SESSION_LIFETIME": "30d", "SESSION_ABSOLUTE_LIFETIME": "10d"},
        {"COOKIE_SECURE": "maybe"},
        {"COOKIE_NAME": "bad name;"},
        {"ARGON2_MEMORY_KIB": "lots"},
        {"ARGON2_TIME_COST": "0"},
        {"ALLOWED_ORIGINS": "https://app.example.com/path"},
        {"ALLOWED_ORIGINS": "app.example.com"},
        {"PUBLIC_ORIGIN": "https://Auth.Example.com"},
        {"LOGIN_EMAIL_MAX_FAILURES": "0"},
        {"LOGIN_LOCKOUT_BASE": "30m", "LOGIN_LOCKOUT_MAX": "15m"},
        {"CORS_ORIGINS": "*"},
        {"CORS_ORIGINS": "https://*.example.com"},
        {"CORS_ORIGINS": "https://app.example.com/"},
        {"CORS_ORIGINS": "https://app.example.com/path"},
        {"CORS_ORIGINS": "null"},
        {"CORS_ORIGINS": "http://app.example.com"},  # plain http is for the local stage's localhost
        {"CORS_ORIGINS": "http://localhost:5173"},  # ...and only there (COOKIE_SECURE false)
        {"CORS_ORIGINS": "http://localhost.example.com:5173", "COOKIE_SECURE": "false"},
        {"COOKIE_SAMESITE": "relaxed"},
        {"COOKIE_SAMESITE": "none", "COOKIE_SECURE": "false"},
    ],
)
def test_malformed_settings_fail_at_start_up_with_the_variable_named(env):
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert str(raised.value)


def test_only_the_local_stage_turns_off_secure_cookies():
    assert stage_environment("local")["COOKIE_SECURE"] == "false"
    for stage in ("dev", "prod"):
        env = stage_environment(stage)
        assert Settings.from_env(env).cookie_secure is True
        assert env["TABLE_NAME"]


def test_cors_origins_and_samesite_are_read_from_the_environment():
    deployed = Settings.from_env(
        {"CORS_ORIGINS": "https://app.example.com, https://admin.example.com:8443"}
    )
    assert deployed.cors_origins == ("https://app.example.com", "https://admin.example.com:8443")
    local = Settings.from_env({"CORS_ORIGINS": "http://localhost:5173", "COOKIE_SECURE": "false"})
    assert local.cors_origins == ("http://localhost:5173",)
    for written, read in (("lax", "Lax"), ("Strict", "Strict"), (" NONE ", "None")):
        assert Settings.from_env({"COOKIE_SAMESITE": written}).cookie_samesite == read


def test_webhook_settings_default_to_none_and_a_three_day_give_up():
    settings = Settings.from_env({})
    assert settings.webhooks_json == ""
    assert settings.webhook_secrets_parameter is None
    assert settings.webhook_secrets_file is None
    assert settings.webhook_give_up == timedelta(days=3)


def test_webhook_settings_are_read_from_the_environment():
    endpoints = '[{"url": "https://hooks.example.com/auth", "events": ["user.created"]}]'
    settings = Settings.from_env(
        {
            "WEBHOOKS": f" {endpoints}\n",
            "WEBHOOK_SECRETS_PARAMETER": "/session-auth/webhook-secrets",
            "WEBHOOK_SECRETS_FILE": ".secrets/webhook-secrets.json",
            "WEBHOOK_GIVE_UP": "12h",
        }
    )
    # WEBHOOKS stays text: chalicelib.webhooks.endpoints, above config, knows the event types.
    assert settings.webhooks_json == endpoints
    assert settings.webhook_secrets_parameter == "/session-auth/webhook-secrets"
    assert settings.webhook_secrets_file == ".secrets/webhook-secrets.json"
    assert settings.webhook_give_up == timedelta(hours=12)


@pytest.mark.parametrize("give_up", ["0d", "3", "forever", "-1d"])
def test_a_webhook_give_up_that_is_not_a_positive_duration_fails_at_start_up(give_up):
    with pytest.raises(ConfigError, match="WEBHOOK_GIVE_UP"):
        Settings.from_env({"WEBHOOK_GIVE_UP": give_up})
