"""``Admin``: everything the admin battery adds to an app, in one place."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from carboy.admin.history import MIGRATIONS
from carboy.admin.options import ModelAdmin
from carboy.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from carboy.admin.listing import ListSpec
    from carboy.app import Carboy

__all__ = ["Admin"]

A = TypeVar("A", bound=type[ModelAdmin])


class Admin:
    """The admin battery: list, search, filter and act on the app's models in a browser.

    Only active staff users get in; each model's ``view``, ``add``,
    ``change`` and ``delete`` permissions (``<table>.<action>``, from the
    auth battery; superusers hold them all) hide the links to its pages and
    forbid the pages themselves. Models are shown only once registered.
    Requires the database and auth batteries.

    Args:
        prefix: Where the admin is served; its dashboard is ``<prefix>/``.
        title: The heading of every admin page.

    Example::

        admin = Admin()
        app = Carboy(extensions=[Database(), Auth(), admin])

        @admin.register(Post)
        class PostAdmin(ModelAdmin):
            list_display = ("title", "author.name")

        admin.register(Tag)    # the default options
    """

    name = "admin"
    requires: Sequence[str] = ("db", "auth")
    migrations = MIGRATIONS
    """The migrations of the history's table, which ``carboy db migrate`` applies."""

    def __init__(self, prefix: str = "/admin", title: str = "Administration") -> None:
        if not prefix.startswith("/") or (prefix.endswith("/") and prefix != "/"):
            raise ImproperlyConfigured(
                f"Admin(prefix={prefix!r}) must start with '/' and not end with one, such "
                "as '/admin'."
            )
        self.prefix = prefix.rstrip("/")
        self.title = title
        self._registry: dict[str, ModelAdmin] = {}
        self._specs: dict[str, ListSpec] = {}
        self._app: Carboy | None = None

    # Registration ---------------------------------------------------------

    def register(
        self, model: type[Any], model_admin: type[ModelAdmin] | None = None
    ) -> Callable[[A], A]:
        """Show ``model`` in the admin, with the options of ``model_admin``.

        Call it with the model alone for the default options, or use it as
        the decorator of a ``ModelAdmin`` subclass. The options are checked
        at startup (``admin.E001`` and on).

        Returns:
            A class decorator that registers the class it decorates for ``model``.

        Raises:
            ImproperlyConfigured: when ``model`` is not a mapped model, is
                registered already, ``model_admin`` is not a ``ModelAdmin``
                subclass, or the app has started.

        Example::

            @admin.register(Post)
            class PostAdmin(ModelAdmin):
                search_fields = ("title",)
        """
        table = self._table_of(model)
        if table in self._registry:
            raise ImproperlyConfigured(
                f"The model {model.__name__} is registered with the admin twice. Register "
                "each model once."
            )
        self._store(model, table, model_admin or ModelAdmin)

        def decorator(options: A) -> A:
            self._store(model, table, options)
            return options

        return decorator

    def _store(self, model: type[Any], table: str, options: type[ModelAdmin]) -> None:
        if self._app is not None and self._app.is_started:
            raise ImproperlyConfigured(
                f"Cannot register {model.__name__} with the admin: the app has started "
                "serving. Register models before it starts, next to the Admin()."
            )
        if not (isinstance(options, type) and issubclass(options, ModelAdmin)):
            raise ImproperlyConfigured(
                f"admin.register({model.__name__}, {options!r}) needs a subclass of "
                "carboy.admin.ModelAdmin as its options."
            )
        self._registry[table] = options(model)
        self._specs.pop(table, None)

    @staticmethod
    def _table_of(model: Any) -> str:
        table = getattr(model, "__table__", None)
        name = getattr(table, "name", None)
        if not isinstance(model, type) or not isinstance(name, str):
            raise ImproperlyConfigured(
                f"admin.register() got {model!r}, which is not a mapped model. Register a "
                "subclass of carboy.db.Model that has a table."
            )
        return name

    @property
    def registry(self) -> dict[str, ModelAdmin]:
        """The registered models' options, by table name, in registration order."""
        return dict(self._registry)

    def model_admin(self, table: str) -> ModelAdmin | None:
        """Return the options of the model whose table is ``table``, if registered."""
        return self._registry.get(table)

    def list_spec(self, table: str) -> ListSpec:
        """Return the planned list page of a registered model, planned on first use."""
        spec = self._specs.get(table)
        if spec is None:
            from carboy.admin.listing import ListSpec

            spec = self._specs[table] = ListSpec(self._registry[table])
        return spec

    # Extension ------------------------------------------------------------

    def init_app(self, app: Carboy) -> None:
        """Serve the admin pages, its templates and styles, and check its options at startup."""
        from carboy.admin.checks import register_checks
        from carboy.admin.pages import AdminSignIn, admin_router, sign_in_redirect
        from carboy.static import add_static_package
        from carboy.templating import templates_for

        self._app = app
        templates_for(app).add_package_folder("carboy.admin")
        add_static_package(app, "carboy.admin")
        app.include_router(admin_router(self))
        app.add_exception_handler(AdminSignIn, sign_in_redirect)
        register_checks(app, self)

    def url(self, *parts: object) -> str:
        """Return the path of an admin page: ``admin.url("post", 3)`` is ``/admin/post/3/``."""
        from urllib.parse import quote

        tail = "".join(f"{quote(str(part), safe='')}/" for part in parts)
        return f"{self.prefix}/{tail}"
