"""``{% tensorboard_run_url run.pk %}``: TensorBoard's page for one training run's
curves, when ``TENSORBOARD_URL`` names a TensorBoard serving
``ML_ARTIFACTS_DIR/runs`` (``make tensorboard``); "" otherwise."""

from urllib.parse import urlencode

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def tensorboard_run_url(run_id: int) -> str:
    # With --logdir ML_ARTIFACTS_DIR/runs, TensorBoard names a run's logs
    # "<run id>/tensorboard" (ml.services.training_runs): the filter keeps that run.
    base = settings.TENSORBOARD_URL.rstrip("/")
    if not base:
        return ""
    return f"{base}/?{urlencode({'runFilter': f'^{run_id}/'})}#timeseries"
