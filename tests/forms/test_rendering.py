"""The HTML of forms: each widget, errors, escaping, CSRF and overrides."""

from __future__ import annotations

import datetime
import enum
from decimal import Decimal
from typing import Annotated, Any, Literal

import jinja2
import pytest
from markupsafe import Markup
from pydantic import Field, SecretStr, field_validator

from carboy import Carboy, HTMLResponse, Request, UploadFile
from carboy.config import Settings
from carboy.forms import (
    AttrValue,
    BoundField,
    Form,
    HiddenInput,
    Input,
    PasswordInput,
    Select,
    Textarea,
    TextInput,
    Widget,
    html_attrs,
)
from carboy.testing import TestClient
from tests.forms._signup import VALID, SignupForm
from tests.forms.conftest import CSRF_TOKEN, make_request

app = Carboy()


def blank(form_class: type[Form], **initial: Any) -> Any:
    return form_class.blank(make_request(app), initial=initial)


class Size(enum.Enum):
    SMALL = 1
    EXTRA_LARGE = 2


class Everything(Form):
    title: str = Field(min_length=2, max_length=80)
    email: str
    password: SecretStr
    pin: Annotated[str, PasswordInput()] = ""
    count: int = Field(ge=1, le=10)
    positive: int = Field(gt=0, lt=100)
    price: float = Field(ge=0)
    amount: Decimal | None = None
    subscribe: bool = False
    plan: Literal["free", "pro"] = "free"
    size: Size
    toppings: list[Literal["cheese", "olives"]] = Field(default_factory=list)
    notes: Annotated[str, Textarea(rows=3)] = ""
    next_url: Annotated[str, HiddenInput()] = "/"
    starts: datetime.date = Field(ge=datetime.date(2024, 1, 1))
    meeting: datetime.datetime | None = None
    alarm: datetime.time | None = None
    photo: UploadFile | None = None
    photos: list[UploadFile] = Field(default_factory=list)


WIDGETS = {
    "title": '<input type="text" name="title" id="id_title" required minlength="2" '
    'maxlength="80" value="Hello">',
    "email": '<input type="email" name="email" id="id_email" required value="a@b.c">',
    "password": '<input type="password" name="password" id="id_password" required>',
    "pin": '<input type="password" name="pin" id="id_pin">',
    "count": '<input type="number" name="count" id="id_count" required min="1" max="10" value="3">',
    "positive": '<input type="number" name="positive" id="id_positive" required min="1" max="99">',
    "price": '<input type="number" name="price" id="id_price" required min="0" step="any" '
    'value="9.5">',
    "amount": '<input type="number" name="amount" id="id_amount" step="any">',
    "subscribe": '<input type="checkbox" name="subscribe" id="id_subscribe" checked>',
    "plan": '<select name="plan" id="id_plan"><option value="free">free</option>'
    '<option value="pro" selected>pro</option></select>',
    "size": '<select name="size" id="id_size" required><option value="">---------</option>'
    '<option value="1">Small</option><option value="2" selected>Extra large</option>'
    "</select>",
    "toppings": '<select name="toppings" id="id_toppings" multiple>'
    '<option value="cheese" selected>cheese</option>'
    '<option value="olives" selected>olives</option></select>',
    "notes": '<textarea name="notes" id="id_notes" rows="3">\nLine one</textarea>',
    "next_url": '<input type="hidden" name="next_url" id="id_next_url" value="/">',
    "starts": '<input type="date" name="starts" id="id_starts" required min="2024-01-01" '
    'value="2024-05-01">',
    "meeting": '<input type="datetime-local" name="meeting" id="id_meeting" '
    'value="2024-05-01T09:30:00">',
    "alarm": '<input type="time" name="alarm" id="id_alarm" value="07:15:00">',
    "photo": '<input type="file" name="photo" id="id_photo">',
    "photos": '<input type="file" name="photos" id="id_photos" multiple>',
}


@pytest.mark.parametrize("name", list(WIDGETS))
def test_each_field_type_gets_its_widget(name: str) -> None:
    form = blank(
        Everything,
        title="Hello",
        email="a@b.c",
        password=SecretStr("hunter22"),
        pin="1234",
        count=3,
        price=9.5,
        subscribe=True,
        plan="pro",
        size=Size.EXTRA_LARGE,
        toppings=["cheese", "olives"],
        notes="Line one",
        starts=datetime.date(2024, 5, 1),
        meeting=datetime.datetime(2024, 5, 1, 9, 30),
        alarm=datetime.time(7, 15),
    )

    assert form[name].widget() == WIDGETS[name]


def test_an_unchecked_box_and_an_optional_select_with_nothing_chosen() -> None:
    class Prefs(Form):
        subscribe: bool = False
        plan: Literal["free", "pro"] | None = None

    form = blank(Prefs)

    assert form["subscribe"].widget() == (
        '<input type="checkbox" name="subscribe" id="id_subscribe">'
    )
    assert form["plan"].widget() == (
        '<select name="plan" id="id_plan"><option value="">---------</option>'
        '<option value="free">free</option><option value="pro">pro</option></select>'
    )


def test_a_field_renders_label_widget_help_and_errors_in_a_div() -> None:
    class Profile(Form):
        name: str = Field(title="Your name", description="As on your passport.")
        agree: bool = False
        token: Annotated[str, HiddenInput()] = "t"

    form = blank(Profile)

    assert form["name"].render() == (
        '<div class="field"><label for="id_name">Your name</label>'
        '<input type="text" name="name" id="id_name" required '
        'aria-describedby="id_name-help">'
        '<p class="field-help" id="id_name-help">As on your passport.</p></div>'
    )
    assert form["agree"].render() == (
        '<div class="field"><input type="checkbox" name="agree" id="id_agree">'
        '<label for="id_agree">Agree</label></div>'
    )
    assert form["token"].render() == ('<input type="hidden" name="token" id="id_token" value="t">')


def test_the_whole_form_renders_the_csrf_input_then_each_field() -> None:
    class Login(Form):
        username: str
        remember: bool = False

    form = blank(Login)

    assert form.render() == (
        f'<input type="hidden" name="csrf_token" value="{CSRF_TOKEN}">\n'
        '<div class="field"><label for="id_username">Username</label>'
        '<input type="text" name="username" id="id_username" required></div>\n'
        '<div class="field"><input type="checkbox" name="remember" id="id_remember">'
        '<label for="id_remember">Remember</label></div>'
    )
    assert isinstance(form.render(), Markup)


def test_the_csrf_input_uses_the_field_name_setting() -> None:
    local = Carboy(settings=Settings(csrf_field_name="_csrf"))

    form = SignupForm.blank(make_request(local))

    assert form.csrf_input() == f'<input type="hidden" name="_csrf" value="{CSRF_TOKEN}">'


def test_no_csrf_input_when_csrf_is_off() -> None:
    local = Carboy(settings=Settings(csrf_enabled=False))

    form = SignupForm.blank(make_request(local))

    assert form.csrf_input() == ""
    assert "csrf" not in form.render()


def test_the_enctype_is_multipart_only_when_a_field_takes_files() -> None:
    class Comment(Form):
        text: str

    assert blank(SignupForm).enctype == "multipart/form-data"
    assert blank(Comment).enctype == "application/x-www-form-urlencoded"


# Errors and re-rendering, through a real app ------------------------------------------


page = Carboy()


@page.get("/signup")
async def signup_page(request: Request) -> HTMLResponse:
    form = SignupForm.blank(request, initial={"plan": "pro"})
    return HTMLResponse(form.render())


@page.post("/signup")
async def signup(request: Request) -> HTMLResponse:
    form = await SignupForm.from_request(request)
    if form.is_valid:
        return HTMLResponse("Welcome!")
    return HTMLResponse(
        f'<form method="post" enctype="{form.enctype}">{form.render()}</form>',
        status_code=422,
    )


client = TestClient(page)


def test_a_get_shows_the_blank_form_with_its_initial_choice() -> None:
    response = client.get("/signup")

    assert response.status_code == 200
    assert (
        '<select name="plan" id="id_plan"><option value="free">free</option>'
        '<option value="pro" selected>pro</option></select>'
    ) in response.text


def test_an_invalid_post_shows_what_was_typed_with_accessible_errors() -> None:
    response = client.post("/signup", data={**VALID, "name": "A", "age": "twelve", "plan": "gold"})

    assert response.status_code == 422
    assert response.text.startswith(
        '<form method="post" enctype="multipart/form-data">'
        f'<input type="hidden" name="csrf_token" value="{CSRF_TOKEN}">\n'
    )
    assert (
        '<div class="field"><label for="id_name">Your name</label>'
        '<input type="text" name="name" id="id_name" required minlength="2" maxlength="50" '
        'aria-invalid="true" aria-describedby="id_name-error" value="A">'
        '<p class="field-error" id="id_name-error">'
        "String should have at least 2 characters</p></div>"
    ) in response.text
    assert (
        '<input type="number" name="age" id="id_age" required min="13" max="130" '
        'aria-invalid="true" aria-describedby="id_age-error" value="twelve">'
        '<p class="field-error" id="id_age-error">Enter a whole number.</p>'
    ) in response.text
    assert (
        '<textarea name="bio" id="id_bio" rows="4">\nNotes on the engine.</textarea>'
    ) in response.text
    assert (
        '<input type="checkbox" name="accept_terms" id="id_accept_terms" checked>'
    ) in response.text
    assert (
        '<select name="color" id="id_color"><option value="">---------</option>'
        '<option value="red">Red</option>'
        '<option value="dark-blue" selected>Dark blue</option></select>'
    ) in response.text


def test_a_valid_post_goes_through() -> None:
    response = client.post("/signup", data=VALID)

    assert response.text == "Welcome!"


def test_several_errors_each_get_an_element_named_by_aria_describedby() -> None:
    form = blank(SignupForm, name="A")
    form.add_error("name", "Too short.")
    form.add_error("name", "Taken.")

    assert form["name"].widget() == (
        '<input type="text" name="name" id="id_name" required minlength="2" maxlength="50" '
        'aria-invalid="true" aria-describedby="id_name-error id_name-error-2" value="A">'
    )
    assert form["name"].errors() == (
        '<p class="field-error" id="id_name-error">Too short.</p>'
        '<p class="field-error" id="id_name-error-2">Taken.</p>'
    )


def test_form_errors_come_first() -> None:
    class Login(Form):
        username: str

    form = blank(Login)
    form.add_error(None, "Wrong username or password.")

    assert form.render().startswith(
        '<p class="form-error">Wrong username or password.</p>\n'
        '<input type="hidden" name="csrf_token"'
    )


# Escaping ----------------------------------------------------------------------------

HOSTILE = '"><script>alert(1)</script>'
ESCAPED = "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"


class Comment(Form):
    author: str = Field(title='Author <b>"name"</b>', max_length=80)
    body: Annotated[str, Textarea()] = ""
    mood: Literal["<happy>", "sad"] = "sad"

    @field_validator("author")
    @classmethod
    def known(cls, value: str) -> str:
        raise ValueError(f"No author called {value}.")


comments = Carboy()


@comments.post("/")
async def comment(request: Request) -> HTMLResponse:
    return HTMLResponse((await Comment.from_request(request)).render())


def test_typed_values_labels_choices_and_errors_are_escaped() -> None:
    response = TestClient(comments).post(
        "/", data={"author": HOSTILE, "body": f"</textarea>{HOSTILE}", "mood": "<happy>"}
    )

    assert "<script>" not in response.text
    assert (
        '<label for="id_author">Author &lt;b&gt;&#34;name&#34;&lt;/b&gt;</label>'
        f'<input type="text" name="author" id="id_author" required maxlength="80" '
        f'aria-invalid="true" aria-describedby="id_author-error" value="{ESCAPED}">'
        f'<p class="field-error" id="id_author-error">No author called {ESCAPED}.</p>'
    ) in response.text
    assert (
        f'<textarea name="body" id="id_body">\n&lt;/textarea&gt;{ESCAPED}</textarea>'
    ) in response.text
    assert '<option value="&lt;happy&gt;" selected>&lt;happy&gt;</option>' in response.text


def test_a_form_in_a_jinja_template_is_not_escaped_twice() -> None:
    environment = jinja2.Environment(autoescape=True)
    template = environment.from_string(
        '<form method="post" enctype="{{ form.enctype }}">{{ form["author"] }}</form>'
    )

    html = template.render(form=blank(Comment, author=HOSTILE))

    assert html == (
        '<form method="post" enctype="application/x-www-form-urlencoded">'
        '<div class="field"><label for="id_author">Author &lt;b&gt;&#34;name&#34;&lt;/b&gt;'
        '</label><input type="text" name="author" id="id_author" required maxlength="80" '
        f'value="{ESCAPED}"></div></form>'
    )


def test_an_attribute_name_html_does_not_allow_is_refused() -> None:
    with pytest.raises(ValueError) as caught:
        html_attrs({'onclick="x"': "y"})

    assert str(caught.value) == (
        "'onclick=\"x\"' is not a valid HTML attribute name: names cannot hold spaces, "
        "quotes, '>', '/' or '='."
    )


# Overriding widgets ------------------------------------------------------------------


class ColorInput(Input):
    input_type = "color"


class StarRating(Widget):
    def render(
        self, field: BoundField, value: str | list[str] | None, attrs: dict[str, AttrValue]
    ) -> Markup:
        stars = int(value or 0)
        return Markup("<span{}>{}</span>").format(html_attrs(attrs), "★" * stars)


class Review(Form):
    color: Annotated[str, ColorInput()] = "#ff0000"
    stars: Annotated[int, StarRating({"class": "stars"})] = 3
    summary: Annotated[str, TextInput(placeholder="One line", autocomplete="off")] = ""
    plan: Annotated[
        Literal["free", "pro"] | None,
        Select(choices=[("free", "Free plan"), ("pro", "Pro plan")], blank_label="Choose"),
    ] = None


def test_an_input_subclass_adds_an_input_type() -> None:
    assert blank(Review)["color"].widget() == (
        '<input type="color" name="color" id="id_color" value="#ff0000">'
    )


def test_a_widget_subclass_draws_its_own_html() -> None:
    assert blank(Review)["stars"].widget() == (
        '<span name="stars" id="id_stars" class="stars">★★★</span>'
    )


def test_widget_attributes_and_call_site_attributes_are_added() -> None:
    assert blank(Review)["summary"].widget({"class": "wide", "autocomplete": "on"}) == (
        '<input type="text" name="summary" id="id_summary" placeholder="One line" '
        'autocomplete="on" class="wide">'
    )


def test_a_select_can_list_its_own_choices_and_blank_label() -> None:
    assert blank(Review, plan="pro")["plan"].widget() == (
        '<select name="plan" id="id_plan"><option value="">Choose</option>'
        '<option value="free">Free plan</option>'
        '<option value="pro" selected>Pro plan</option></select>'
    )


def test_a_label_takes_extra_attributes() -> None:
    assert blank(Review)["summary"].label({"class": "visually-hidden"}) == (
        '<label for="id_summary" class="visually-hidden">Summary</label>'
    )


def test_a_widget_inside_an_optional_type_is_found() -> None:
    class Note(Form):
        text: Annotated[str, Textarea(rows=2)] | None = None

    assert (
        blank(Note)["text"].widget() == '<textarea name="text" id="id_text" rows="2">\n</textarea>'
    )
