"""``Admin``: registration, what it needs, and what it serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from carboy import Carboy
from carboy.admin import Admin, ModelAdmin
from carboy.auth import Auth
from carboy.config import Settings
from carboy.db import Database
from carboy.exceptions import ImproperlyConfigured
from carboy.testing import TestClient

from ._models import AdmAuthor, AdmPost, AdmTag
from .conftest import KEY, MakeSite


def test_register_with_the_model_alone_uses_the_default_options() -> None:
    admin = Admin()

    admin.register(AdmTag)

    options = admin.model_admin("adm_tag")
    assert type(options) is ModelAdmin
    assert options is not None and options.model is AdmTag


def test_register_as_a_class_decorator_uses_the_decorated_options() -> None:
    admin = Admin()

    @admin.register(AdmPost)
    class PostAdmin(ModelAdmin):
        search_fields = ("title",)

    assert type(admin.model_admin("adm_post")) is PostAdmin
    assert list(admin.registry) == ["adm_post"]


def test_register_with_options_as_an_argument() -> None:
    class AuthorAdmin(ModelAdmin):
        list_display = ("name",)

    admin = Admin()

    admin.register(AdmAuthor, AuthorAdmin)

    assert type(admin.model_admin("adm_author")) is AuthorAdmin


def test_registering_a_model_twice_is_refused() -> None:
    admin = Admin()
    admin.register(AdmTag)

    with pytest.raises(ImproperlyConfigured) as caught:
        admin.register(AdmTag)

    assert str(caught.value) == (
        "The model AdmTag is registered with the admin twice. Register each model once."
    )


def test_registering_what_is_not_a_model_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        Admin().register(int)

    assert str(caught.value) == (
        "admin.register() got <class 'int'>, which is not a mapped model. Register a subclass "
        "of carboy.db.Model that has a table."
    )


def test_options_that_are_not_a_model_admin_are_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        Admin().register(AdmTag, object)  # type: ignore[arg-type]

    assert str(caught.value) == (
        "admin.register(AdmTag, <class 'object'>) needs a subclass of carboy.admin.ModelAdmin "
        "as its options."
    )


def test_registering_after_the_app_started_is_refused(make_site: MakeSite) -> None:
    site = make_site({AdmPost: None})

    with pytest.raises(ImproperlyConfigured) as caught:
        site.admin.register(AdmTag)

    assert str(caught.value) == (
        "Cannot register AdmTag with the admin: the app has started serving. Register models "
        "before it starts, next to the Admin()."
    )


def test_a_prefix_ending_with_a_slash_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        Admin(prefix="/admin/")

    assert str(caught.value) == (
        "Admin(prefix='/admin/') must start with '/' and not end with one, such as '/admin'."
    )


def test_the_admin_requires_the_auth_battery() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        Carboy(extensions=[Database("sqlite://"), Admin()])

    assert str(caught.value) == (
        "The extension 'admin' requires 'auth', which is not installed. Add it to "
        "Carboy(extensions=[...]) before 'admin'."
    )


def test_the_admin_declares_the_migrations_of_its_history() -> None:
    assert Admin.migrations.branch == "admin"
    assert Admin.migrations.tables == frozenset({"admin_log_entry"})


def test_url_quotes_each_part() -> None:
    admin = Admin(prefix="/staff")

    assert admin.url() == "/staff/"
    assert admin.url("adm_post", "a/b c") == "/staff/adm_post/a%2Fb%20c/"


def test_the_stylesheet_is_served_by_the_app(make_site: MakeSite) -> None:
    site = make_site({AdmPost: None})

    response = site.client.get("/static/carboy/admin/admin.css")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert ".results" in response.text


def test_an_app_overrides_an_admin_template(tmp_path: Path) -> None:
    folder = tmp_path / "carboy" / "admin"
    folder.mkdir(parents=True)
    (folder / "login.html").write_text("<p>Our own sign-in page</p>")
    app = Carboy(
        extensions=[Database("sqlite://"), Auth(prefix=None), Admin()],
        settings=Settings(secret_key=KEY, template_dirs=[str(tmp_path)]),
    )

    with TestClient(app) as client:
        response = client.get("/admin/login")

    assert response.status_code == 200
    assert response.text == "<p>Our own sign-in page</p>"
