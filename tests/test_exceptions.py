from __future__ import annotations

from carboy import HTTPException


def test_413_title_is_the_rfc_9110_phrase_on_every_python() -> None:
    assert HTTPException(413).title == "Content Too Large"
    assert HTTPException(422).title == "Unprocessable Content"


def test_http_exception_detail_defaults_to_the_status_phrase() -> None:
    exc = HTTPException(404, headers={"X-Reason": "gone"})

    assert exc.detail == "Not Found"
    assert exc.headers == {"X-Reason": "gone"}
    assert str(exc) == "404: Not Found"
    assert repr(exc) == "HTTPException(status_code=404, detail='Not Found')"


def test_an_unknown_status_code_has_a_generic_title() -> None:
    assert HTTPException(599).title == "Error"
