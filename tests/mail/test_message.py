from __future__ import annotations

import email.parser
import email.policy
import re
from typing import Any

import pytest

from carboy.mail import EmailMessage, InvalidMessageError, MailError


def message(**changes: Any) -> EmailMessage:
    fields: dict[str, Any] = {
        "to": ["ada@example.com"],
        "subject": "Hello",
        "body": "Hi Ada.\n",
        "from_": "site@example.com",
    }
    return EmailMessage(**{**fields, **changes})


def reparse(raw: bytes) -> email.message.EmailMessage:
    return email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)


def text(part: email.message.EmailMessage) -> str:
    """A part's decoded text, with the wire's CRLF line ends as Python's LF."""
    content: str = part.get_content()
    return content.replace("\r\n", "\n")


def test_a_text_message_is_a_utf8_text_plain_part() -> None:
    mime = message().to_mime()

    assert mime["From"] == "site@example.com"
    assert mime["To"] == "ada@example.com"
    assert mime["Subject"] == "Hello"
    assert mime.get_content_type() == "text/plain"
    assert mime.get_content_charset() == "utf-8"
    assert mime["Content-Transfer-Encoding"] == "7bit"
    assert mime.get_content() == "Hi Ada.\n"


def test_an_html_body_makes_the_message_multipart_alternative_text_first() -> None:
    mime = reparse(message(html="<p>Hi Ada.</p>").to_mime().as_bytes())

    assert mime.get_content_type() == "multipart/alternative"
    parts = list(mime.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert text(parts[0]) == "Hi Ada.\n"
    assert text(parts[1]) == "<p>Hi Ada.</p>\n"


def test_non_ascii_subject_names_and_bodies_survive_the_wire_format() -> None:
    mail = message(
        subject="Café ☕ für Zoë",
        to=["Zoë Ångström <zoe@example.com>"],
        from_="Société <site@example.com>",
        body="Grüße, Zoë.\n",
        html="<p>Grüße, Zoë.</p>",
    )

    raw = mail.to_mime().as_bytes()
    parsed = reparse(raw)

    assert raw.split(b"\r\n\r\n")[0].isascii()
    assert parsed["Subject"] == "Café ☕ für Zoë"
    assert parsed["To"] == "Zoë Ångström <zoe@example.com>"
    assert parsed["From"] == "Société <site@example.com>"
    plain = parsed.get_body(("plain",))
    html = parsed.get_body(("html",))
    assert plain is not None and html is not None
    assert plain["Content-Transfer-Encoding"] == "8bit"
    assert text(plain) == "Grüße, Zoë.\n"
    assert text(html) == "<p>Grüße, Zoë.</p>\n"


def test_without_eight_bit_a_non_ascii_body_is_quoted_printable() -> None:
    parsed = reparse(message(body="Grüße\n").to_mime(eight_bit=False).as_bytes())

    assert parsed["Content-Transfer-Encoding"] == "quoted-printable"
    assert text(parsed) == "Grüße\n"


def test_a_line_past_998_octets_is_quoted_printable_even_in_ascii() -> None:
    body = "x" * 1200 + "\n"

    parsed = reparse(message(body=body).to_mime().as_bytes())

    assert parsed["Content-Transfer-Encoding"] == "quoted-printable"
    assert text(parsed) == body


def test_cc_and_reply_to_are_headers_and_bcc_is_only_a_recipient() -> None:
    mail = message(
        cc=["bob@example.com", "cy@example.com"],
        bcc=["hidden@example.com"],
        reply_to=["help@example.com"],
    )

    mime = mail.to_mime()

    assert mime["Cc"] == "bob@example.com, cy@example.com"
    assert mime["Reply-To"] == "help@example.com"
    assert mime["Bcc"] is None
    assert b"hidden@example.com" not in mime.as_bytes()
    assert mail.recipients == [
        "ada@example.com",
        "bob@example.com",
        "cy@example.com",
        "hidden@example.com",
    ]


def test_date_and_message_id_are_made_with_the_senders_domain() -> None:
    mime = message(from_="Site <noreply@example.org>").to_mime()

    assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", mime["Date"])
    assert re.fullmatch(r"<[^@]+@example\.org>", mime["Message-ID"])


def test_given_headers_are_added_and_replace_date_and_message_id() -> None:
    mail = message(
        headers={
            "X-Campaign": "spring",
            "Date": "Mon, 01 Jan 2024 00:00:00 +0000",
            "Message-ID": "<1@example.com>",
        }
    )

    mime = mail.to_mime()

    assert mime["X-Campaign"] == "spring"
    assert mime.get_all("Date") == ["Mon, 01 Jan 2024 00:00:00 +0000"]
    assert mime.get_all("Message-ID") == ["<1@example.com>"]


def test_a_message_without_sender_is_built_from_webmaster_at_localhost() -> None:
    assert message(from_=None).to_mime()["From"] == "webmaster@localhost"


@pytest.mark.parametrize("subject", ["Hi\r\nBcc: victim@example.com", "Hi\nthere", "Hi\u2028"])
def test_a_line_break_in_the_subject_is_refused(subject: str) -> None:
    with pytest.raises(InvalidMessageError) as caught:
        message(subject=subject)

    assert str(caught.value) == (
        "The subject of an email contains a line break, which could start a header of "
        "someone else's choosing (header injection). Remove the line breaks, for example "
        "with ' '.join(subject.splitlines())."
    )


@pytest.mark.parametrize("field", ["to", "cc", "bcc", "reply_to"])
def test_a_line_break_in_an_address_is_refused(field: str) -> None:
    address = "ada@example.com\r\nBcc: victim@example.com"

    with pytest.raises(InvalidMessageError) as caught:
        message(**{field: [address]})

    assert str(caught.value) == (
        f"The address {address!r} in the {field} of an email contains a line break, which "
        "could start a header of someone else's choosing (header injection). Give each "
        "address as one line, with no line breaks."
    )


def test_a_line_break_in_the_sender_is_refused() -> None:
    with pytest.raises(InvalidMessageError) as caught:
        message(from_="site@example.com\nBcc: victim@example.com")

    assert str(caught.value) == (
        "The address 'site@example.com\\nBcc: victim@example.com' in the from_ of an email "
        "contains a line break, which could start a header of someone else's choosing "
        "(header injection). Give each address as one line, with no line breaks."
    )


def test_a_line_break_in_a_header_value_is_refused() -> None:
    with pytest.raises(InvalidMessageError) as caught:
        message(headers={"X-Tag": "a\r\nBcc: victim@example.com"})

    assert str(caught.value) == (
        "The value of the email header 'X-Tag' contains a line break, which could start a "
        "header of someone else's choosing (header injection). Remove the line breaks from "
        "the value."
    )


def test_a_subject_changed_after_the_message_was_made_is_checked_when_built() -> None:
    mail = message()
    mail.subject = "Hi\r\nBcc: victim@example.com"

    with pytest.raises(InvalidMessageError):
        mail.to_mime()


def test_injection_errors_are_mail_errors_and_value_errors() -> None:
    with pytest.raises(InvalidMessageError) as caught:
        message(subject="a\nb")

    assert isinstance(caught.value, MailError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("name", ["X Bad", "X:Bad", "", "Ünicode"])
def test_a_bad_header_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidMessageError) as caught:
        message(headers={name: "value"})

    assert str(caught.value) == (
        f"{name!r} is not a valid email header name: a name is printable ASCII with no space "
        "and no colon (RFC 5322 2.2). Fix the name in headers={...}."
    )


def test_a_header_that_a_field_sets_is_refused_in_headers() -> None:
    with pytest.raises(InvalidMessageError) as caught:
        message(headers={"reply-to": "help@example.com"})

    assert str(caught.value) == (
        "The email header 'reply-to' comes from the message's field reply_to, not from "
        "headers={...}. Set reply_to= instead."
    )


def test_a_body_header_is_refused_in_headers() -> None:
    with pytest.raises(InvalidMessageError) as caught:
        message(headers={"Content-Type": "text/html"})

    assert str(caught.value) == (
        "The email header 'Content-Type' follows from the message's body and html, not from "
        "headers={...}. Remove it from the headers."
    )


def test_a_message_without_recipient_is_refused() -> None:
    with pytest.raises(InvalidMessageError) as caught:
        message(to=[])

    assert str(caught.value) == (
        "The email 'Hello' has no recipient: to, cc and bcc are all empty. Give at least one "
        "address, such as to=['ada@example.com']."
    )


def test_a_message_with_only_bcc_recipients_is_accepted() -> None:
    mail = message(to=[], bcc=["hidden@example.com"])

    assert mail.recipients == ["hidden@example.com"]
    assert mail.to_mime()["To"] is None


def test_a_single_string_as_address_list_is_a_type_error() -> None:
    with pytest.raises(TypeError) as caught:
        message(to="ada@example.com")

    assert str(caught.value) == (
        "EmailMessage(to=...) takes a list of addresses, and got the string "
        "'ada@example.com'. Write to=['ada@example.com']."
    )


def test_address_tuples_become_lists() -> None:
    mail = message(to=("ada@example.com",), cc=("bob@example.com",))

    assert mail.to == ["ada@example.com"]
    assert mail.cc == ["bob@example.com"]
