"""The sign-up form the tests share: one field of each common kind."""

from __future__ import annotations

import datetime
import enum
from typing import Annotated, Literal

from pydantic import Field

from carboy import UploadFile
from carboy.forms import Form, Textarea


class Color(enum.Enum):
    RED = "red"
    DARK_BLUE = "dark-blue"


class SignupForm(Form):
    name: str = Field(min_length=2, max_length=50, title="Your name")
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", title="Email")
    age: int = Field(ge=13, le=130)
    plan: Literal["free", "pro"] = "free"
    color: Color | None = None
    bio: Annotated[str, Textarea(rows=4)] = ""
    accept_terms: bool
    avatar: UploadFile | None = None
    birthday: datetime.date | None = None


VALID = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "age": "36",
    "plan": "pro",
    "color": "dark-blue",
    "bio": "Notes on the engine.",
    "accept_terms": "on",
    "birthday": "1815-12-10",
}
