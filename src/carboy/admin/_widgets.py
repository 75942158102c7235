"""The admin's own widgets: related rows as a select or a search box, and files.

The rows a related field offers are known only per request (they are read
from the database), so they travel on the bound form, a ``RelatedForm``,
and the widget reads them from there when it draws the field; so do the
stored file a file field replaces and the files the request uploaded.

A search box is a text input taking ids, which works without JavaScript
(the current rows are named beside it, and a link opens the related list
page to look ids up). ``carboy/admin/autocomplete.js`` turns each one
marked ``data-autocomplete`` into a combobox that asks the admin's
autocomplete endpoint for rows as the user types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from carboy.forms import BoundForm, FileInput, Widget, html_attrs

if TYPE_CHECKING:
    from carboy.formparsers import FormData
    from carboy.forms import AttrValue, BoundField, FieldSpec

__all__ = [
    "CLEAR_SUFFIX",
    "AdminFileInput",
    "RelatedForm",
    "RelatedOptions",
    "RelatedWidget",
    "StoredFile",
    "split_ids",
]

CLEAR_SUFFIX = "-clear"
"""Added to a file field's name, it names the checkbox that empties a nullable column."""

BLANK_LABEL = "---------"


@dataclass
class RelatedOptions:
    """What a related field offers on one page.

    Attributes:
        choices: ``(id, label)`` of every row, for a select; empty when
            ``is_search``.
        is_search: Whether the field is a text input taking ids, for a big
            table or an ``autocomplete_fields`` entry.
        labels: The labels of the rows the field holds now, by id, shown
            beside the text input.
        search_url: The autocomplete endpoint that the script of a search
            box asks; ``None`` leaves the box a plain text input.
        list_url: The related model's list page, linked beside a search box
            to look ids up; ``None`` when that model is not in the admin.
        noun: The related model's name, plural, for the link's text.
    """

    choices: list[tuple[str, str]] = field(default_factory=list)
    is_search: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    search_url: str | None = None
    list_url: str | None = None
    noun: str = "rows"


@dataclass
class StoredFile:
    """What a file field holds now, drawn beside its input on the edit page.

    Attributes:
        size: The stored file's size in bytes; ``None`` when the column is empty.
        url: Where the stored file is downloaded.
        can_clear: Whether the column may be emptied (it is nullable).
    """

    size: int | None = None
    url: str | None = None
    can_clear: bool = False


class RelatedForm(BoundForm[Any]):
    """A bound admin form that also holds the rows each related field offers.

    Attributes:
        related: The options of each related field, by the form's field name.
        files: What each file field holds now, by the form's field name.
        uploads: The bytes uploaded for each file field, by the form's
            field name; a field left empty is not in it.
        cleared: The file fields whose "Clear" box is ticked.
    """

    related: dict[str, RelatedOptions]
    files: dict[str, StoredFile]
    uploads: dict[str, bytes]
    cleared: set[str]

    @classmethod
    def wrap(cls, bound: BoundForm[Any]) -> RelatedForm:
        """Return ``bound`` as a ``RelatedForm`` with no options loaded yet."""
        data = bound.data if bound.is_valid else None
        wrapped = cls(
            bound.form_class, bound.request, values=bound.values, errors=bound.errors, data=data
        )
        wrapped.related = {}
        wrapped.files = {}
        wrapped.uploads = {}
        wrapped.cleared = set()
        return wrapped


def split_ids(values: list[Any]) -> list[str]:
    """Return the ids in ``values``, each of which may hold several, separated by commas."""
    found: list[str] = []
    for value in values:
        if isinstance(value, str):
            found.extend(part.strip() for part in value.split(",") if part.strip())
    return found


class RelatedWidget(Widget):
    """A many-to-one or many-to-many field: a select of the related rows, or a text input.

    The select lists every related row by its ``str()``; for a table too big
    to list, or a field of ``autocomplete_fields``, the field is a text input
    taking the id (ids separated by commas, for many-to-many), with the
    current rows' names shown beside it.
    """

    def value_from(self, form_data: FormData, spec: FieldSpec) -> object:
        """Return the chosen id, or the list of ids of a many-to-many field."""
        if spec.is_multiple:
            return split_ids(form_data.getlist(spec.html_name))
        value = form_data.get(spec.html_name)
        return value.strip() if isinstance(value, str) else value

    def field_attrs(self, spec: FieldSpec) -> dict[str, AttrValue]:
        """Return no attributes: the page is checked on the server."""
        return {}

    def render(
        self, field: BoundField, value: str | list[str] | None, attrs: dict[str, AttrValue]
    ) -> Markup:
        """Return the select, or the text input and the names of the rows it holds."""
        form = field.form
        options = (
            form.related.get(field.name, RelatedOptions())
            if isinstance(form, RelatedForm)
            else RelatedOptions()
        )
        chosen = value if isinstance(value, list) else [value] if value else []
        if options.is_search:
            return self._text_input(field, chosen, options, attrs)
        multiple = field.spec.is_multiple
        parts: list[Markup] = []
        if not multiple:
            parts.append(Markup('<option value="">{}</option>').format(BLANK_LABEL))
        for ident, label in options.choices:
            parts.append(
                Markup("<option{}>{}</option>").format(
                    html_attrs({"value": ident, "selected": ident in chosen}), label
                )
            )
        size = min(10, max(4, len(options.choices))) if multiple else None
        return Markup("<select{}>{}</select>").format(
            html_attrs({**attrs, "multiple": multiple, "size": size}), Markup("").join(parts)
        )

    def _text_input(
        self,
        field: BoundField,
        chosen: list[str],
        options: RelatedOptions,
        attrs: dict[str, AttrValue],
    ) -> Markup:
        names = [options.labels[ident] for ident in chosen if ident in options.labels]
        label_id = f"{field.id}-current"
        described = " ".join(
            part for part in (str(attrs.get("aria-describedby") or ""), label_id) if part
        )
        hint = "ids, separated by commas" if field.spec.is_multiple else "an id"
        element = Markup("<input{}>").format(
            html_attrs(
                {
                    "type": "text",
                    **attrs,
                    **self.search_attrs(field, options),
                    "aria-describedby": described,
                    "value": ", ".join(chosen) or None,
                    "inputmode": None if field.spec.is_multiple else "numeric",
                }
            )
        )
        current = ", ".join(names) if names else "none"
        drawn = element + Markup(
            ' <span class="related-current" id="{}">{} (now: {})</span>'
        ).format(label_id, hint.capitalize(), current)
        if options.list_url is not None:
            drawn += Markup(' <a class="related-lookup" href="{}" target="_blank">{}</a>').format(
                options.list_url, f"Look up {options.noun}"
            )
        return drawn

    @staticmethod
    def search_attrs(field: BoundField, options: RelatedOptions) -> dict[str, AttrValue]:
        """Return the attributes that the autocomplete script reads off a search box."""
        if options.search_url is None:
            return {}
        return {
            "data-autocomplete": options.search_url,
            "data-labels": json.dumps(options.labels, ensure_ascii=False),
            "data-multiple": field.spec.is_multiple,
        }


class AdminFileInput(FileInput):
    """A file input for a binary column, with the stored file's size, link and "Clear" box.

    Left empty, the input keeps the stored file; ticking "Clear" (offered
    for a nullable column) empties the column.
    """

    def field_attrs(self, spec: FieldSpec) -> dict[str, AttrValue]:
        """Return no ``required``: an empty input keeps the stored file."""
        return {}

    def render(
        self, field: BoundField, value: str | list[str] | None, attrs: dict[str, AttrValue]
    ) -> Markup:
        """Return the file input, what the column holds now, and the "Clear" box."""
        form = field.form
        stored = (
            form.files.get(field.name, StoredFile())
            if isinstance(form, RelatedForm)
            else StoredFile()
        )
        element = super().render(field, value, attrs)
        if stored.size is None:
            return element
        current_id = f"{field.id}-current"
        now = Markup('<span class="file-current" id="{}">Now: {} bytes').format(
            current_id, stored.size
        )
        if stored.url is not None:
            now += Markup(' (<a href="{}">download</a>)').format(stored.url)
        now += Markup("</span>")
        if stored.can_clear:
            box_id = f"{field.id}{CLEAR_SUFFIX}"
            now += Markup(' <input{}><label for="{}" class="file-clear">Clear</label>').format(
                html_attrs(
                    {
                        "type": "checkbox",
                        "name": f"{field.spec.html_name}{CLEAR_SUFFIX}",
                        "id": box_id,
                        "checked": field.name in getattr(form, "cleared", set()),
                    }
                ),
                box_id,
            )
        return now + Markup(" ") + element
