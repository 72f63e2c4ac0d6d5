"""Mail: every message the service sends, and the two ways out (its senders).

Each message has a plain-text and an HTML part, both rendered from Jinja2 templates under
`templates/mail/` that say what happened and what to do if it was not you; neither carries
tracking (no pixels, no rewritten links). Links are built from PUBLIC_ORIGIN, never from a
request's Host header, which a client controls.

- `SesSender`: deployed stages, Amazon SES v2 `SendEmail` with the raw MIME message (so
  both parts arrive as built), from MAIL_FROM.
- `OutboxSender`: the `local` stage never sends; each message becomes an RFC 5322 `.eml`
  file in MAIL_OUTBOX_DIR (names sort by time) and one console line names the recipient, the
  subject and the code or link, so a developer can finish every flow.

A failed send raises ServiceUnavailable (503). Jinja2, the email package and the SES client are
loaded on the first message: a protected request never pays for them.
"""

from __future__ import annotations

import secrets
import sys
from datetime import UTC, datetime
from enum import Enum
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from chalicelib.config import Settings
from chalicelib.errors import ServiceUnavailable

if TYPE_CHECKING:
    import jinja2

_TEMPLATES = Path(__file__).parent / "templates" / "mail"


class Kind(Enum):
    """Each message: its subject and its templates' name."""

    VERIFY_EMAIL = ("Your verification code", "verify_email")
    PASSWORD_RESET = ("Reset your password", "password_reset")
    PASSWORD_CHANGED = ("Your password was changed", "password_changed")
    EMAIL_CHANGE_CODE = ("Confirm your new email address", "email_change_code")
    EMAIL_CHANGE_REQUESTED = (
        "Someone asked to change your email address",
        "email_change_requested",
    )
    EMAIL_CHANGED = ("Your email address was changed", "email_changed")
    TWO_FACTOR_ENABLED = ("Two-factor sign-in is on", "two_factor_enabled")
    TWO_FACTOR_DISABLED = ("Two-factor sign-in was turned off", "two_factor_disabled")
    RECOVERY_CODES_REPLACED = ("New recovery codes were made", "recovery_codes_replaced")
    PASSKEY_ADDED = ("A passkey was added to your account", "passkey_added")
    PASSKEY_RENAMED = ("A passkey was renamed", "passkey_renamed")
    PASSKEY_REMOVED = ("A passkey was removed from your account", "passkey_removed")
    LOGIN_CODE = ("Your sign-in code", "login_code")
    REAUTHENTICATION_CODE = ("Your confirmation code", "reauthentication_code")
    PASSWORD_SET = ("A password was added to your account", "password_set")
    IDENTITY_LINKED = ("{provider} sign-in was connected", "identity_linked")
    IDENTITY_UNLINKED = ("{provider} sign-in was disconnected", "identity_unlinked")
    SIGNUP_ATTEMPTED = ("Someone tried to sign up with your address", "signup_attempted")
    ACCOUNT_DELETED = ("Your account was deleted", "account_deleted")
    ORG_INVITATION = ("You are invited to join {organization}", "org_invitation")

    @property
    def subject(self) -> str:
        """The subject line, with `{provider}`-style fields left to fill (`subject_for`)."""
        return self.value[0]

    def subject_for(self, context: dict[str, Any]) -> str:
        return self.subject.format(**context) if "{" in self.subject else self.subject

    @property
    def template(self) -> str:
        return self.value[1]


class Message(NamedTuple):
    to: str
    subject: str
    text: str
    html: str
    console: str  # what a developer needs from it (the code or link), for the outbox's line


class Sender(Protocol):
    """How messages leave: SES, or the local outbox (a test's recorder)."""

    def deliver(self, message: Message) -> None:
        """Send the message or raise ServiceUnavailable."""
        ...


class Mail:
    """Composes each kind of message and hands it to the stage's sender."""

    def __init__(self, settings: Settings, sender: Sender) -> None:
        settings.check_mail()
        self._origin = settings.public_origin or ""
        self._sender_name = settings.mail_sender_name
        self._sender = sender

    def link(self, path: str) -> str:
        return f"{self._origin}{path}"

    def send(self, kind: Kind, to: str, *, console: str = "", **context: Any) -> None:
        self._sender.deliver(self.compose(kind, to, console=console, **context))

    def compose(
        self, kind: Kind, to: str, *, site: str | None = None, console: str = "", **context: Any
    ) -> Message:
        """`site` is where our pages are (the origin and any stage prefix): links start there."""
        values = {
            "site": self._origin if site is None else site,
            "product": self._sender_name,
            "to": to,
            **context,
        }
        subject = kind.subject_for(values)
        values["subject"] = subject
        environment = _environment()
        text = environment.get_template(f"{kind.template}.txt").render(values)
        html = environment.get_template(f"{kind.template}.html").render(values)
        return Message(to=_ascii(to), subject=subject, text=text, html=html, console=console)


@cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        # HTML parts escape what they show; plain-text parts must not turn & into &amp;.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _ascii(address: str) -> str:
    """The address as SES takes it: a Unicode domain as punycode (IDNA 2008). Local parts are
    ASCII already: addresses whose local part is not are refused (users.normalize_email)."""
    if address.isascii():
        return address
    from email_validator import EmailNotValidError, validate_email

    try:
        return validate_email(address, check_deliverability=False).ascii_email or address
    except EmailNotValidError:
        return address


def to_mime(message: Message, sender: str, sender_name: str) -> bytes:
    """The message as RFC 5322 bytes: multipart/alternative, text first, then HTML."""
    from email import policy
    from email.message import EmailMessage
    from email.utils import format_datetime, formataddr, make_msgid

    mime = EmailMessage(policy=policy.SMTPUTF8)
    mime["From"] = formataddr((sender_name, sender))
    mime["To"] = message.to
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(datetime.now(UTC))
    mime["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    mime["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    return mime.as_bytes()


class SesSender:
    """Amazon SES v2 SendEmail, from a verified identity."""

    def __init__(self, sender: str, sender_name: str) -> None:
        self._sender = sender
        self._sender_name = sender_name

    @cached_property
    def _client(self) -> Any:
        from chalicelib import aws

        return aws.client("sesv2", aws.BOUNDED)

    def deliver(self, message: Message) -> None:
        from chalicelib.aws import BotoCoreError, ClientError

        raw = to_mime(message, self._sender, self._sender_name)
        try:
            self._client.send_email(
                FromEmailAddress=self._sender,
                Destination={"ToAddresses": [message.to]},
                Content={"Raw": {"Data": raw}},
            )
        except (ClientError, BotoCoreError) as error:
            raise ServiceUnavailable("We could not send the email. Try again shortly.") from error


class OutboxSender:
    """Development: messages become .eml files in a folder, never mail."""

    def __init__(self, folder: Path, sender: str, sender_name: str) -> None:
        self.folder = folder
        self._sender = sender
        self._sender_name = sender_name

    def deliver(self, message: Message) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.folder / f"{stamp}-{secrets.token_hex(4)}.eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path.write_bytes(to_mime(message, self._sender, self._sender_name))
        except OSError as error:
            raise ServiceUnavailable("We could not send the email. Try again shortly.") from error
        line = f"[outbox] to {message.to}: {message.subject}"
        if message.console:
            line += f" | {message.console}"
        print(f"{line} ({path.name})", file=sys.stderr, flush=True)


def sender_for(settings: Settings) -> Sender:
    """The stage's way out: the outbox where MAIL_OUTBOX_DIR is set, SES everywhere else."""
    sender = settings.mail_from or "no-reply@localhost.localdomain"
    if settings.mail_outbox_dir is not None:
        return OutboxSender(Path(settings.mail_outbox_dir), sender, settings.mail_sender_name)
    return SesSender(sender, settings.mail_sender_name)
