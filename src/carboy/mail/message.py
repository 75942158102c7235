"""``EmailMessage``: one email, checked for header injection, built as MIME."""

from __future__ import annotations

import email.message
import email.policy
import email.utils
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from carboy.mail.exceptions import InvalidMessageError

__all__ = ["DEFAULT_FROM", "EmailMessage"]

DEFAULT_FROM = "webmaster@localhost"
"""The sender of a message that names none and is sent outside ``Mail``."""

# RFC 5322 2.1.1: a line is at most 998 octets, not counting CRLF.
_MAX_LINE = 998

# What str.splitlines() breaks on; the email package refuses each of them in
# a header value, so each would also let a value start a header of its own.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")

# Headers set from a field of the message, and the field to use instead.
_FIELD_HEADERS = {
    "from": "from_",
    "to": "to",
    "cc": "cc",
    "bcc": "bcc",
    "reply-to": "reply_to",
    "subject": "subject",
}
# Headers that follow from the body.
_BODY_HEADERS = frozenset({"mime-version", "content-type", "content-transfer-encoding"})

_ADDRESS_FIELDS = ("to", "cc", "bcc", "reply_to")


@dataclass
class EmailMessage:
    """One email: its recipients, subject, plain-text body and optional HTML body.

    The message refuses line breaks in its subject, addresses and headers,
    which would let a value taken from a form start headers of its own
    (header injection). It is checked when made and again when built, so a
    field changed in between is checked too.

    Args:
        to: The recipients' addresses, such as ``["ada@example.com"]`` or
            ``["Ada Lovelace <ada@example.com>"]``.
        subject: One line; may hold any Unicode.
        body: The plain-text body, which every email has.
        html: An HTML version of the body; the message is then
            ``multipart/alternative``, and mail readers show the HTML one.
        from_: The sender; ``None``: the ``mail_from`` setting when sent
            through ``Mail``.
        cc: Copies, visible to every recipient.
        bcc: Hidden copies: they receive the message, and no header names them.
        reply_to: Where replies go, when not to the sender.
        headers: Other headers, such as ``{"X-Campaign": "spring"}``. A
            ``Date`` or ``Message-ID`` given here replaces the one made
            when the message is built.

    Raises:
        InvalidMessageError: for a line break in the subject, an address or
            a header, a header that a field sets, or no recipient at all.
        TypeError: when an address list is a single string.

    Example::

        message = EmailMessage(
            to=["ada@example.com"],
            subject="Your report is ready",
            body="Download it at https://example.com/reports/42",
        )
        await mailer_of(app).send(message)
    """

    to: list[str]
    subject: str
    body: str
    html: str | None = None
    from_: str | None = None
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in _ADDRESS_FIELDS:
            value: Sequence[str] = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(
                    f"EmailMessage({name}=...) takes a list of addresses, and got the string "
                    f"{value!r}. Write {name}=[{value!r}]."
                )
            setattr(self, name, list(value))
        self.headers = dict(self.headers)
        self.validate()

    @property
    def recipients(self) -> list[str]:
        """Every address the message goes to: ``to``, then ``cc``, then ``bcc``."""
        return [*self.to, *self.cc, *self.bcc]

    def validate(self) -> None:
        """Check the message for header injection, bad headers and a missing recipient.

        Raises:
            InvalidMessageError: naming the field or header at fault, and the fix.
        """
        if _has_line_break(self.subject):
            raise InvalidMessageError(
                "The subject of an email contains a line break, which could start a header "
                "of someone else's choosing (header injection). Remove the line breaks, for "
                "example with ' '.join(subject.splitlines())."
            )
        senders = [] if self.from_ is None else [self.from_]
        for name, addresses in (("from_", senders), *_address_lists(self)):
            for address in addresses:
                if _has_line_break(address):
                    raise InvalidMessageError(
                        f"The address {address!r} in the {name} of an email contains a line "
                        "break, which could start a header of someone else's choosing (header "
                        "injection). Give each address as one line, with no line breaks."
                    )
        for name, value in self.headers.items():
            _check_header(name, value)
        if not self.recipients:
            raise InvalidMessageError(
                f"The email {self.subject!r} has no recipient: to, cc and bcc are all empty. "
                "Give at least one address, such as to=['ada@example.com']."
            )

    def to_mime(self, *, eight_bit: bool = True) -> email.message.EmailMessage:
        """Build the message as the standard library's ``email.message.EmailMessage``.

        Headers are encoded per RFC 2047 where they hold non-ASCII text;
        bodies are UTF-8. ``Bcc`` is not among the headers: its addresses
        are recipients of the envelope only.

        Args:
            eight_bit: Send non-ASCII bodies as 8bit, as servers that
                announce 8BITMIME accept; ``False``: as quoted-printable,
                which any server accepts.

        Raises:
            InvalidMessageError: as ``validate()``.
        """
        self.validate()
        sender = self.from_ or DEFAULT_FROM
        given = {name.lower(): value for name, value in self.headers.items()}
        mime = email.message.EmailMessage(policy=email.policy.SMTP)
        mime["From"] = sender
        if self.to:
            mime["To"] = ", ".join(self.to)
        if self.cc:
            mime["Cc"] = ", ".join(self.cc)
        if self.reply_to:
            mime["Reply-To"] = ", ".join(self.reply_to)
        mime["Subject"] = self.subject
        if "date" not in given:
            mime["Date"] = email.utils.format_datetime(datetime.now(UTC))
        if "message-id" not in given:
            # The sender's domain, rather than make_msgid()'s default, which
            # looks the host's name up in DNS on every message.
            domain = email.utils.parseaddr(sender)[1].rpartition("@")[2] or "localhost"
            mime["Message-ID"] = email.utils.make_msgid(domain=domain)
        for name, value in self.headers.items():
            mime[name] = value
        mime.set_content(
            self.body,
            subtype="plain",
            charset="utf-8",
            cte=_transfer_encoding(self.body, eight_bit),
        )
        if self.html is not None:
            mime.add_alternative(
                self.html,
                subtype="html",
                charset="utf-8",
                cte=_transfer_encoding(self.html, eight_bit),
            )
        return mime


def _address_lists(message: EmailMessage) -> list[tuple[str, list[str]]]:
    return [(name, getattr(message, name)) for name in _ADDRESS_FIELDS]


def _has_line_break(value: str) -> bool:
    return any(character in _LINE_BREAKS for character in value)


def _check_header(name: str, value: str) -> None:
    # RFC 5322 2.2: a field name is printable US-ASCII, other than the colon.
    if not name or not all(33 <= ord(character) <= 126 for character in name) or ":" in name:
        raise InvalidMessageError(
            f"{name!r} is not a valid email header name: a name is printable ASCII with no "
            "space and no colon (RFC 5322 2.2). Fix the name in headers={...}."
        )
    lowered = name.lower()
    if lowered in _FIELD_HEADERS:
        field_name = _FIELD_HEADERS[lowered]
        raise InvalidMessageError(
            f"The email header {name!r} comes from the message's field {field_name}, not from "
            f"headers={{...}}. Set {field_name}= instead."
        )
    if lowered in _BODY_HEADERS:
        raise InvalidMessageError(
            f"The email header {name!r} follows from the message's body and html, not from "
            "headers={...}. Remove it from the headers."
        )
    if _has_line_break(value):
        raise InvalidMessageError(
            f"The value of the email header {name!r} contains a line break, which could start "
            "a header of someone else's choosing (header injection). Remove the line breaks "
            "from the value."
        )


def _transfer_encoding(text: str, eight_bit: bool) -> str:
    """Pick the Content-Transfer-Encoding that keeps the text most readable on the wire."""
    fits = all(len(line.encode("utf-8")) <= _MAX_LINE for line in text.splitlines())
    if fits and text.isascii():
        return "7bit"
    if fits and eight_bit:
        return "8bit"
    return "quoted-printable"
