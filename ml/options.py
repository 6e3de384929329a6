"""The training options staff and integrators may set."""

from rakuten.exceptions import ApplicationError


def training_parameters_clean(parameters: dict) -> dict:
    """Validate the user-facing training options; unknown keys are refused."""
    from ml.core.backbones import BACKBONES

    allowed = {"backbone", "text_only", "epochs", "activate", "allow_random_backbone"}
    unknown = set(parameters) - allowed
    if unknown:
        raise ApplicationError(
            f"Unknown training option(s): {', '.join(sorted(unknown))}"
        )
    clean = {
        "backbone": parameters.get("backbone") or "efficientnet_lite0",
        "text_only": bool(parameters.get("text_only", False)),
        "epochs": int(parameters.get("epochs") or 8),
        "activate": bool(parameters.get("activate", False)),
        "allow_random_backbone": bool(parameters.get("allow_random_backbone", False)),
    }
    if clean["backbone"] not in BACKBONES:
        raise ApplicationError(
            f"Unknown backbone {clean['backbone']!r}: use {', '.join(BACKBONES)}."
        )
    if not 1 <= clean["epochs"] <= 200:
        raise ApplicationError("epochs must be between 1 and 200.")
    return clean
