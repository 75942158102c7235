from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest

from carboy import Carboy, Request, Router
from carboy.config import Settings
from carboy.exceptions import ImproperlyConfigured
from carboy.responses import HTMLResponse
from carboy.templating import Templates, render, templates_for
from carboy.testing import TestClient

BATTERY = "carboy_test_battery"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder of the app under test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def battery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed package with a templates folder, as a battery ships one."""
    site = tmp_path / "site-packages"
    package = site / BATTERY
    write(package / "__init__.py", "")
    (package / "templates").mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield package
    for name in list(sys.modules):
        if name == BATTERY or name.startswith(BATTERY + "."):
            del sys.modules[name]


class Battery:
    """An extension that brings the templates of ``carboy_test_battery``."""

    name = "battery"
    requires: tuple[str, ...] = ()

    def init_app(self, app: Carboy) -> None:
        templates_for(app).add_package_folder(BATTERY)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def page_app(name: str, context: dict[str, Any] | None = None, **settings: Any) -> Carboy:
    """An app answering GET / with the template ``name``."""
    app = Carboy(settings=Settings(**settings))

    @app.get("/")
    def page(request: Request) -> HTMLResponse:
        return render(request, name, context)

    return app


# Autoescaping ---------------------------------------------------------------


def test_render_escapes_markup_in_variables(project: Path) -> None:
    write(project / "templates" / "comment.html", "<p>{{ comment }}</p>")
    app = page_app("comment.html", {"comment": "<script>alert(1)</script>"})

    response = TestClient(app).get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"


@pytest.mark.parametrize("name", ["note.txt", "page.jinja", "mail", "widget.j2"])
def test_render_escapes_markup_whatever_the_template_name_ends_with(
    project: Path, name: str
) -> None:
    write(project / "templates" / name, '<a title="{{ title }}">{{ title }}</a>')
    app = page_app(name, {"title": '"><img src=x onerror=alert(1)>'})

    response = TestClient(app).get("/")

    assert response.text == (
        '<a title="&#34;&gt;&lt;img src=x onerror=alert(1)&gt;">'
        "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</a>"
    )


def test_the_safe_filter_lets_markup_through(project: Path) -> None:
    write(project / "templates" / "trusted.html", "{{ html|safe }}")
    app = page_app("trusted.html", {"html": "<em>mine</em>"})

    response = TestClient(app).get("/")

    assert response.text == "<em>mine</em>"


def test_an_undefined_variable_renders_as_nothing(project: Path) -> None:
    write(project / "templates" / "greeting.html", "Hello, {{ name }}!")
    app = page_app("greeting.html")

    response = TestClient(app).get("/")

    assert response.text == "Hello, !"


# The search path ------------------------------------------------------------


def test_the_app_overrides_routers_which_override_batteries(project: Path, battery: Path) -> None:
    for folder, source in [
        (project / "templates", "app"),
        (project / "blog_templates", "router"),
        (battery / "templates", "battery"),
    ]:
        for name in ("everywhere.html", "router_and_battery.html", "battery_only.html"):
            write(folder / name, source)
    (project / "templates" / "router_and_battery.html").unlink()
    (project / "templates" / "battery_only.html").unlink()
    (project / "blog_templates" / "battery_only.html").unlink()
    app = Carboy(extensions=[Battery()], settings=Settings())
    app.include_router(Router(name="blog", template_folder="blog_templates"))
    templates = templates_for(app)

    rendered = [
        templates.render_to_string(name)
        for name in ("everywhere.html", "router_and_battery.html", "battery_only.html")
    ]

    assert rendered == ["app", "router", "battery"]


def test_an_app_template_replaces_the_base_a_battery_template_extends(
    project: Path, battery: Path
) -> None:
    write(
        battery / "templates" / "carboy" / "battery" / "base.html",
        "<title>Battery</title>{% block content %}{% endblock %}",
    )
    write(
        battery / "templates" / "carboy" / "battery" / "index.html",
        '{% extends "carboy/battery/base.html" %}{% block content %}Index{% endblock %}',
    )
    write(
        project / "templates" / "carboy" / "battery" / "base.html",
        "<title>My site</title><main>{% block content %}{% endblock %}</main>",
    )
    app = Carboy(extensions=[Battery()], settings=Settings())

    @app.get("/")
    def index(request: Request) -> HTMLResponse:
        return render(request, "carboy/battery/index.html")

    response = TestClient(app).get("/")

    assert response.text == "<title>My site</title><main>Index</main>"


def test_routers_are_searched_in_the_order_they_were_included(project: Path) -> None:
    write(project / "first" / "shared.html", "first")
    write(project / "second" / "shared.html", "second")
    write(project / "nested" / "shared.html", "nested")
    app = Carboy(settings=Settings())
    parent = Router(name="parent", template_folder="first")
    parent.include_router(Router(name="child", template_folder="nested"))
    app.include_router(parent)
    app.include_router(Router(name="other", template_folder="second"))
    (project / "first" / "shared.html").unlink()

    rendered = templates_for(app).render_to_string("shared.html")

    assert rendered == "nested"


def test_app_folders_are_searched_in_the_order_of_the_setting(project: Path) -> None:
    write(project / "overrides" / "page.html", "override")
    write(project / "templates" / "page.html", "default")
    app = Carboy(settings=Settings(template_dirs=["overrides", "templates"]))

    rendered = templates_for(app).render_to_string("page.html")

    assert rendered == "override"


def test_a_router_folder_given_as_a_path_is_used(project: Path) -> None:
    write(project / "pkg" / "templates" / "router.html", "from the router")
    app = Carboy(settings=Settings())
    app.include_router(Router(template_folder=project / "pkg" / "templates"))

    rendered = templates_for(app).render_to_string("router.html")

    assert rendered == "from the router"


def test_a_missing_template_names_every_folder_searched_in_order(
    project: Path, battery: Path
) -> None:
    (project / "templates").mkdir()
    (project / "blog").mkdir()
    app = Carboy(extensions=[Battery()], settings=Settings(template_dirs=["templates", "absent"]))
    app.include_router(Router(name="blog", template_folder="blog"))
    app.include_router(Router(template_folder="gone"))

    @app.get("/")
    def page(request: Request) -> HTMLResponse:
        return render(request, "nowhere.html")

    with pytest.raises(jinja2.TemplateNotFound) as caught:
        TestClient(app).get("/")

    assert str(caught.value) == (
        "The template 'nowhere.html' is in none of the template folders, searched in this "
        f"order: {project / 'templates'}; {project / 'absent'} (missing); "
        f"{project / 'blog'} (router 'blog'); {project / 'gone'} (a router, missing); "
        f"{battery / 'templates'} (package '{BATTERY}'). "
        "Create it in one of them, or fix its name."
    )


def test_a_missing_template_included_by_another_names_the_folders_searched(
    project: Path,
) -> None:
    write(project / "templates" / "page.html", '{% include "parts/menu.html" %}')
    app = Carboy(settings=Settings())

    with pytest.raises(jinja2.TemplateNotFound) as caught:
        templates_for(app).render_to_string("page.html")

    assert str(caught.value) == (
        "The template 'parts/menu.html' is in none of the template folders, searched in "
        f"this order: {project / 'templates'}. Create it in one of them, or fix its name."
    )


def test_a_missing_template_of_an_app_without_template_folders_says_so(project: Path) -> None:
    app = Carboy(settings=Settings(template_dirs=[]))

    with pytest.raises(jinja2.TemplateNotFound) as caught:
        templates_for(app).get_template("page.html")

    assert str(caught.value) == (
        "The template 'page.html' cannot be found: the app has no template folders. "
        "List one in the template_dirs setting (CARBOY_TEMPLATE_DIRS)."
    )


def test_a_package_folder_added_after_the_first_template_load_is_refused(
    project: Path, battery: Path
) -> None:
    write(project / "templates" / "page.html", "page")
    app = Carboy(settings=Settings())
    templates = templates_for(app)
    templates.get_template("page.html")

    with pytest.raises(ImproperlyConfigured) as caught:
        templates.add_package_folder(BATTERY)

    assert str(caught.value) == (
        f"Cannot add the template folder 'templates' of the package '{BATTERY}': the "
        "template search path was fixed when the first template was loaded. Add package "
        "folders in an extension's init_app(), before the app serves."
    )


def test_a_package_folder_added_twice_is_searched_once(project: Path, battery: Path) -> None:
    app = Carboy(extensions=[Battery()], settings=Settings(template_dirs=[]))
    templates_for(app).add_package_folder(BATTERY)

    with pytest.raises(jinja2.TemplateNotFound) as caught:
        templates_for(app).get_template("nowhere.html")

    assert str(caught.value).count(str(battery / "templates")) == 1


def test_adding_the_folder_of_a_package_that_is_not_installed_is_refused(project: Path) -> None:
    app = Carboy(settings=Settings())

    with pytest.raises(ImproperlyConfigured) as caught:
        templates_for(app).add_package_folder("carboy_no_such_package")

    assert str(caught.value) == (
        "The package 'carboy_no_such_package' is not installed, so its template folder "
        "'templates' cannot be added. Install it, or fix the package name."
    )


def test_adding_a_missing_folder_of_a_package_is_refused(project: Path, battery: Path) -> None:
    app = Carboy(settings=Settings())

    with pytest.raises(ImproperlyConfigured) as caught:
        templates_for(app).add_package_folder(BATTERY, "jinja")

    assert str(caught.value) == (
        f"The package '{BATTERY}' has no template folder 'jinja'. Create "
        f"{BATTERY}/jinja/ in it, or pass folder= its actual name."
    )


def test_adding_the_folder_of_a_module_is_refused(project: Path) -> None:
    app = Carboy(settings=Settings())

    with pytest.raises(ImproperlyConfigured) as caught:
        templates_for(app).add_package_folder("json.decoder")

    assert str(caught.value) == (
        "'json.decoder' is a module, not a package, so it has no template folder "
        "'templates'. Pass the name of the package that holds the folder."
    )


def test_templates_for_keeps_one_instance_per_app() -> None:
    app, other = Carboy(), Carboy()

    templates = templates_for(app)

    assert isinstance(templates, Templates)
    assert templates_for(app) is templates
    assert templates_for(other) is not templates


def test_templates_are_reloaded_when_changed_in_debug(project: Path) -> None:
    template = project / "templates" / "page.html"
    write(template, "old")
    templates = templates_for(Carboy(settings=Settings(debug=True)))
    templates.render_to_string("page.html")
    write(template, "new")
    os.utime(template, (1, 2_000_000_000))

    rendered = templates.render_to_string("page.html")

    assert rendered == "new"


def test_templates_are_compiled_once_when_debug_is_off(project: Path) -> None:
    template = project / "templates" / "page.html"
    write(template, "old")
    templates = templates_for(Carboy(settings=Settings(debug=False)))
    templates.render_to_string("page.html")
    write(template, "new")
    os.utime(template, (1, 2_000_000_000))

    rendered = templates.render_to_string("page.html")

    assert rendered == "old"


# What every template sees -----------------------------------------------------


def test_url_for_in_a_template_gives_the_absolute_url_of_a_route(project: Path) -> None:
    write(
        project / "templates" / "links.html",
        "{{ url_for('article', slug='hello world') }} {{ url_for('blog:index') }}",
    )
    app = page_app("links.html")
    blog = Router(prefix="/blog", name="blog")

    @blog.get("/")
    def index() -> str:
        return "blog"

    @app.get("/articles/{slug}")
    def article(slug: str) -> str:
        return slug

    app.include_router(blog)

    response = TestClient(app).get("/")

    assert response.text == "http://testserver/articles/hello%20world http://testserver/blog"


def test_the_request_is_in_every_template(project: Path) -> None:
    write(project / "templates" / "where.html", "{{ request.method }} {{ request.url.path }}")
    app = page_app("where.html")

    response = TestClient(app).get("/")

    assert response.text == "GET /"


def test_static_in_a_template_gives_the_url_of_the_file(project: Path) -> None:
    write(project / "templates" / "head.html", '<link href="{{ static("css/site.css") }}">')
    app = page_app("head.html", static_url="/assets/")

    response = TestClient(app).get("/")

    assert response.text == '<link href="/assets/css/site.css">'


def test_static_in_a_template_gives_the_hashed_name_from_the_manifest(project: Path) -> None:
    write(project / "templates" / "head.html", '<script src="{{ static("app.js") }}"></script>')
    write(
        project / "collected" / "staticfiles.json",
        json.dumps({"version": 1, "paths": {"app.js": "app.0123456789ab.js"}}),
    )
    app = page_app("head.html", static_root="collected")

    response = TestClient(app).get("/")

    assert response.text == '<script src="/static/app.0123456789ab.js"></script>'


def test_csrf_token_csp_nonce_and_flashed_messages_come_from_their_modules(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str]] = []

    def csrf_token(request: Request) -> str:
        seen.append(("csrf_token", request.url.path))
        return "token-1"

    def csp_nonce(request: Request) -> str:
        seen.append(("csp_nonce", request.url.path))
        return "nonce-1"

    def get_flashed_messages(
        request: Request, with_categories: bool = False
    ) -> list[str] | list[tuple[str, str]]:
        seen.append(("get_flashed_messages", request.url.path))
        return [("info", "Saved.")] if with_categories else ["Saved."]

    monkeypatch.setattr("carboy.csrf.csrf_token", csrf_token)
    monkeypatch.setattr("carboy.middleware.security.csp_nonce", csp_nonce)
    monkeypatch.setattr("carboy.sessions.get_flashed_messages", get_flashed_messages)
    write(
        project / "templates" / "form.html",
        '<input name="csrf_token" value="{{ csrf_token() }}">'
        '<script nonce="{{ csp_nonce() }}"></script>'
        "{{ get_flashed_messages() }} {{ get_flashed_messages(with_categories=true) }}",
    )
    app = page_app("form.html")

    response = TestClient(app).get("/")

    assert response.text == (
        '<input name="csrf_token" value="token-1"><script nonce="nonce-1"></script>'
        "[&#39;Saved.&#39;] [(&#39;info&#39;, &#39;Saved.&#39;)]"
    )
    assert seen == [
        ("csrf_token", "/"),
        ("csp_nonce", "/"),
        ("get_flashed_messages", "/"),
        ("get_flashed_messages", "/"),
    ]


@pytest.mark.parametrize(
    ("call", "function", "module"),
    [
        ("csrf_token()", "csrf_token()", "carboy.csrf"),
        ("csp_nonce()", "csp_nonce()", "carboy.middleware.security"),
        ("get_flashed_messages()", "get_flashed_messages()", "carboy.sessions"),
    ],
)
def test_a_request_function_whose_module_cannot_be_imported_says_so(
    project: Path, monkeypatch: pytest.MonkeyPatch, call: str, function: str, module: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)
    write(project / "templates" / "form.html", "{{ " + call + " }}")
    app = page_app("form.html")

    with pytest.raises(ImproperlyConfigured) as caught:
        TestClient(app).get("/")

    assert str(caught.value) == (
        f"{function} in a template calls {module}, which failed to import (see the error "
        f"above). Install a carboy release that has {module}, or remove {function} from "
        "the template."
    )
    assert isinstance(caught.value.__cause__, ImportError)


def test_url_for_in_a_template_rendered_without_a_request_says_it_needs_one(
    project: Path,
) -> None:
    write(project / "templates" / "mail.txt", "{{ url_for('home') }}")
    templates = templates_for(Carboy(settings=Settings()))

    with pytest.raises(ImproperlyConfigured) as caught:
        templates.render_to_string("mail.txt")

    assert str(caught.value) == (
        "url_for() in the template 'mail.txt' needs the request, and the template was "
        "rendered without one. Render it with render(request, ...), or pass request= to "
        "render_to_string()."
    )


def test_static_works_in_a_template_rendered_without_a_request(project: Path) -> None:
    write(project / "templates" / "mail.html", '<img src="{{ static("logo.png") }}">')
    templates = templates_for(Carboy(settings=Settings()))

    rendered = templates.render_to_string("mail.html")

    assert rendered == '<img src="/static/logo.png">'


# render -------------------------------------------------------------------------


def test_render_sends_the_status_and_headers_given(project: Path) -> None:
    write(project / "templates" / "created.html", "Created {{ name }}")
    app = Carboy(settings=Settings())

    @app.post("/items")
    def create(request: Request) -> HTMLResponse:
        return render(
            request,
            "created.html",
            {"name": "box"},
            status_code=201,
            headers={"location": "/items/1", "hx-trigger": "created"},
        )

    response = TestClient(app).post("/items")

    assert response.status_code == 201
    assert response.headers["location"] == "/items/1"
    assert response.headers["hx-trigger"] == "created"
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "Created box"


def test_render_of_a_block_sends_only_that_block(project: Path) -> None:
    write(
        project / "templates" / "list.html",
        "<html><title>{% block title %}Items{% endblock %}</title>"
        "<ul>{% block items %}{% for item in items %}<li>{{ item }}</li>{% endfor %}"
        "{% endblock %}</ul></html>",
    )
    app = Carboy(settings=Settings())

    @app.get("/items")
    def items(request: Request) -> HTMLResponse:
        block = "items" if "hx-request" in request.headers else None
        return render(request, "list.html", {"items": ["a", "<b>"]}, block=block)

    client = TestClient(app)
    fragment = client.get("/items", headers={"hx-request": "true"})
    page = client.get("/items")

    assert fragment.text == "<li>a</li><li>&lt;b&gt;</li>"
    assert page.text == "<html><title>Items</title><ul><li>a</li><li>&lt;b&gt;</li></ul></html>"


def test_a_block_of_a_child_template_is_rendered_alone(project: Path) -> None:
    write(project / "templates" / "base.html", "<main>{% block content %}{% endblock %}</main>")
    write(
        project / "templates" / "page.html",
        '{% extends "base.html" %}{% block content %}{{ url_for("page") }}{% endblock %}',
    )
    app = Carboy(settings=Settings())

    @app.get("/page")
    def page(request: Request) -> HTMLResponse:
        return render(request, "page.html", block="content")

    response = TestClient(app).get("/page")

    assert response.text == "http://testserver/page"


def test_render_of_an_unknown_block_names_the_template_and_its_blocks(project: Path) -> None:
    write(
        project / "templates" / "page.html",
        "{% block title %}{% endblock %}{% block content %}{% endblock %}",
    )
    app = page_app("page.html")
    templates = templates_for(app)

    with pytest.raises(ImproperlyConfigured) as caught:
        templates.render_to_string("page.html", block="sidebar")

    assert str(caught.value) == (
        "The template 'page.html' has no block 'sidebar' of its own (its blocks: content, "
        "title). Define {% block sidebar %} in 'page.html', or fix the block name."
    )


def test_render_of_a_block_of_a_template_without_blocks_says_it_has_none(project: Path) -> None:
    write(project / "templates" / "plain.html", "plain")
    templates = templates_for(Carboy(settings=Settings()))

    with pytest.raises(ImproperlyConfigured) as caught:
        templates.render_to_string("plain.html", block="content")

    assert str(caught.value) == (
        "The template 'plain.html' has no block 'content' of its own (its blocks: none). "
        "Define {% block content %} in 'plain.html', or fix the block name."
    )


def test_an_error_inside_a_rendered_block_points_at_the_template_line(project: Path) -> None:
    write(
        project / "templates" / "broken.html",
        "{% block content %}\n\n{{ 1 // 0 }}{% endblock %}",
    )
    templates = templates_for(Carboy(settings=Settings()))

    with pytest.raises(ZeroDivisionError) as caught:
        templates.render_to_string("broken.html", block="content")

    frames = [(entry.path, entry.lineno + 1) for entry in caught.traceback]
    assert (project / "templates" / "broken.html", 3) in frames
