"""Reading the local outbox (`make dev` writes each message there as a .eml file), as the
integration and browser tests do and as a developer might: `python -m devtools.outbox`."""

from __future__ import annotations

import re
import sys
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any, NamedTuple

from devtools.dynamodb_local import ROOT


class Mail(NamedTuple):
    to: str
    sender: str
    subject: str
    text: str
    html: str
    raw: bytes


def parse(raw: bytes) -> Mail:
    """A message as a mail client shows it: its headers and its text and HTML parts."""
    mime = message_from_bytes(raw, policy=policy.default)
    text = mime.get_body(preferencelist=("plain",))
    html = mime.get_body(preferencelist=("html",))
    return Mail(
        to=str(mime["To"]),
        sender=str(mime["From"]),
        subject=str(mime["Subject"]),
        text=_content(text),
        html=_content(html),
        raw=raw,
    )


def _content(part: Any) -> str:
    # Mail travels with CRLF line ends; a reader sees lines.
    return "" if part is None else str(part.get_content()).replace("\r\n", "\n")


class Mailbox:
    """Messages sent, oldest first, and what a person would take from them."""

    def messages(self) -> list[Mail]:
        raise NotImplementedError

    def last(self, to: str) -> Mail:
        matching = [m for m in self.messages() if m.to == to]
        if not matching:
            raise LookupError(f"no mail to {to} in {self.folder}")
        return matching[-1]

    def code(self, to: str) -> str:
        """The code in the last mail to `to`: the indented line of its text part."""
        match = re.search(r"^    ([0-9A-Z]{8})$", self.last(to).text, re.MULTILINE)
        if match is None:
            raise LookupError(f"no code in the last mail to {to}")
        return match.group(1)

    def link(self, to: str) -> str:
        """The link in the last mail to `to`: the line of its text part that is a URL."""
        match = re.search(r"^(https?://\S+)$", self.last(to).text, re.MULTILINE)
        if match is None:
            raise LookupError(f"no link in the last mail to {to}")
        return match.group(1)


class Outbox(Mailbox):
    """The folder `make dev` writes mail into."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def messages(self) -> list[Mail]:
        if not self.folder.exists():
            return []
        return [parse(path.read_bytes()) for path in sorted(self.folder.glob("*.eml"))]


def main() -> int:
    """Print the last few messages of the outbox: who, what, and the text part."""
    outbox = Outbox(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".outbox")
    for mail in outbox.messages()[-5:]:
        print(f"== To: {mail.to}\nSubject: {mail.subject}\n\n{mail.text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
