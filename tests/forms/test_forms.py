"""Parsing and validating forms through a real app: data, errors, values."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carboy import Carboy, Request, UploadFile
from carboy.exceptions import ImproperlyConfigured
from carboy.forms import BoundForm, Form, HiddenInput, Select
from carboy.testing import TestClient
from tests.forms._signup import VALID, Color, SignupForm
from tests.forms.conftest import make_request

app = Carboy()


def snapshot(form: BoundForm[Any]) -> dict[str, Any]:
    return {
        "is_valid": form.is_valid,
        "errors": form.errors,
        "values": form.values,
        "data": form.data.model_dump(mode="json", exclude={"avatar"}) if form.is_valid else None,
    }


@app.post("/signup")
async def signup(request: Request) -> dict[str, Any]:
    form = await SignupForm.from_request(request)
    result = snapshot(form)
    if form.is_valid:
        avatar = form.data.avatar
        content = None if avatar is None else (await avatar.read()).hex()
        result["avatar"] = None if avatar is None else [avatar.filename, content]
    return result


@app.post("/api/signup")
async def api_signup(body: SignupForm) -> dict[str, Any]:
    return body.model_dump(mode="json", exclude={"avatar"})


client = TestClient(app)


def post(data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    response = client.post("/signup", data=data, **kwargs)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def test_a_valid_form_gives_the_typed_model() -> None:
    result = post(VALID)

    assert result["is_valid"] is True
    assert result["errors"] == {}
    assert result["data"] == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "age": 36,
        "plan": "pro",
        "color": "dark-blue",
        "bio": "Notes on the engine.",
        "accept_terms": True,
        "birthday": "1815-12-10",
    }
    assert result["avatar"] is None


def test_the_model_holds_python_values() -> None:
    seen: list[SignupForm] = []
    local = Carboy()

    @local.post("/")
    async def handler(request: Request) -> str:
        seen.append((await SignupForm.from_request(request)).data)
        return "ok"

    TestClient(local).post("/", data=VALID)

    assert seen[0].color is Color.DARK_BLUE
    assert seen[0].age == 36


def test_an_absent_checkbox_is_false() -> None:
    data = {key: value for key, value in VALID.items() if key != "accept_terms"}

    result = post(data)

    assert result["is_valid"] is True
    assert result["data"]["accept_terms"] is False
    assert "accept_terms" not in result["values"]


def test_empty_optional_fields_are_none_and_an_empty_str_field_is_empty() -> None:
    result = post({**VALID, "color": "", "birthday": "", "bio": ""})

    assert result["data"]["color"] is None
    assert result["data"]["birthday"] is None
    assert result["data"]["bio"] == ""


def test_an_absent_field_with_a_default_gets_its_default() -> None:
    data = {key: value for key, value in VALID.items() if key != "plan"}

    result = post(data)

    assert result["data"]["plan"] == "free"


def test_missing_and_empty_required_fields_are_required() -> None:
    result = post({"name": "", "email": "   "})

    assert result["is_valid"] is False
    assert result["data"] is None
    assert result["errors"] == {
        "name": ["This field is required."],
        "email": ["Enter a valid value."],
        "age": ["This field is required."],
    }


def test_errors_get_friendly_messages_or_pydantics_own() -> None:
    result = post(
        {
            "name": "A",
            "email": "not an email",
            "age": "twelve",
            "plan": "gold",
            "color": "green",
            "birthday": "1815-13-10",
        }
    )

    assert result["errors"] == {
        "name": ["String should have at least 2 characters"],
        "email": ["Enter a valid value."],
        "age": ["Enter a whole number."],
        "plan": ["Select a valid choice."],
        "color": ["Select a valid choice."],
        "birthday": ["Enter a valid date."],
    }


def test_a_number_out_of_range_keeps_pydantics_message() -> None:
    result = post({**VALID, "age": "12"})

    assert result["errors"] == {"age": ["Input should be greater than or equal to 13"]}


def test_a_float_that_does_not_parse_asks_for_a_number() -> None:
    class Measure(Form):
        height: float

    local = Carboy()

    @local.post("/")
    async def handler(request: Request) -> dict[str, Any]:
        return snapshot(await Measure.from_request(request))

    response = TestClient(local).post("/", data={"height": "tall"})

    assert response.json()["errors"] == {"height": ["Enter a number."]}


def test_values_hold_what_was_typed_and_no_file() -> None:
    result = post(
        {"name": "A", "age": "twelve", "plan": "gold", "csrf_token": "abc"},
        files={"avatar": ("me.png", b"\x89PNG", "image/png")},
    )

    assert result["values"] == {"name": "A", "age": "twelve", "plan": "gold"}


def test_an_uploaded_file_reaches_the_model() -> None:
    result = post(VALID, files={"avatar": ("me.png", b"\x89PNG", "image/png")})

    assert result["is_valid"] is True
    assert result["avatar"] == ["me.png", "89504e47"]


def test_a_file_input_left_blank_is_none() -> None:
    result = post(VALID, files={"avatar": ("", b"", "application/octet-stream")})

    assert result["is_valid"] is True
    assert result["avatar"] is None


def test_text_where_a_file_belongs_says_to_check_the_encoding() -> None:
    result = post({**VALID, "avatar": "me.png"})

    assert result["errors"] == {
        "avatar": ["No file was submitted. Check the encoding type on the form."]
    }


def test_the_csrf_field_and_unknown_fields_are_ignored() -> None:
    class Strict(Form):
        model_config = ConfigDict(extra="forbid")

        title: str

    local = Carboy()

    @local.post("/")
    async def handler(request: Request) -> dict[str, Any]:
        return snapshot(await Strict.from_request(request))

    response = TestClient(local).post("/", data={"title": "Hi", "csrf_token": "abc", "x": "1"})

    assert response.json() == {
        "is_valid": True,
        "errors": {},
        "values": {"title": "Hi"},
        "data": {"title": "Hi"},
    }


class PasswordForm(Form):
    password: str = Field(min_length=8)
    confirm: str

    @field_validator("password")
    @classmethod
    def not_common(cls, value: str) -> str:
        if value == "password":
            raise ValueError(f"{value!r} is too common.")
        return value

    @model_validator(mode="after")
    def passwords_match(self) -> PasswordForm:
        if self.password != self.confirm:
            raise ValueError("The passwords do not match.")
        return self


def bind(form_class: type[Form], data: dict[str, Any]) -> dict[str, Any]:
    local = Carboy()

    @local.post("/")
    async def handler(request: Request) -> dict[str, Any]:
        return snapshot(await form_class.from_request(request))

    result: dict[str, Any] = TestClient(local).post("/", data=data).json()
    return result


def test_a_model_validator_error_is_a_form_error_under_all() -> None:
    result = bind(PasswordForm, {"password": "correct horse", "confirm": "battery"})

    assert result["errors"] == {"__all__": ["The passwords do not match."]}


def test_a_field_validator_error_shows_its_own_message() -> None:
    result = bind(PasswordForm, {"password": "password", "confirm": "password"})

    assert result["errors"] == {"password": ["'password' is too common."]}


class TerseForm(SignupForm):
    error_messages: ClassVar[dict[str, str]] = {
        "missing": "Required.",
        "string_too_short": "Enter at least {min_length} characters.",
    }


def test_error_messages_of_a_subclass_merge_over_the_defaults() -> None:
    result = bind(TerseForm, {"name": "A", "age": "x"})

    assert result["errors"] == {
        "name": ["Enter at least 2 characters."],
        "email": ["Required."],
        "age": ["Enter a whole number."],
    }


def test_an_error_message_naming_missing_context_is_a_setup_error() -> None:
    class BadMessages(Form):
        error_messages: ClassVar[dict[str, str]] = {"missing": "Enter {length} characters."}

        title: str

    local = Carboy()

    @local.post("/")
    async def handler(request: Request) -> dict[str, Any]:
        return snapshot(await BadMessages.from_request(request))

    with pytest.raises(ImproperlyConfigured) as caught:
        TestClient(local).post("/", data={"csrf_token": "t"})

    assert str(caught.value) == (
        "BadMessages.error_messages['missing'] is 'Enter {length} characters.', which cannot "
        "be filled in (KeyError: 'length'): a 'missing' error has nothing. Name only those "
        "in braces, and double a brace meant literally."
    )


def test_add_error_makes_the_form_invalid() -> None:
    local = Carboy()

    @local.post("/")
    async def handler(request: Request) -> dict[str, Any]:
        form = await SignupForm.from_request(request)
        form.add_error("email", "This email is taken.")
        form.add_error(None, "Sign-ups are closed today.")
        with pytest.raises(RuntimeError) as caught:
            _ = form.data
        return {**snapshot(form), "message": str(caught.value)}

    result = TestClient(local).post("/", data=VALID).json()

    assert result["is_valid"] is False
    assert result["errors"] == {
        "email": ["This email is taken."],
        "__all__": ["Sign-ups are closed today."],
    }
    assert result["message"] == (
        "SignupForm has no data: it is not valid, or was never submitted. Check "
        "form.is_valid first, and show the form with its errors when it is false."
    )


def test_add_error_to_an_unknown_field_is_refused() -> None:
    form = SignupForm.blank(make_request(app))

    with pytest.raises(KeyError) as caught:
        form.add_error("emial", "Taken.")

    assert caught.value.args[0] == (
        "SignupForm has no field 'emial'. Its fields are: name, email, age, plan, color, "
        "bio, accept_terms, avatar, birthday."
    )


def test_a_blank_form_shows_defaults_and_initial_values_and_is_not_valid() -> None:
    form = SignupForm.blank(
        make_request(app), initial={"name": "Ada", "color": Color.RED, "accept_terms": True}
    )

    assert form.is_valid is False
    assert form.errors == {}
    assert form.values == {
        "name": "Ada",
        "plan": "free",
        "color": "red",
        "bio": "",
        "accept_terms": "on",
    }


def test_initial_naming_an_unknown_field_is_refused() -> None:
    with pytest.raises(KeyError) as caught:
        SignupForm.blank(make_request(app), initial={"nmae": "Ada"})

    assert caught.value.args[0] == (
        "SignupForm has no field 'nmae', given in initial. Its fields are: name, email, age, "
        "plan, color, bio, accept_terms, avatar, birthday."
    )


def test_the_form_class_is_a_json_body_model_too() -> None:
    payload = {"name": "Ada", "email": "ada@example.com", "age": 36, "accept_terms": True}

    response = client.post("/api/signup", json=payload)

    assert response.status_code == 200
    assert response.json() == {
        **payload,
        "plan": "free",
        "color": None,
        "bio": "",
        "birthday": None,
    }


def test_a_json_body_of_the_form_class_is_validated_as_json() -> None:
    response = client.post("/api/signup", json={"name": "A", "email": "a@b.c", "age": 36})

    assert response.status_code == 422
    assert [error["location"] for error in response.json()["errors"]] == [
        "body.name",
        "body.accept_terms",
    ]


def test_the_openapi_document_describes_the_form_class() -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]["SignupForm"]

    assert schema["required"] == ["name", "email", "age", "accept_terms"]
    assert schema["properties"]["bio"] == {"default": "", "title": "Bio", "type": "string"}


def test_choices_become_their_literal_values_and_enum_members() -> None:
    class Order(Form):
        size: Literal[1, 2, 3]
        colors: list[Color] = Field(default_factory=list)
        extras: list[Literal["cheese", "olives"]] = Field(default_factory=list)

    seen: list[Order] = []
    local = Carboy()

    @local.post("/")
    async def handler(request: Request) -> str:
        seen.append((await Order.from_request(request)).data)
        return "ok"

    TestClient(local).post(
        "/", data={"size": "2", "colors": ["red", "dark-blue"], "extras": ["olives"]}
    )

    assert seen == [Order(size=2, colors=[Color.RED, Color.DARK_BLUE], extras=["olives"])]


def test_a_multiple_choice_keeps_the_list_typed_in_values() -> None:
    class Order(Form):
        extras: list[Literal["cheese", "olives"]]

    result = bind(Order, {"extras": ["cheese", "anchovies"]})

    assert result["values"] == {"extras": ["cheese", "anchovies"]}
    assert result["errors"] == {"extras": ["Select a valid choice."]}


def test_a_multiple_choice_with_nothing_chosen_is_required() -> None:
    class Order(Form):
        extras: list[Literal["cheese", "olives"]]

    result = bind(Order, {"csrf_token": "t"})

    assert result["errors"] == {"extras": ["This field is required."]}


def test_an_aliased_field_is_read_by_its_alias_and_reported_by_its_name() -> None:
    class Search(Form):
        query: str = Field(alias="q", min_length=3)

    result = bind(Search, {"q": "ab"})

    assert result["errors"] == {"query": ["String should have at least 3 characters"]}
    assert result["values"] == {"query": "ab"}


def test_a_field_no_input_can_hold_is_a_setup_error_at_first_use() -> None:
    class Address(BaseModel):
        city: str

    class Profile(Form):
        address: Address

    with pytest.raises(ImproperlyConfigured) as caught:
        Profile.blank(make_request(app))

    assert str(caught.value) == (
        "Profile.address is a Address, which no HTML input holds. Give it a widget, as in "
        "Annotated[..., HiddenInput()], or declare it in another model."
    )


def test_a_widget_lets_any_type_into_a_form() -> None:
    class Tagged(Form):
        tags: Annotated[list[str], Select(choices=[("a", "A"), ("b", "B")])] = Field(
            default_factory=list
        )
        token: Annotated[str, HiddenInput()]

    result = bind(Tagged, {"tags": ["a", "b"], "token": "t"})

    assert result["data"] == {"tags": ["a", "b"], "token": "t"}


def test_an_upload_list_takes_every_file() -> None:
    class Gallery(Form):
        photos: list[UploadFile]

    local = Carboy()

    @local.post("/")
    async def handler(request: Request) -> list[str | None]:
        form = await Gallery.from_request(request)
        return [photo.filename for photo in form.data.photos]

    response = TestClient(local).post(
        "/", files=[("photos", ("a.png", b"1")), ("photos", ("b.png", b"2"))]
    )

    assert response.json() == ["a.png", "b.png"]
