"""The promotion gate: score a candidate and the active model on the evaluation slice
(and its recent window), apply the rules, and promote or hold the candidate."""

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from ml.models import (
    ModelVersion,
)
from ml.selectors.model_versions import model_version_get_active
from ml.services.model_versions import model_version_activate
from ml.services.training_data import evaluation_slice_products
from rakuten.exceptions import ApplicationError


@dataclass
class GateDecision:
    promote: bool
    reasons: list[str] = field(default_factory=list)
    # on the fixed evaluation slice
    candidate_metrics: dict = field(default_factory=dict)
    active_metrics: dict | None = None
    active_version: int | None = None
    # on the recent window: {"n", "checked", "since", "candidate", "active"}
    recent: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def evaluation_slice_items() -> list[dict]:
    """The evaluation slice as evaluation items (with ``confirmed_at``), in pk order."""
    media = Path(settings.MEDIA_ROOT)
    return [
        {
            "title": title,
            "description": description,
            "image": (media / image) if image else None,
            "label": code,
            "confirmed_at": confirmed_at,
        }
        for title, description, image, code, confirmed_at in evaluation_slice_products()
        .order_by("pk")
        .values_list("title", "description", "image", "category__code", "confirmed_at")
    ]


def _slice_predictions(version: ModelVersion, items: list[dict]) -> list[str]:
    """``version``'s top category for every item."""
    from ml.core.inference import get_predictor

    predictor = get_predictor(version.bundle_path, version.bundle_sha256)
    return [
        result.top[0][0]
        for start in range(0, len(items), 64)
        for result in predictor.predict_batch(items[start : start + 64], top_k=1)
    ]


def _gate_metrics(truth: list[str], predicted: list[str]) -> dict:
    from ml.core.metrics import classification_metrics

    report = classification_metrics(
        truth, predicted, labels=sorted(set(truth) | set(predicted))
    )
    return {
        "n": report["n"],
        "accuracy": report["accuracy"],
        "weighted_f1": report["weighted_f1"],
        "per_class": {
            code: round(float(report["per_class"][code]["f1"]), 4)
            for code in sorted(set(truth))
        },
    }


def _f1_rule(ours: dict, theirs: dict, where: str) -> tuple[bool, str]:
    needed = theirs["weighted_f1"] + settings.ML_PROMOTION_MARGIN
    ok = ours["weighted_f1"] >= needed
    return ok, (
        f"{where}: weighted F1 {ours['weighted_f1']:.3f} {'>=' if ok else '<'} "
        f"{needed:.3f} (active {theirs['weighted_f1']:.3f} + margin "
        f"{settings.ML_PROMOTION_MARGIN:.2f}) on {ours['n']} products"
    )


def model_version_gate(*, candidate: ModelVersion) -> GateDecision:
    """Score ``candidate`` and the active model on the fixed evaluation slice (never
    trained on) and on its recent window (the slice's products confirmed since the
    active model was made, within ``ML_METRICS_WINDOW_DAYS``: the new products). The
    candidate is promoted only if, on both, its weighted F1 is at least the active
    one's plus ``ML_PROMOTION_MARGIN``, and no category loses more than
    ``ML_PROMOTION_MAX_CATEGORY_DROP`` of F1 on the slice (a category with fewer than
    ``ML_GATE_MIN_CATEGORY_SUPPORT`` slice products is not judged on its own; the
    default, 1, judges every one). A recent window of fewer than
    ``ML_GATE_MIN_RECENT_PRODUCTS`` products is reported, not checked. Each model
    predicts the slice once."""
    from ml.core.errors import MLError

    active = model_version_get_active()
    if active is None:
        return GateDecision(promote=True, reasons=["no model is active"])
    items = evaluation_slice_items()
    if not items:
        return GateDecision(
            promote=False,
            reasons=["the evaluation slice is empty: a staff decision is needed"],
            active_version=active.pk,
        )
    try:
        ours_pred = _slice_predictions(candidate, items)
        theirs_pred = _slice_predictions(active, items)
    except MLError as exc:
        raise ApplicationError(str(exc)) from exc
    truth = [item["label"] for item in items]
    ours, theirs = _gate_metrics(truth, ours_pred), _gate_metrics(truth, theirs_pred)
    f1_ok, reason = _f1_rule(ours, theirs, "evaluation slice")
    reasons = [reason]

    since = max(
        active.created_at,
        timezone.now() - timedelta(days=settings.ML_METRICS_WINDOW_DAYS),
    )
    recent = [
        i
        for i, item in enumerate(items)
        if item["confirmed_at"] is not None and item["confirmed_at"] >= since
    ]
    checked = len(recent) >= settings.ML_GATE_MIN_RECENT_PRODUCTS
    recent_ours = recent_theirs = None
    recent_ok = True
    if checked:
        recent_truth = [truth[i] for i in recent]
        recent_ours = _gate_metrics(recent_truth, [ours_pred[i] for i in recent])
        recent_theirs = _gate_metrics(recent_truth, [theirs_pred[i] for i in recent])
        recent_ok, reason = _f1_rule(recent_ours, recent_theirs, "recent window")
        reasons.append(reason)
    else:
        reasons.append(
            f"recent window: {len(recent)} products, fewer than "
            f"{settings.ML_GATE_MIN_RECENT_PRODUCTS}: not checked"
        )

    support = Counter(truth)
    drops = sorted(
        (theirs["per_class"][code] - f1, code)
        for code, f1 in ours["per_class"].items()
        if theirs["per_class"][code] - f1 > settings.ML_PROMOTION_MAX_CATEGORY_DROP
        and support[code] >= settings.ML_GATE_MIN_CATEGORY_SUPPORT
    )
    for drop, code in reversed(drops):
        reasons.append(f"category {code} F1 drops by {drop:.3f}")
    return GateDecision(
        promote=f1_ok and recent_ok and not drops,
        reasons=reasons,
        candidate_metrics=ours,
        active_metrics=theirs,
        active_version=active.pk,
        recent={
            "n": len(recent),
            "checked": checked,
            "since": since.isoformat(timespec="seconds"),
            "candidate": recent_ours,
            "active": recent_theirs,
        },
    )


def model_version_gate_apply(*, candidate: ModelVersion) -> GateDecision:
    """Run the gate, store its decision on the candidate and promote it when it
    passes (through ``model_version_activate``: atomic, kept in the history); it
    otherwise stays ready for a staff decision."""
    decision = model_version_gate(candidate=candidate)
    with transaction.atomic():
        ModelVersion.objects.filter(pk=candidate.pk).update(gate=decision.as_dict())
        audit_event_record(
            verb="model_version.gated",
            obj=candidate,
            message=("promote: " if decision.promote else "hold: ")
            + "; ".join(decision.reasons),
            data={"promote": decision.promote},
        )
        if decision.promote:
            model_version_activate(
                version=candidate, reason=f"gate: {decision.reasons[0]}"[:200]
            )
    return decision
