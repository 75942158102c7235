"""The admin's own widgets: related rows as a select, or as ids typed in a text input.

The rows a related field offers are known only per request (they are read
from the database), so they travel on the bound form, a ``RelatedForm``,
and the widget reads them from there when it draws the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from carboy.forms import BoundForm, Widget, html_attrs

if TYPE_CHECKING:
    from carboy.formparsers import FormData
    from carboy.forms import AttrValue, BoundField, FieldSpec

__all__ = ["RelatedForm", "RelatedOptions", "RelatedWidget", "split_ids"]

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
    """

    choices: list[tuple[str, str]] = field(default_factory=list)
    is_search: bool = False
    labels: dict[str, str] = field(default_factory=dict)


class RelatedForm(BoundForm[Any]):
    """A bound admin form that also holds the rows each related field offers.

    Attributes:
        related: The options of each related field, by the form's field name.
    """

    related: dict[str, RelatedOptions]

    @classmethod
    def wrap(cls, bound: BoundForm[Any]) -> RelatedForm:
        """Return ``bound`` as a ``RelatedForm`` with no options loaded yet."""
        data = bound.data if bound.is_valid else None
        wrapped = cls(
            bound.form_class, bound.request, values=bound.values, errors=bound.errors, data=data
        )
        wrapped.related = {}
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
                    "aria-describedby": described,
                    "value": ", ".join(chosen) or None,
                    "inputmode": None if field.spec.is_multiple else "numeric",
                }
            )
        )
        current = ", ".join(names) if names else "none"
        return element + Markup(
            ' <span class="related-current" id="{}">{} (now: {})</span>'
        ).format(label_id, hint.capitalize(), current)
