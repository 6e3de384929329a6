"""Form presentation and fields shared by every app's forms."""

from django import forms
from django.core.exceptions import ValidationError

from rakuten.ids import MAX_ID


class BootstrapFormMixin:
    """Give every widget Bootstrap's classes, so templates can render ``{{ field
    }}``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            base = {
                "CheckboxInput": "form-check-input",
                "Select": "form-select",
                "SelectMultiple": "form-select",
            }.get(type(widget).__name__, "form-control")
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {base}".strip()


class IdBoundedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A choice of rows by id where a number no row can have (above ``MAX_ID``) is
    "not a valid value", as any unknown id, instead of reaching the database."""

    def _check_values(self, value):
        for pk in value:
            try:
                number = int(str(pk))
            except ValueError:
                continue  # the parent's own check answers it
            if not 0 < number <= MAX_ID:
                raise ValidationError(
                    self.error_messages["invalid_pk_value"],
                    code="invalid_pk_value",
                    params={"pk": pk},
                )
        return super()._check_values(value)
