from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from carboy import Carboy, Router
from carboy.config import Settings
from carboy.exceptions import ImproperlyConfigured
from carboy.routing import Mount
from carboy.static import (
    IMMUTABLE,
    REVALIDATE,
    add_static_package,
    collect_static,
    mount_static,
    static_url,
)
from carboy.staticfiles import StaticFiles
from carboy.testing import TestClient

BATTERY = "carboy_test_static_battery"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder of the app under test."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def battery(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An installed package with a static folder, as a battery ships one."""
    site = tmp_path / "site-packages"
    package = site / BATTERY
    write(package / "__init__.py", "")
    (package / "static").mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield package
    for name in list(sys.modules):
        if name == BATTERY or name.startswith(BATTERY + "."):
            del sys.modules[name]


class Battery:
    """An extension that brings the static files of ``carboy_test_static_battery``."""

    name = "battery"
    requires: tuple[str, ...] = ()

    def init_app(self, app: Carboy) -> None:
        add_static_package(app, BATTERY)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def app_with(**settings: Any) -> Carboy:
    return Carboy(settings=Settings(**settings))


def write_manifest(root: Path, paths: dict[str, str]) -> None:
    write(root / "staticfiles.json", json.dumps({"version": 1, "paths": paths}))


def sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def mounts(app: Carboy) -> list[Mount]:
    return [item for item in app.routes if isinstance(item, Mount)]


# static_url -------------------------------------------------------------------


def test_static_url_joins_the_setting_and_the_path(project: Path) -> None:
    app = app_with(static_url="/assets/")

    url = static_url(app, "/img/a b.png")

    assert url == "/assets/img/a%20b.png"


def test_static_url_may_name_another_host(project: Path) -> None:
    app = app_with(static_url="https://cdn.example.com/site")

    url = static_url(app, "css/site.css")

    assert url == "https://cdn.example.com/site/css/site.css"


def test_static_url_without_a_manifest_is_the_plain_path(project: Path) -> None:
    (project / "collected").mkdir()
    app = app_with(static_root="collected")

    url = static_url(app, "css/site.css")

    assert url == "/static/css/site.css"


def test_static_url_with_a_manifest_names_the_hashed_file(project: Path) -> None:
    write_manifest(project / "collected", {"css/site.css": "css/site.0123456789ab.css"})
    app = app_with(static_root="collected")

    url = static_url(app, "css/site.css")

    assert url == "/static/css/site.0123456789ab.css"


def test_static_url_ignores_the_manifest_in_debug(project: Path) -> None:
    write_manifest(project / "collected", {"css/site.css": "css/site.0123456789ab.css"})
    app = app_with(static_root="collected", debug=True)

    urls = [static_url(app, "css/site.css"), static_url(app, "css/new.css")]

    assert urls == ["/static/css/site.css", "/static/css/new.css"]


def test_static_url_of_a_path_missing_from_the_manifest_says_to_collect_again(
    project: Path,
) -> None:
    write_manifest(project / "collected", {"css/site.css": "css/site.0123456789ab.css"})
    app = app_with(static_root="collected")

    with pytest.raises(ImproperlyConfigured) as caught:
        static_url(app, "css/new.css")

    assert str(caught.value) == (
        f"The static file 'css/new.css' is not in the manifest "
        f"{project / 'collected' / 'staticfiles.json'}: it was added after the last "
        "collectstatic, or its path is wrong. Run `carboy collectstatic`, or fix the path."
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "it is not valid JSON"),
        ('{"css/site.css": "css/site.0123456789ab.css"}', "it lacks the map of paths"),
        ('{"paths": {"a.css": 1}}', "it lacks the map of paths"),
        ("[]", "it lacks the map of paths"),
    ],
)
def test_a_manifest_that_cannot_be_read_says_to_collect_again(
    project: Path, content: str, problem: str
) -> None:
    write(project / "collected" / "staticfiles.json", content)
    app = app_with(static_root="collected")

    with pytest.raises(ImproperlyConfigured) as caught:
        static_url(app, "css/site.css")

    if problem == "it lacks the map of paths":
        problem += " carboy collectstatic writes"
    assert str(caught.value) == (
        f"The static manifest {project / 'collected' / 'staticfiles.json'} cannot be read: "
        f"{problem}. Run `carboy collectstatic` to write it again."
    )


# Serving: development -----------------------------------------------------------


def test_static_files_are_served_from_the_app_then_routers_then_batteries(
    project: Path, battery: Path
) -> None:
    for folder, source in [
        (project / "static", "app"),
        (project / "blog_static", "router"),
        (battery / "static", "battery"),
    ]:
        for name in ("everywhere.css", "router_and_battery.css", "battery_only.css"):
            write(folder / name, source)
    (project / "static" / "router_and_battery.css").unlink()
    (project / "static" / "battery_only.css").unlink()
    (project / "blog_static" / "battery_only.css").unlink()
    app = Carboy(extensions=[Battery()], settings=Settings())
    app.include_router(Router(name="blog", static_folder="blog_static"))
    mount_static(app)
    client = TestClient(app)

    served = [
        client.get(f"/static/{name}").text
        for name in ("everywhere.css", "router_and_battery.css", "battery_only.css")
    ]

    assert served == ["app", "router", "battery"]
    assert client.get("/static/none.css").status_code == 404


def test_static_files_are_revalidated_with_their_etag_in_development(project: Path) -> None:
    write(project / "static" / "css" / "site.css", "body {}")
    app = app_with()
    mount_static(app)
    client = TestClient(app)

    first = client.get("/static/css/site.css")
    second = client.get("/static/css/site.css", headers={"if-none-match": first.headers["etag"]})

    assert first.status_code == 200
    assert first.headers["cache-control"] == "no-cache"
    assert first.headers["content-type"] == "text/css; charset=utf-8"
    assert second.status_code == 304
    assert second.headers["cache-control"] == "no-cache"


def test_missing_static_folders_are_skipped(project: Path) -> None:
    write(project / "assets" / "app.js", "export {};")
    app = app_with(static_dirs=["missing", "assets"], static_url="/files/")
    mount_static(app)

    response = TestClient(app).get("/files/app.js")

    assert response.text == "export {};"


def test_mount_static_mounts_nothing_without_a_static_folder(project: Path) -> None:
    app = app_with()

    mount_static(app)

    assert mounts(app) == []


def test_mount_static_twice_mounts_once(project: Path) -> None:
    (project / "static").mkdir()
    app = app_with()

    mount_static(app)
    mount_static(app)

    assert [mount.path for mount in mounts(app)] == ["/static"]


def test_mount_static_keeps_the_apps_own_mount_at_the_static_url(project: Path) -> None:
    write(project / "static" / "a.txt", "settings' folder")
    write(project / "mine" / "a.txt", "own mount")
    app = app_with()
    app.mount("/static", StaticFiles(directory="mine"))

    mount_static(app)

    assert len(mounts(app)) == 1
    assert TestClient(app).get("/static/a.txt").text == "own mount"


def test_mount_static_mounts_nothing_when_another_host_serves_the_files(project: Path) -> None:
    (project / "static").mkdir()
    app = app_with(static_url="https://cdn.example.com/static")

    mount_static(app)

    assert mounts(app) == []


def test_mount_static_refuses_a_static_url_of_the_root(project: Path) -> None:
    (project / "static").mkdir()
    app = app_with(static_url="/")

    with pytest.raises(ImproperlyConfigured) as caught:
        mount_static(app)

    assert str(caught.value) == (
        "The static_url setting is '/', so static files would be looked up before every "
        "route. Set CARBOY_STATIC_URL to a path of their own, such as /static."
    )


# Serving: production --------------------------------------------------------------


def test_hashed_files_are_served_from_static_root_as_immutable(project: Path) -> None:
    write(project / "static" / "source_only.css", "not collected")
    write(project / "collected" / "css" / "site.0123456789ab.css", "hashed")
    write(project / "collected" / "css" / "site.css", "plain copy")
    write_manifest(project / "collected", {"css/site.css": "css/site.0123456789ab.css"})
    app = app_with(static_root="collected")
    mount_static(app)
    client = TestClient(app)

    hashed = client.get("/static/css/site.0123456789ab.css")
    plain = client.get("/static/css/site.css")
    source_only = client.get("/static/source_only.css")

    assert (hashed.status_code, hashed.text) == (200, "hashed")
    assert hashed.headers["cache-control"] == IMMUTABLE == "public, max-age=31536000, immutable"
    assert (plain.status_code, plain.text) == (200, "plain copy")
    assert plain.headers["cache-control"] == REVALIDATE == "no-cache"
    assert source_only.status_code == 404


def test_debug_serves_the_static_folders_even_with_a_manifest(project: Path) -> None:
    write(project / "static" / "css" / "site.css", "edited")
    write(project / "collected" / "css" / "site.css", "collected")
    write_manifest(project / "collected", {"css/site.css": "css/site.0123456789ab.css"})
    app = app_with(static_root="collected", debug=True)
    mount_static(app)

    response = TestClient(app).get("/static/css/site.css")

    assert response.text == "edited"
    assert response.headers["cache-control"] == "no-cache"


def test_collected_files_are_served_under_the_urls_static_url_gives(project: Path) -> None:
    write(project / "static" / "js" / "app.js", "console.log(1);")
    app = app_with(static_root="collected")
    collect_static(app)
    mount_static(app)

    url = static_url(app, "js/app.js")
    response = TestClient(app).get(url)

    assert url == f"/static/js/app.{sha12('console.log(1);')}.js"
    assert response.text == "console.log(1);"
    assert response.headers["cache-control"] == IMMUTABLE


# add_static_package -------------------------------------------------------------


def test_a_static_package_added_after_mounting_is_refused(project: Path, battery: Path) -> None:
    (project / "static").mkdir()
    app = app_with()
    mount_static(app)

    with pytest.raises(ImproperlyConfigured) as caught:
        add_static_package(app, BATTERY)

    assert str(caught.value) == (
        f"Cannot add the static folder 'static' of the package '{BATTERY}': the app's static "
        "files were mounted when it started. Call add_static_package() in an extension's "
        "init_app(), before the app serves."
    )


def test_adding_a_missing_static_folder_of_a_package_is_refused(
    project: Path, battery: Path
) -> None:
    app = app_with()

    with pytest.raises(ImproperlyConfigured) as caught:
        add_static_package(app, BATTERY, "assets")

    assert str(caught.value) == (
        f"The package '{BATTERY}' has no static folder 'assets'. Create "
        f"{BATTERY}/assets/ in it, or pass folder= its actual name."
    )


def test_a_static_package_added_twice_is_collected_once(project: Path, battery: Path) -> None:
    write(battery / "static" / "battery.css", "battery")
    app = Carboy(extensions=[Battery()], settings=Settings(static_root="collected"))
    add_static_package(app, BATTERY)

    count = collect_static(app)

    assert count == 1


# collect_static ---------------------------------------------------------------


def test_collect_static_copies_files_hashed_and_plain_and_writes_the_manifest(
    project: Path, battery: Path
) -> None:
    write(project / "static" / "css" / "site.css", "app css")
    write(project / "static" / "vendor" / "lib.min.js", "lib")
    write(project / "static" / "LICENSE", "MIT")
    write(project / "static" / ".DS_Store", "skipped")
    write(project / "static" / "css" / "site.css~", "skipped")
    write(project / "static" / ".git" / "config", "skipped")
    write(project / "blog_static" / "css" / "site.css", "shadowed by the app's")
    write(project / "blog_static" / "blog" / "post.css", "router css")
    write(battery / "static" / "carboy" / "battery" / "admin.css", "battery css")
    app = Carboy(extensions=[Battery()], settings=Settings(static_root="collected"))
    app.include_router(Router(static_folder="blog_static"))

    count = collect_static(app)

    collected = project / "collected"
    expected = {
        "LICENSE": f"LICENSE.{sha12('MIT')}",
        "blog/post.css": f"blog/post.{sha12('router css')}.css",
        "carboy/battery/admin.css": f"carboy/battery/admin.{sha12('battery css')}.css",
        "css/site.css": f"css/site.{sha12('app css')}.css",
        "vendor/lib.min.js": f"vendor/lib.min.{sha12('lib')}.js",
    }
    assert count == 5
    assert json.loads((collected / "staticfiles.json").read_text()) == {
        "version": 1,
        "paths": expected,
    }
    files = sorted(
        path.relative_to(collected).as_posix() for path in collected.rglob("*") if path.is_file()
    )
    assert files == sorted([*expected, *expected.values(), "staticfiles.json"])
    assert (collected / "css" / "site.css").read_text() == "app css"
    assert (collected / expected["css/site.css"]).read_text() == "app css"


def test_collect_static_keeps_files_of_earlier_collections(project: Path) -> None:
    site = project / "static" / "site.css"
    write(site, "v1")
    app = app_with(static_root="collected")
    collect_static(app)
    write(site, "v2")

    collect_static(app)

    collected = project / "collected"
    assert (collected / f"site.{sha12('v1')}.css").read_text() == "v1"
    assert (collected / f"site.{sha12('v2')}.css").read_text() == "v2"
    assert (collected / "site.css").read_text() == "v2"


def test_collect_static_without_static_files_writes_an_empty_manifest(project: Path) -> None:
    app = app_with(static_root="collected")

    count = collect_static(app)

    assert count == 0
    assert json.loads((project / "collected" / "staticfiles.json").read_text()) == {
        "version": 1,
        "paths": {},
    }


def test_collect_static_without_static_root_says_to_set_it(project: Path) -> None:
    write(project / "static" / "site.css", "css")
    app = app_with()

    with pytest.raises(ImproperlyConfigured) as caught:
        collect_static(app)

    assert str(caught.value) == (
        "The static_root setting is not set, so there is no folder to collect static files "
        "into. Set CARBOY_STATIC_ROOT to one, such as CARBOY_STATIC_ROOT=/srv/site/static."
    )


def test_collect_static_refuses_a_static_root_inside_a_static_folder(project: Path) -> None:
    write(project / "static" / "site.css", "css")
    app = app_with(static_root="static/collected")

    with pytest.raises(ImproperlyConfigured) as caught:
        collect_static(app)

    assert str(caught.value) == (
        f"The static_root {project / 'static' / 'collected'} is inside the static folder "
        f"{project / 'static'}, so collecting would copy the collected files again. Set "
        "CARBOY_STATIC_ROOT to a folder outside every static folder."
    )
