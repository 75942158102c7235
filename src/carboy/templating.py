"""Server-rendered pages: Jinja2 templates, one environment per app.

``render(request, "home.html", {"user": user})`` returns the page as an
``HTMLResponse``. Templates are looked up in this order, the first match
winning, so that an app overrides a router's or a battery's template by
having its own at the same path (``templates/carboy/admin/base.html``
replaces the admin's ``carboy/admin/base.html``):

1. the app's ``template_dirs`` setting (relative to the working folder;
   missing folders are skipped);
2. the routers' ``Router(template_folder=...)``, in the order the routers
   were included;
3. the batteries' package folders, which an extension registers in its
   ``init_app`` with ``templates_for(app).add_package_folder(__package__)``.

Every template sees ``request`` and these functions:

- ``url_for(name, **params)``: the absolute URL of a route, as a string;
- ``static(path)``: the URL of a static file, hashed in production (see
  ``carboy.static``);
- ``csrf_token()``: a CSRF token for a form's hidden field;
- ``csp_nonce()``: the request's Content-Security-Policy nonce, for
  ``<script nonce="{{ csp_nonce() }}">`` and ``<style nonce=...>``;
- ``get_flashed_messages(with_categories=False)``: the flashed messages,
  which are then forgotten.

The templates under ``carboy/`` are carboy's own (the admin's, the
sign-in pages'): ``render()`` answers them with a ``BuiltinPage``, which is
served under carboy's strict Content-Security-Policy whatever the app's is
(see ``carboy.middleware.security``). An app that overrides one of them
gives each script and inline style it adds ``nonce="{{ csp_nonce() }}"``.

Autoescaping is on for every template, whatever its file name ends with:
a value becomes text, never markup, unless marked safe. A variable that is
not defined renders as nothing, as in Flask and Django; an app that prefers
an error sets ``templates_for(app).environment.undefined =
jinja2.StrictUndefined`` at startup. Templates are compiled once and kept;
in debug they are reloaded when their file changes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jinja2

from carboy._folders import Folder, app_folders, package_folder, router_folders
from carboy.exceptions import ImproperlyConfigured
from carboy.middleware.security import BuiltinPage
from carboy.responses import HTMLResponse

if TYPE_CHECKING:
    from collections.abc import Callable

    from carboy.app import Carboy
    from carboy.requests import HTTPConnection, Request

__all__ = ["Templates", "render", "templates_for"]

_STATE_NAME = "_carboy_templates"
# Where carboy's own templates live, in every template folder search.
_BUILTIN_FOLDER = "carboy/"
_state_lock = threading.Lock()


def templates_for(app: Carboy) -> Templates:
    """Return the app's ``Templates``, made on first use and kept for the app's life.

    The instance lives in ``app.state`` under a private name, so it goes
    with the app; no module holds it.

    Example::

        def init_app(self, app: Carboy) -> None:
            templates_for(app).add_package_folder("carboy.admin")
    """
    state = app.state
    if _STATE_NAME not in state:
        with _state_lock:
            if _STATE_NAME not in state:
                setattr(state, _STATE_NAME, Templates(app))
    templates: Templates = getattr(state, _STATE_NAME)
    return templates


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    block: str | None = None,
) -> HTMLResponse:
    """Render the template ``name`` of the request's app as an HTML response.

    Args:
        request: The request; templates see it as ``request``.
        name: The template's path in the template folders, such as
            ``blog/post.html``.
        context: The template's variables.
        status_code: The response's status.
        headers: Extra response headers.
        block: Render only this block of the template, such as
            ``"content"``, for a page fragment (htmx and the like). The
            block must be defined in the template itself, not only in one
            it extends, and sees only ``context`` and the template's
            globals, not variables set outside it.

    Returns:
        The page; a ``BuiltinPage`` for one of carboy's own templates
        (under ``carboy/``), which gets carboy's strict CSP.

    Raises:
        jinja2.TemplateNotFound: if no template folder holds the template;
            the message lists the folders searched.
        ImproperlyConfigured: if the template has no such block.

    Example::

        @app.get("/posts/{slug}")
        def post(request: Request, slug: str) -> HTMLResponse:
            return render(request, "blog/post.html", {"post": find_post(slug)})
    """
    content = templates_for(request.app).render_to_string(
        name, context, request=request, block=block
    )
    if name.startswith(_BUILTIN_FOLDER):
        return BuiltinPage(content, status_code, headers)
    return HTMLResponse(content, status_code, headers)


class Templates:
    """The Jinja2 environment of one app, and its template search path.

    Get it with ``templates_for(app)`` rather than making one: the app's
    instance is made once and kept. ``environment`` is the Jinja2
    ``Environment``: add filters, tests and globals to it at startup.

    Args:
        app: The app whose settings and routers give the template folders.
    """

    def __init__(self, app: Carboy) -> None:
        self.app = app
        self._packages: list[tuple[Folder, jinja2.PackageLoader]] = []
        self._search_path: list[Folder] | None = None
        self._loader: jinja2.ChoiceLoader | None = None
        self._lock = threading.Lock()
        self.environment = jinja2.Environment(
            loader=_SearchPathLoader(self),
            autoescape=True,
            enable_async=False,
            auto_reload=False,
        )
        self.environment.globals.update(
            url_for=_url_for,
            static=_static(app),
            csrf_token=_csrf_token,
            csp_nonce=_csp_nonce,
            get_flashed_messages=_get_flashed_messages,
        )

    def add_package_folder(self, package: str, folder: str = "templates") -> None:
        """Search the folder ``folder`` of the installed ``package`` for templates.

        For batteries and other extensions, in their ``init_app``. Package
        folders come after the app's and the routers' folders, in the order
        they are added, so an app can override any of their templates.
        Adding the same folder twice adds it once.

        Raises:
            ImproperlyConfigured: if the package or its folder is missing,
                or a template has already been loaded (the search path is
                then fixed).
        """
        if self._loader is not None:
            raise ImproperlyConfigured(
                f"Cannot add the template folder {folder!r} of the package {package!r}: the "
                "template search path was fixed when the first template was loaded. Add "
                "package folders in an extension's init_app(), before the app serves."
            )
        found = package_folder(package, folder, "template")
        entry = Folder(str(found), f"package {package!r}", True)
        if all(known != entry for known, _ in self._packages):
            self._packages.append((entry, jinja2.PackageLoader(package, folder)))

    def get_template(self, name: str) -> jinja2.Template:
        """Return the compiled template ``name``.

        Raises:
            jinja2.TemplateNotFound: if no template folder holds it; the
                message lists the folders searched, in order.
        """
        return self.environment.get_template(name)

    def render_to_string(
        self,
        name: str,
        context: Mapping[str, Any] | None = None,
        *,
        request: HTTPConnection | None = None,
        block: str | None = None,
    ) -> str:
        """Render the template ``name`` (or one of its blocks) to a string.

        Without a request, as for an email body, ``url_for()``,
        ``csrf_token()`` and the other request functions raise when called.
        Arguments and errors are as for ``render``.
        """
        template = self.get_template(name)
        variables = dict(context or {})
        if request is not None:
            variables["request"] = request
        if block is None:
            return template.render(variables)
        render_block = template.blocks.get(block)
        if render_block is None:
            blocks = ", ".join(sorted(template.blocks)) or "none"
            raise ImproperlyConfigured(
                f"The template {name!r} has no block {block!r} of its own (its blocks: "
                f"{blocks}). Define {{% block {block} %}} in {name!r}, or fix the block name."
            )
        try:
            return "".join(render_block(template.new_context(variables)))
        except Exception:
            # As Template.render does: the traceback then points at template lines.
            self.environment.handle_exception()

    def _fixed_loader(self) -> jinja2.ChoiceLoader:
        """Fix the search path on the first template load, when routers are all included."""
        with self._lock:
            if self._loader is None:
                settings = self.app.settings
                folders = [
                    *app_folders(settings.template_dirs),
                    *router_folders(self.app, "template_folder"),
                ]
                loaders: list[jinja2.BaseLoader] = [
                    jinja2.FileSystemLoader(folder.path) for folder in folders if folder.exists
                ]
                loaders.extend(loader for _, loader in self._packages)
                self._search_path = [*folders, *(folder for folder, _ in self._packages)]
                self.environment.auto_reload = settings.debug
                self._loader = jinja2.ChoiceLoader(loaders)
            return self._loader

    def _not_found(self, name: str) -> str:
        if not self._search_path:
            return (
                f"The template {name!r} cannot be found: the app has no template folders. "
                "List one in the template_dirs setting (CARBOY_TEMPLATE_DIRS)."
            )
        searched = "; ".join(folder.describe() for folder in self._search_path)
        return (
            f"The template {name!r} is in none of the template folders, searched in this "
            f"order: {searched}. Create it in one of them, or fix its name."
        )


class _SearchPathLoader(jinja2.BaseLoader):
    """Look templates up along the app's search path, fixed on first use."""

    def __init__(self, templates: Templates) -> None:
        self.templates = templates

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        loader = self.templates._loader or self.templates._fixed_loader()
        try:
            return loader.get_source(environment, template)
        except jinja2.TemplateNotFound:
            raise jinja2.TemplateNotFound(template, self.templates._not_found(template)) from None

    def list_templates(self) -> list[str]:
        loader = self.templates._loader or self.templates._fixed_loader()
        return loader.list_templates()


# The functions every template sees --------------------------------------


def _static(app: Carboy) -> Callable[[str], str]:
    from carboy.static import static_url

    def static(path: str) -> str:
        return static_url(app, path)

    return static


def _request(context: jinja2.runtime.Context, function: str) -> HTTPConnection:
    request: HTTPConnection | None = context.get("request")
    if request is None:
        raise ImproperlyConfigured(
            f"{function} in the template {context.name!r} needs the request, and the template "
            "was rendered without one. Render it with render(request, ...), or pass request= "
            "to render_to_string()."
        )
    return request


def _unimportable(function: str, module: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"{function} in a template calls {module}, which failed to import (see the error "
        f"above). Install a carboy release that has {module}, or remove {function} from "
        "the template."
    )


@jinja2.pass_context
def _url_for(context: jinja2.runtime.Context, name: str, /, **params: Any) -> str:
    return str(_request(context, "url_for()").url_for(name, **params))


@jinja2.pass_context
def _csrf_token(context: jinja2.runtime.Context) -> str:
    request = _request(context, "csrf_token()")
    try:
        from carboy.csrf import csrf_token
    except ImportError as exc:
        raise _unimportable("csrf_token()", "carboy.csrf") from exc
    return csrf_token(request)


@jinja2.pass_context
def _csp_nonce(context: jinja2.runtime.Context) -> str:
    request = _request(context, "csp_nonce()")
    try:
        from carboy.middleware.security import csp_nonce
    except ImportError as exc:
        raise _unimportable("csp_nonce()", "carboy.middleware.security") from exc
    return csp_nonce(request)


@jinja2.pass_context
def _get_flashed_messages(
    context: jinja2.runtime.Context, with_categories: bool = False
) -> list[str] | list[tuple[str, str]]:
    request = _request(context, "get_flashed_messages()")
    try:
        from carboy.sessions import get_flashed_messages
    except ImportError as exc:
        raise _unimportable("get_flashed_messages()", "carboy.sessions") from exc
    return get_flashed_messages(request, with_categories=with_categories)
