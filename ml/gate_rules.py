"""The promotion gate's rules, as a pure function of the labels and both models'
predictions: no database, no settings, no torch. ``ml.services.gate`` gathers the
evaluation slice and the predictions, reads the thresholds from the settings and calls
:func:`gate_decide`."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

from ml.core.metrics import classification_metrics


@dataclass(frozen=True)
class GateRules:
    """The thresholds (``ML_PROMOTION_MARGIN``, ``ML_PROMOTION_MAX_CATEGORY_DROP``,
    ``ML_GATE_MIN_RECENT_PRODUCTS``, ``ML_GATE_MIN_CATEGORY_SUPPORT``)."""

    margin: float = 0.0
    max_category_drop: float = 0.10
    min_recent_products: int = 20
    min_category_support: int = 1


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


def gate_metrics(truth: Sequence[str], predicted: Sequence[str]) -> dict:
    """Weighted F1, accuracy and per-category F1 (categories of ``truth``)."""
    report = classification_metrics(
        list(truth), list(predicted), labels=sorted(set(truth) | set(predicted))
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


def _f1_rule(ours: dict, theirs: dict, where: str, margin: float) -> tuple[bool, str]:
    needed = theirs["weighted_f1"] + margin
    ok = ours["weighted_f1"] >= needed
    return ok, (
        f"{where}: weighted F1 {ours['weighted_f1']:.3f} {'>=' if ok else '<'} "
        f"{needed:.3f} (active {theirs['weighted_f1']:.3f} + margin "
        f"{margin:.2f}) on {ours['n']} products"
    )


def gate_decide(
    *,
    truth: Sequence[str],
    candidate: Sequence[str],
    active: Sequence[str],
    confirmed_at: Sequence[datetime | None],
    since: datetime,
    rules: GateRules,
    active_version: int | None = None,
) -> GateDecision:
    """Decide on a candidate from both models' predictions on the evaluation slice
    (``truth``, ``candidate`` and ``active`` aligned, with each product's
    ``confirmed_at``). The candidate is promoted only if, on the slice and on its
    recent window (products confirmed at or after ``since``), its weighted F1 is at
    least the active one's plus the margin, and no category with at least
    ``min_category_support`` slice products loses more than ``max_category_drop`` of
    F1. A recent window under ``min_recent_products`` is reported, not checked."""
    ours, theirs = gate_metrics(truth, candidate), gate_metrics(truth, active)
    f1_ok, reason = _f1_rule(ours, theirs, "evaluation slice", rules.margin)
    reasons = [reason]

    recent = [i for i, at in enumerate(confirmed_at) if at is not None and at >= since]
    checked = len(recent) >= rules.min_recent_products
    recent_ours = recent_theirs = None
    recent_ok = True
    if checked:
        recent_truth = [truth[i] for i in recent]
        recent_ours = gate_metrics(recent_truth, [candidate[i] for i in recent])
        recent_theirs = gate_metrics(recent_truth, [active[i] for i in recent])
        recent_ok, reason = _f1_rule(
            recent_ours, recent_theirs, "recent window", rules.margin
        )
        reasons.append(reason)
    else:
        reasons.append(
            f"recent window: {len(recent)} products, fewer than "
            f"{rules.min_recent_products}: not checked"
        )

    support = Counter(truth)
    drops = sorted(
        (theirs["per_class"][code] - f1, code)
        for code, f1 in ours["per_class"].items()
        if theirs["per_class"][code] - f1 > rules.max_category_drop
        and support[code] >= rules.min_category_support
    )
    for drop, code in reversed(drops):
        reasons.append(f"category {code} F1 drops by {drop:.3f}")
    return GateDecision(
        promote=f1_ok and recent_ok and not drops,
        reasons=reasons,
        candidate_metrics=ours,
        active_metrics=theirs,
        active_version=active_version,
        recent={
            "n": len(recent),
            "checked": checked,
            "since": since.isoformat(timespec="seconds"),
            "candidate": recent_ours,
            "active": recent_theirs,
        },
    )
