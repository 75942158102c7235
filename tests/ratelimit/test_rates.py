from __future__ import annotations

import pytest

from carboy.exceptions import ImproperlyConfigured
from carboy.ratelimit import Rate, limit, parse_rate

FORMS = "'5/minute', '100/hour', '10/second', '1000/day' or '5/10 minutes'"


@pytest.mark.parametrize(
    ("text", "limit_", "window"),
    [
        ("5/minute", 5, 60),
        ("100/hour", 100, 3600),
        ("10/second", 10, 1),
        ("1000/day", 1000, 86400),
        ("5/10 minutes", 5, 600),
        ("5/10minutes", 5, 600),
        ("1/seconds", 1, 1),
        (" 3 / 2 Hours ", 3, 7200),
        ("7/90 SECOND", 7, 90),
    ],
)
def test_rates_are_read_as_a_count_per_window(text: str, limit_: int, window: int) -> None:
    rate = parse_rate(text)

    assert (rate.limit, rate.window, rate.text) == (limit_, window, text)


@pytest.mark.parametrize(
    ("text", "words", "policy"),
    [
        ("5/minute", "5 per minute", "5;w=60"),
        ("5/10 minutes", "5 per 10 minutes", "5;w=600"),
        ("100/hour", "100 per hour", "100;w=3600"),
        ("1/day", "1 per day", "1;w=86400"),
        ("7/90 seconds", "7 per 90 seconds", "7;w=90"),
        ("3/120 minutes", "3 per 2 hours", "3;w=7200"),
    ],
)
def test_a_rate_says_itself_in_words_and_as_a_policy(text: str, words: str, policy: str) -> None:
    rate = parse_rate(text)

    assert rate.describe() == words
    assert rate.policy == policy


def test_a_rate_object_is_taken_as_it_is() -> None:
    rate = Rate(3, 30, "3/30 seconds")

    assert parse_rate(rate) is rate


@pytest.mark.parametrize(
    "text",
    ["5/fortnight", "five/minute", "5", "", "5/minute/hour", "-1/minute", "5/1.5 minutes", "5 m"],
)
def test_an_unreadable_rate_is_refused_with_the_forms_to_use(text: str) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        parse_rate(text)

    assert str(caught.value) == (
        f"The rate {text!r} cannot be read. Write a count, a slash and a period, such as {FORMS}."
    )


def test_a_huge_unreadable_rate_is_shown_cut_short() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        parse_rate("x" * 10_000)

    assert str(caught.value) == (
        f"The rate {'x' * 100!r} cannot be read. Write a count, a slash and a period, "
        f"such as {FORMS}."
    )


def test_a_rate_of_zero_requests_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        parse_rate("0/minute")

    assert str(caught.value) == (
        "The rate '0/minute' allows no request at all. Give a count of 1 or more, such as "
        "'1/minute'; to refuse every request, remove the route instead."
    )


def test_a_period_of_zero_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        parse_rate("5/0 seconds")

    assert str(caught.value) == (
        "The rate '5/0 seconds' has a period of zero. Give a period of 1 or more, such as "
        "'5/10 seconds'."
    )


def test_a_rate_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        parse_rate(5)  # type: ignore[arg-type]

    assert (
        str(caught.value)
        == f"A rate is a string such as '5/minute', not int. Write one of {FORMS}."
    )


def test_limit_reads_its_rate_when_it_is_declared() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        limit("5 per minute")

    assert str(caught.value).startswith("The rate '5 per minute' cannot be read.")
