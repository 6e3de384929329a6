"""The promotion gate: score a candidate and the active model on the evaluation slice
(and its recent window), apply the rules, and promote or hold the candidate."""

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_event_record
from ml.gate_rules import GateDecision, GateRules, gate_decide
from ml.models import (
    ModelVersion,
)
from ml.selectors.model_versions import model_version_get_active
from ml.services.batch_predict import batch_items_predict
from ml.services.batch_scopes import BatchItem
from ml.services.model_versions import model_version_activate
from ml.services.training_data import evaluation_slice_products
from rakuten.exceptions import ApplicationError


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
    """``version``'s top category for every item, predicted by the batch engine's
    chunk prediction (``ml.services.batch_predict``: the same code as a batch job of
    scope "gate")."""
    predictions = batch_items_predict(
        version=version,
        items=[
            BatchItem(
                item_id=index,
                title=item["title"],
                description=item["description"],
                image=item["image"],
            )
            for index, item in enumerate(items)
        ],
        top_k=1,
    )
    return [prediction.code for prediction in predictions]


# ``active`` not given: compare with the model active now.
ACTIVE_NOW = object()


def model_version_gate(*, candidate: ModelVersion, active=ACTIVE_NOW) -> GateDecision:
    """Score ``candidate`` and the active model on the fixed evaluation slice (never
    trained on) and on its recent window (the slice's products confirmed since the
    active model was made, within ``ML_METRICS_WINDOW_DAYS``: the new products). The
    candidate is promoted only if, on both, its weighted F1 is at least the active
    one's plus ``ML_PROMOTION_MARGIN``, and no category loses more than
    ``ML_PROMOTION_MAX_CATEGORY_DROP`` of F1 on the slice (a category with fewer than
    ``ML_GATE_MIN_CATEGORY_SUPPORT`` slice products is not judged on its own; the
    default, 1, judges every one). A recent window of fewer than
    ``ML_GATE_MIN_RECENT_PRODUCTS`` products is reported, not checked. Each model
    predicts the slice once; the rules are ``ml.gate_rules.gate_decide``."""
    from ml.core.errors import MLError

    # ``active``: the model to compare with, when it is no longer the active one (a
    # run that activated its model is scored against the one it replaced, or None).
    if active is ACTIVE_NOW:
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
    since = max(
        active.created_at,
        timezone.now() - timedelta(days=settings.ML_METRICS_WINDOW_DAYS),
    )
    decision = gate_decide(
        truth=[item["label"] for item in items],
        candidate=ours_pred,
        active=theirs_pred,
        confirmed_at=[item["confirmed_at"] for item in items],
        since=since,
        rules=GateRules(
            margin=settings.ML_PROMOTION_MARGIN,
            max_category_drop=settings.ML_PROMOTION_MAX_CATEGORY_DROP,
            min_recent_products=settings.ML_GATE_MIN_RECENT_PRODUCTS,
            min_category_support=settings.ML_GATE_MIN_CATEGORY_SUPPORT,
        ),
        active_version=active.pk,
    )
    if len(items) < settings.ML_MIN_VALIDATION_PRODUCTS:
        decision.reasons.append(
            f"the evaluation slice has {len(items)} product"
            f"{'' if len(items) == 1 else 's'}, fewer than "
            f"{settings.ML_MIN_VALIDATION_PRODUCTS}: not enough data, these F1 "
            "figures say little"
        )
    return decision


def _gate_verdict(decision: GateDecision, *, applied: bool) -> dict:
    """What ``ModelVersion.gate`` stores: the decision, and whether it was applied
    (the candidate promoted when it passed) or only scored."""
    return {**decision.as_dict(), "applied": applied}


def model_version_gate_apply(*, candidate: ModelVersion) -> GateDecision:
    """Run the gate, store its decision on the candidate and promote it when it
    passes (through ``model_version_activate``: atomic, kept in the history); it
    otherwise stays ready for a staff decision."""
    decision = model_version_gate(candidate=candidate)
    with transaction.atomic():
        ModelVersion.objects.filter(pk=candidate.pk).update(
            gate=_gate_verdict(decision, applied=True)
        )
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


def model_version_gate_score(
    *, candidate: ModelVersion, active=ACTIVE_NOW
) -> GateDecision:
    """Run the gate and store its decision on the candidate (``applied`` False),
    without promoting it: the verdict of a run that did not ask for the gate (a
    manual one), for staff to read; ``active`` as for ``model_version_gate``. A gate
    that cannot score (a model's bundle unreadable) is stored as a hold with the
    reason, and the run stays a success."""
    try:
        decision = model_version_gate(candidate=candidate, active=active)
    except ApplicationError as exc:
        decision = GateDecision(
            promote=False,
            reasons=[f"the gate could not score this model: {exc.message}"],
        )
    ModelVersion.objects.filter(pk=candidate.pk).update(
        gate=_gate_verdict(decision, applied=False)
    )
    audit_event_record(
        verb="model_version.scored",
        obj=candidate,
        message=("gate would promote: " if decision.promote else "gate would hold: ")
        + "; ".join(decision.reasons),
        data={"promote": decision.promote, "applied": False},
    )
    return decision
