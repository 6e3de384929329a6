"""The unresolved model alerts, for the banner of the staff pages and of the admin.
Lazy: the query runs only where a template shows the banner."""

from functools import partial


def _unresolved_alerts() -> list:
    from ml.selectors.monitoring import alert_list_unresolved

    return list(alert_list_unresolved()[:5])


def model_alerts(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not getattr(user, "is_platform_staff", False):
        return {}
    # Templates call a callable with no arguments when they read it.
    return {"model_alerts": partial(_unresolved_alerts)}
