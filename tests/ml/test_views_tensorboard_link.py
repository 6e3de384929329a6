"""The staff training page links each run to its TensorBoard curves when
``TENSORBOARD_URL`` is set, and the link's run filter selects exactly the run that a
TensorBoard serving ``ML_ARTIFACTS_DIR/runs`` shows for it."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from tensorboard.backend.event_processing.plugin_event_multiplexer import (
    EventMultiplexer,
)
from torch.utils.tensorboard import SummaryWriter

from ml.models import TrainingRun

pytestmark = pytest.mark.django_db

LINK = re.compile(r'<a class="small tensorboard-link" href="([^"]+)"')


def _runs():
    return [
        TrainingRun.objects.create(status="succeeded", parameters={"epochs": 1})
        for _ in range(2)
    ]


def test_each_run_links_to_its_curves_when_tensorboard_url_is_set(
    client_logged_in_as, staff_user, settings
):
    # Given TensorBoard's address and two runs
    settings.TENSORBOARD_URL = "http://tensorboard.example:6006/"
    first, second = _runs()
    # When staff open the training page
    html = client_logged_in_as(staff_user).get("/staff/training/").content.decode()
    # Then each run links to TensorBoard filtered on that run, newest first
    assert LINK.findall(html) == [
        f"http://tensorboard.example:6006/?runFilter=%5E{second.pk}%2F#timeseries",
        f"http://tensorboard.example:6006/?runFilter=%5E{first.pk}%2F#timeseries",
    ]


def test_no_link_without_tensorboard_url(client_logged_in_as, staff_user, settings):
    settings.TENSORBOARD_URL = ""
    _runs()
    html = client_logged_in_as(staff_user).get("/staff/training/").content.decode()
    assert "tensorboard-link" not in html
    assert LINK.findall(html) == []


def test_the_link_filter_matches_only_its_run_in_tensorboard(
    client_logged_in_as, staff_user, settings, artifacts
):
    # Given runs 1..n of which two wrote TensorBoard logs where training writes them
    # (ML_ARTIFACTS_DIR/runs/<run id>/tensorboard), one id a prefix of the other's
    settings.TENSORBOARD_URL = "http://tb.example"
    runs = {run.pk: run for run in _runs()}
    ids = sorted(runs)
    for run_id in (ids[0], int(f"{ids[0]}0")):
        log_dir = artifacts / "runs" / str(run_id) / "tensorboard"
        writer = SummaryWriter(log_dir=str(log_dir))
        writer.add_scalar("text/val_weighted_f1", 0.5, 1)
        writer.close()
    # When TensorBoard reads the folder `make tensorboard` serves
    multiplexer = EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(artifacts / "runs"))
    names = sorted(multiplexer.Runs())
    assert names == sorted([f"{ids[0]}/tensorboard", f"{ids[0]}0/tensorboard"])
    # Then the first run's link filters in its own logs only
    html = client_logged_in_as(staff_user).get("/staff/training/").content.decode()
    link = next(url for url in LINK.findall(html) if f"%5E{ids[0]}%2F" in url)
    pattern = parse_qs(urlsplit(link).query)["runFilter"][0]
    assert [name for name in names if re.search(pattern, name)] == [
        f"{ids[0]}/tensorboard"
    ]
