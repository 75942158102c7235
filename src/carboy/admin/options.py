"""``ModelAdmin``: how the admin shows and edits one model, declared as class attributes.

::

    @admin.register(Post)
    class PostAdmin(ModelAdmin):
        list_display = ("title", "author.name", "is_published", "word_count")
        search_fields = ("title", "author.name")
        list_filter = ("is_published", "status", "author", "published_on")
        actions = ("delete_selected", "publish")

        @display(label="Words")
        def word_count(self, post: Post) -> int:
            return len(post.body.split())

        @action(label="Publish the selected posts", permission="change")
        async def publish(self, request: Request, session: AsyncSession, posts: list[Post]) -> None:
            for post in posts:
                post.is_published = True

Every option is checked at startup (``admin.E001`` and on, see
``carboy.admin.checks``): a misspelt field name stops the app before the
first request instead of failing on a page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

__all__ = [
    "DELETE_SELECTED",
    "ActionInfo",
    "Inline",
    "ModelAdmin",
    "action",
    "display",
    "label_of",
]

F = TypeVar("F", bound=Callable[..., Any])

DELETE_SELECTED = "delete_selected"
"""The name of the built-in action that deletes the selected rows, after a confirmation page."""

ACTION_ATTRIBUTE = "__carboy_admin_action__"
ACTION_PERMISSIONS = ("view", "add", "change", "delete")


@dataclass(frozen=True)
class ActionInfo:
    """What ``@action`` records on a method: its label and the permission it needs.

    Attributes:
        name: The method's name, sent as the ``action`` form field.
        label: What the action menu shows.
        permission: The model action the user needs: ``view``, ``add``,
            ``change`` or ``delete``.
    """

    name: str
    label: str
    permission: str


def action(*, label: str | None = None, permission: str = "change") -> Callable[[F], F]:
    """Mark a ``ModelAdmin`` method as a bulk action of its list page.

    The method is called as ``method(request, session, objects)``, sync or
    async, with the selected rows; the request's transaction commits them.
    It may return a response (a download, a page); otherwise the list page
    is shown again with a message.

    The history records, under the action's label, every row the action
    adds, changes or deletes through the session, selected or not: each new
    row as an addition, each deleted one as a deletion, each other as a
    change of the columns it changed. Bulk ``update()``/``delete()``
    statements bypass the session and are not seen; record what they do with
    ``carboy.admin.history.record``.

    Args:
        label: What the action menu shows; the method's name in words by default.
        permission: Which of the model's permissions (``view``, ``add``,
            ``change``, ``delete``) the user needs to see and run it.

    Raises:
        ValueError: for a permission that is not one of the four.

    Example::

        @action(label="Publish", permission="change")
        async def publish(self, request, session, posts): ...
    """
    if permission not in ACTION_PERMISSIONS:
        raise ValueError(
            f"@action(permission={permission!r}) is not a model permission. Use one of "
            "'view', 'add', 'change' or 'delete'."
        )

    def decorator(method: F) -> F:
        name = method.__name__
        setattr(method, ACTION_ATTRIBUTE, ActionInfo(name, label or _words(name), permission))
        return method

    return decorator


def display(*, label: str) -> Callable[[F], F]:
    """Give a column of ``list_display`` that is a method or a function its header.

    Example::

        @display(label="Words")
        def word_count(self, post: Post) -> int:
            return len(post.body.split())
    """

    def decorator(function: F) -> F:
        function.label = label  # type: ignore[attr-defined]
        return function

    return decorator


def label_of(name: str, function: Any = None) -> str:
    """Return a column's header: the callable's ``label``, else its name in words."""
    label = getattr(function, "label", None)
    if isinstance(label, str):
        return label
    return _words(name.replace(".", " "))


def _words(name: str) -> str:
    text = re.sub(r"[_\s]+", " ", name).strip()
    return text[:1].upper() + text[1:]


class ModelAdmin:
    """The options of one model's admin pages; subclass it and set class attributes.

    Field names are the model's column attributes (``"title"``), related
    columns through many-to-one relationships (``"author.name"``), and, in
    ``list_display``, callables taking the row or names of methods of the
    subclass, with a ``label`` (see ``display``).

    Attributes:
        section: The dashboard heading the model is listed under; the top
            package of the model's module by default (``blog`` for
            ``blog.models.Post``).
        list_display: The list page's columns; the model's ``__str__`` when empty.
        list_display_links: The columns that link to the edit page; the
            first column by default.
        search_fields: The text columns ``?q=`` searches, each word in any of them.
        list_filter: Columns the sidebar filters by: booleans, enums,
            foreign keys (the relationship's name, or the key column's) and
            dates (today, the past 7 days, this month, this year).
        ordering: The default order, such as ``("-published_on", "title")``;
            the primary key, descending, by default.
        sortable_by: The columns whose header sorts the list; every column
            that is a model field by default.
        list_per_page: Rows per list page.
        list_select_related: Relationships loaded with the rows, so that a
            page costs the same number of queries however many rows it
            shows; those of ``list_display`` are loaded without being named.
        actions: The bulk actions: ``"delete_selected"`` and names of
            methods decorated with ``@action``.
        fields: The fields of the add and edit pages, in order; every
            field the database does not fill by default. A field that
            cannot be edited (or is in ``readonly_fields``) is shown.
        fieldsets: ``(title or None, field names)`` groups, instead of ``fields``.
        readonly_fields: Fields, or methods of the subclass taking the row,
            shown on the edit page but not edited.
        exclude: Fields left off the add and edit pages.
        autocomplete_fields: Many-to-one and many-to-many relationships
            edited as a search box instead of a select of every related
            row: a text input taking ids, which the admin's script turns
            into a list of matches as the user types. The related model
            must be registered, with ``search_fields`` (``admin.E014``,
            ``admin.E015``). A relationship to a table of more
            than 1,000 rows is a search box without being named here.
        inlines: ``Inline`` subclasses: rows of other models that point at
            the edited row, listed on its edit page.
    """

    section: ClassVar[str | None] = None
    list_display: ClassVar[Sequence[str | Callable[..., Any]]] = ()
    list_display_links: ClassVar[Sequence[str]] = ()
    search_fields: ClassVar[Sequence[str]] = ()
    list_filter: ClassVar[Sequence[str]] = ()
    ordering: ClassVar[Sequence[str]] = ()
    sortable_by: ClassVar[Sequence[str] | None] = None
    list_per_page: ClassVar[int] = 50
    list_select_related: ClassVar[Sequence[str]] = ()
    actions: ClassVar[Sequence[str]] = (DELETE_SELECTED,)
    readonly_fields: ClassVar[Sequence[str]] = ()
    fields: ClassVar[Sequence[str] | None] = None
    fieldsets: ClassVar[Sequence[tuple[str | None, Sequence[str]]] | None] = None
    exclude: ClassVar[Sequence[str]] = ()
    inlines: ClassVar[Sequence[type[Inline]]] = ()
    autocomplete_fields: ClassVar[Sequence[str]] = ()

    def __init__(self, model: type[Any]) -> None:
        self.model = model

    @property
    def table(self) -> str:
        """The model's table name, which is the path segment of its pages."""
        name: str = self.model.__table__.name
        return name

    @property
    def verbose_name(self) -> str:
        """The model's name in words, singular: ``blog post``."""
        return _words(re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", self.model.__name__)).lower()

    @property
    def verbose_name_plural(self) -> str:
        """The model's name in words, plural: ``blog posts``."""
        name = self.verbose_name
        if name.endswith(("s", "x", "ch", "sh")):
            return name + "es"
        if name.endswith("y") and name[-2:-1] not in "aeiou":
            return name[:-1] + "ies"
        return name + "s"

    def get_section(self) -> str:
        """Return the dashboard heading: ``section``, or the top package of the model's module."""
        if self.section:
            return self.section
        return self.model.__module__.split(".")[0]

    def get_actions(self) -> dict[str, ActionInfo]:
        """Return the actions of ``actions`` by name, the built-in delete first if listed."""
        found: dict[str, ActionInfo] = {}
        for name in self.actions:
            if name == DELETE_SELECTED:
                found[name] = ActionInfo(name, "Delete the selected rows", "delete")
                continue
            info = getattr(getattr(self, name, None), ACTION_ATTRIBUTE, None)
            if isinstance(info, ActionInfo):
                found[name] = info
        return found

    def object_repr(self, obj: Any) -> str:
        """Return how a row is named on pages: its ``__str__``."""
        return str(obj)

    def readonly_fields_for(self, user: Any) -> frozenset[str]:
        """Return the fields ``user`` sees but may not change, beyond ``readonly_fields``.

        None by default; ``UserAdmin`` keeps ``is_superuser`` from anyone
        who is not a superuser.
        """
        return frozenset()


class Inline:
    """Rows of another model that point at the edited row, listed on its edit page.

    ::

        class CommentInline(Inline):
            model = Comment
            fields = ("name", "body")

        @admin.register(Post)
        class PostAdmin(ModelAdmin):
            inlines = (CommentInline,)

    The rows whose foreign key points at the row are edited in place on the
    parent's add and edit pages (see ``carboy.admin.inlineforms``): changed,
    added from blank rows and deleted by checkbox, saved with the parent in
    one transaction. With ``is_editable = False`` the edit page only lists
    them, a column per field, each row linking to its own edit page when its
    model is registered.

    Attributes:
        model: The related model, with a foreign key to the edited model's table.
        fields: The columns shown; every column but the keys by default.
        fk_name: The foreign-key column to follow, when several point at
            the edited model.
        is_editable: Whether the rows are edited in place (the default)
            rather than only listed.
        extra: The blank rows offered to add related rows, when editable.
        max_rows: The most rows listed or edited; no rows are added past it.
        title: The heading of the list; the model's name, plural, by default.
    """

    model: ClassVar[type[Any] | None] = None
    fields: ClassVar[Sequence[str] | None] = None
    fk_name: ClassVar[str | None] = None
    is_editable: ClassVar[bool] = True
    extra: ClassVar[int] = 1
    max_rows: ClassVar[int] = 100
    title: ClassVar[str | None] = None
