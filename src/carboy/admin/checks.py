"""The admin battery's startup checks: every ``ModelAdmin`` option, ``admin.E001`` and on.

=========== ==========================================================
id          what is wrong
=========== ==========================================================
admin.E001  ``list_display`` names no field, method or attribute
admin.E002  ``search_fields`` names no text column
admin.E003  ``list_filter`` names nothing the list can filter by
admin.E004  ``ordering`` names no column
admin.E005  ``list_display_links`` names no column of ``list_display``
admin.E006  ``sortable_by`` names no sortable column of ``list_display``
admin.E007  ``list_per_page`` is not a whole number from 1
admin.E008  ``list_select_related`` names no relationship
admin.E009  ``actions`` names no ``@action`` method
admin.E010  ``fields``, ``fieldsets``, ``readonly_fields`` or ``exclude`` names no field
admin.E011  ``autocomplete_fields`` names no many-to-one or many-to-many relationship
admin.E012  the model has no single-column primary key for its pages' addresses
admin.E013  ``inlines`` names no ``Inline`` whose model has one foreign key to the model
admin.E014  an ``autocomplete_fields`` entry points at a model not registered
admin.E015  an ``autocomplete_fields`` entry points at a model whose options
            have no ``search_fields``
=========== ==========================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import String
from sqlalchemy.orm.interfaces import MANYTOMANY, MANYTOONE

from carboy.admin._paths import column_of, primary_key_of, resolve
from carboy.admin.filters import make_filter
from carboy.admin.inlines import inline_key
from carboy.admin.options import ACTION_ATTRIBUTE, DELETE_SELECTED, ModelAdmin
from carboy.checks import CheckMessage

if TYPE_CHECKING:
    from carboy.admin.extension import Admin
    from carboy.app import Carboy

__all__ = ["CHECK_IDS", "check_model_admin", "register_checks"]

CHECK_IDS: dict[str, str] = {
    "admin.E001": (
        "A ``list_display`` entry is not a column, a related column such as ``author.name``, a "
        "method of the model admin or an attribute of the model. Fix the name, or add the "
        "method."
    ),
    "admin.E002": (
        "A ``search_fields`` entry is not a text (``String`` or ``Text``) column of the model "
        "or of a related one. Name such a column, as ``title`` or ``author.name``."
    ),
    "admin.E003": (
        "A ``list_filter`` entry is not a boolean, enum or date column, nor a many-to-one "
        "relationship or its foreign-key column. Fix the name, or remove it."
    ),
    "admin.E004": (
        "An ``ordering`` entry is not a column of the model or a related column. Name columns, "
        "with ``-`` in front for descending order, such as ``('-published_on', 'title')``."
    ),
    "admin.E005": (
        "A ``list_display_links`` entry is not one of the ``list_display`` columns. Name "
        "columns that ``list_display`` shows."
    ),
    "admin.E006": (
        "A ``sortable_by`` entry is not a ``list_display`` column that holds a field. Name "
        "columns that are fields, such as ``title`` or ``author.name``."
    ),
    "admin.E007": (
        "``list_per_page`` is not a whole number of rows from 1. Set it to a number such as 50."
    ),
    "admin.E008": (
        "A ``list_select_related`` entry is not a relationship of the model. Name "
        "relationships, such as ``author`` or ``author.country``."
    ),
    "admin.E009": (
        "An ``actions`` entry is not a method of the model admin decorated with ``@action``. "
        "Add the method with ``@action(label=..., permission=...)``, or fix the name."
    ),
    "admin.E010": (
        "An entry of ``fields``, ``fieldsets``, ``readonly_fields`` or ``exclude`` is neither "
        "a column or relationship of the model (a dotted path does not count) nor a method of "
        "the model admin. Name the model's columns and relationships, such as ``title`` or "
        "``author``."
    ),
    "admin.E011": (
        "An ``autocomplete_fields`` entry is not a many-to-one or many-to-many relationship. "
        "Name a relationship to one row or to several, such as ``author`` or ``tags``."
    ),
    "admin.E012": (
        "The model has no single-column primary key, which the admin's page addresses need. "
        "Give it one column with ``primary_key=True``, or leave it out of the admin."
    ),
    "admin.E013": (
        "An ``inlines`` entry is not a subclass of ``carboy.admin.Inline`` whose model has one "
        "foreign key to this model. Set the inline's ``model``, and its ``fk_name`` when "
        "there are several keys."
    ),
    "admin.E014": (
        "An ``autocomplete_fields`` relationship points at a model not registered with the "
        "admin, so its rows cannot be searched. Register that model with ``search_fields``, "
        "or drop the entry."
    ),
    "admin.E015": (
        "An ``autocomplete_fields`` relationship points at a model whose admin has no "
        "``search_fields`` to search its rows by. Set them, such as ``('name',)``."
    ),
}
"""What each check id of this module means and how to fix it: the checks reference."""


def register_checks(app: Carboy, admin: Admin) -> None:
    """Register the check of every registered model's options with ``app``."""

    def check_model_admins(_app: Carboy) -> list[CheckMessage]:
        messages: list[CheckMessage] = []
        for model_admin in admin.registry.values():
            messages += check_model_admin(model_admin, admin.registry)
        return messages

    app.register_check(check_model_admins)


def _error(check_id: str, message: str, hint: str) -> CheckMessage:
    return CheckMessage(check_id, "error", message, hint)


def check_model_admin(
    model_admin: ModelAdmin, registry: Mapping[str, ModelAdmin] | None = None
) -> list[CheckMessage]:
    """Return what is wrong with the options of one registered model.

    Args:
        model_admin: The options to check.
        registry: Every registered model's options, by table; given, the
            models that ``autocomplete_fields`` search are checked too.
    """
    options = type(model_admin).__name__
    model = model_admin.model
    where = f"{options}.{{}} (for {model.__name__})"
    messages: list[CheckMessage] = []

    if primary_key_of(model) is None:
        messages.append(
            _error(
                "admin.E012",
                f"The model {model.__name__} has no single-column primary key, which the "
                "admin's page addresses need.",
                "Give it one column with primary_key=True, or leave it out of the admin.",
            )
        )

    display_names: list[str] = []
    for entry in _entries(model_admin.list_display):
        if callable(entry):
            display_names.append(getattr(entry, "__name__", ""))
            continue
        display_names.append(str(entry))
        if not _displays(model_admin, entry):
            messages.append(
                _error(
                    "admin.E001",
                    f"{where.format('list_display')} names {entry!r}, which is not a column, "
                    f"a related column such as 'author.name', a method of {options} or an "
                    f"attribute of {model.__name__}.",
                    f"Fix the name, or add a method {entry}(self, obj) to {options}.",
                )
            )

    for name in _entries(model_admin.search_fields):
        path = resolve(model, name, to_many=True) if isinstance(name, str) else None
        column = column_of(path) if path is not None else None
        if column is None or not isinstance(column.type, String):
            messages.append(
                _error(
                    "admin.E002",
                    f"{where.format('search_fields')} names {name!r}, which is not a text "
                    f"column of {model.__name__} or of a related model.",
                    "Name a String or Text column, such as 'title', or one through a "
                    "relationship, such as 'author.name'.",
                )
            )

    for name in _entries(model_admin.list_filter):
        if not isinstance(name, str) or make_filter(model, name, name) is None:
            messages.append(
                _error(
                    "admin.E003",
                    f"{where.format('list_filter')} names {name!r}, which is not a boolean, "
                    f"enum or date column of {model.__name__}, nor a many-to-one "
                    "relationship or its foreign-key column.",
                    "Fix the name, or remove it from list_filter.",
                )
            )

    for entry in _entries(model_admin.ordering):
        name = entry.removeprefix("-") if isinstance(entry, str) else entry
        path = resolve(model, name) if isinstance(name, str) else None
        if path is None or path.column is None:
            messages.append(
                _error(
                    "admin.E004",
                    f"{where.format('ordering')} names {entry!r}, which is not a column of "
                    f"{model.__name__} or a related column.",
                    "Name columns, with '-' in front for descending order, such as "
                    "('-published_on', 'title').",
                )
            )

    for name in _entries(model_admin.list_display_links):
        if name not in display_names:
            messages.append(
                _error(
                    "admin.E005",
                    f"{where.format('list_display_links')} names {name!r}, which is not a "
                    "column of list_display.",
                    "Name columns listed in list_display.",
                )
            )

    if model_admin.sortable_by is not None:
        for name in _entries(model_admin.sortable_by):
            path = resolve(model, name) if isinstance(name, str) else None
            if name not in display_names or path is None or path.column is None:
                messages.append(
                    _error(
                        "admin.E006",
                        f"{where.format('sortable_by')} names {name!r}, which is not a "
                        "column of list_display that holds a field.",
                        "Name columns of list_display that are fields, such as 'title' or "
                        "'author.name'.",
                    )
                )

    per_page = model_admin.list_per_page
    if isinstance(per_page, bool) or not isinstance(per_page, int) or per_page < 1:
        messages.append(
            _error(
                "admin.E007",
                f"{where.format('list_per_page')} is {per_page!r}, which is not a whole "
                "number of rows.",
                "Set it to a whole number from 1, such as 50.",
            )
        )

    for name in _entries(model_admin.list_select_related):
        path = (
            resolve(model, name, to_many=True, relationship_end=True)
            if isinstance(name, str)
            else None
        )
        if path is None or path.column is not None:
            messages.append(
                _error(
                    "admin.E008",
                    f"{where.format('list_select_related')} names {name!r}, which is not a "
                    f"relationship of {model.__name__}.",
                    "Name relationships, such as 'author' or 'author.country'.",
                )
            )

    for name in _entries(model_admin.actions):
        if name == DELETE_SELECTED:
            continue
        method = getattr(model_admin, name, None) if isinstance(name, str) else None
        if not callable(method) or getattr(method, ACTION_ATTRIBUTE, None) is None:
            messages.append(
                _error(
                    "admin.E009",
                    f"{where.format('actions')} names {name!r}, which is not a method of "
                    f"{options} decorated with @action.",
                    f"Add the method to {options} and decorate it with "
                    "@action(label=..., permission=...), or fix the name.",
                )
            )

    form_options: list[tuple[str, Iterable[Any]]] = [
        ("fields", model_admin.fields or ()),
        (
            "fieldsets",
            [name for _, names in (model_admin.fieldsets or ()) for name in names],
        ),
        ("readonly_fields", model_admin.readonly_fields),
        ("exclude", model_admin.exclude),
    ]
    for option, names in form_options:
        for name in names:
            path = resolve(model, name, relationship_end=True, to_many=True)
            is_field = path is not None and "." not in name
            if not is_field and not callable(getattr(model_admin, str(name), None)):
                messages.append(
                    _error(
                        "admin.E010",
                        f"{where.format(option)} names {name!r}, which is not a field of "
                        f"{model.__name__}.",
                        "Name its columns and relationships, such as 'title' or 'author'.",
                    )
                )

    messages += _check_autocomplete(model_admin, registry, where)
    for inline in _entries(model_admin.inlines):
        if inline_key(inline, model) is None:
            messages.append(
                _error(
                    "admin.E013",
                    f"{where.format('inlines')} names {inline!r}, which is not a subclass of "
                    f"carboy.admin.Inline whose model has one foreign key to "
                    f"{model.__name__}.",
                    "Subclass Inline, set its model to one with a foreign key to this "
                    "model's table, and its fk_name when there are several.",
                )
            )
    return messages


def _check_autocomplete(
    model_admin: ModelAdmin, registry: Mapping[str, ModelAdmin] | None, where: str
) -> list[CheckMessage]:
    model = model_admin.model
    messages: list[CheckMessage] = []
    for name in _entries(model_admin.autocomplete_fields):
        path = resolve(model, name, relationship_end=True, to_many=True)
        relationship = (
            path.relationships[0]
            if path is not None and path.column is None and len(path.relationships) == 1
            else None
        )
        if relationship is None or relationship.direction not in (MANYTOONE, MANYTOMANY):
            messages.append(
                _error(
                    "admin.E011",
                    f"{where.format('autocomplete_fields')} names {name!r}, which is not a "
                    f"many-to-one or many-to-many relationship of {model.__name__}.",
                    "Name relationships to one row or to several through a secondary "
                    "table, such as 'author' or 'tags'.",
                )
            )
            continue
        if registry is None:
            continue
        target = relationship.mapper.class_
        related = registry.get(target.__table__.name)
        if related is None:
            messages.append(
                _error(
                    "admin.E014",
                    f"{where.format('autocomplete_fields')} names {name!r}, whose model "
                    f"{target.__name__} is not registered with the admin, so its rows "
                    "cannot be searched.",
                    f"Register {target.__name__} with the admin, with search_fields, or "
                    f"remove {name!r} from autocomplete_fields.",
                )
            )
        elif not _entries(related.search_fields):
            messages.append(
                _error(
                    "admin.E015",
                    f"{where.format('autocomplete_fields')} names {name!r}, but "
                    f"{type(related).__name__} (for {target.__name__}) has no search_fields "
                    "to search its rows by.",
                    f"Set {type(related).__name__}.search_fields to the text columns to "
                    "search, such as ('name',).",
                )
            )
    return messages


def _entries(value: Any) -> list[Any]:
    """Return an option's entries; a lone string is one entry, not its letters."""
    if isinstance(value, str):
        return [value]
    return list(value or ())


def _displays(model_admin: ModelAdmin, name: Any) -> bool:
    if not isinstance(name, str):
        return False
    if name == "__str__" or resolve(model_admin.model, name, relationship_end=True) is not None:
        return True
    if callable(getattr(model_admin, name, None)):
        return True
    return "." not in name and hasattr(model_admin.model, name)
