"""Form presentation shared by every app's forms."""


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
