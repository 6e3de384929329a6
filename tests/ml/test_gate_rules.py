"""The promotion gate's rules, called directly: no database, no model."""

from datetime import UTC, datetime

from ml.gate_rules import GateRules, gate_decide

OLD = datetime(2026, 11, 1, tzinfo=UTC)
NEW = datetime(2026, 11, 20, tzinfo=UTC)
SINCE = datetime(2026, 11, 15, tzinfo=UTC)


def decide(truth, candidate, active, confirmed_at=None, **rules):
    return gate_decide(
        truth=truth,
        candidate=candidate,
        active=active,
        confirmed_at=confirmed_at or [OLD] * len(truth),
        since=SINCE,
        rules=GateRules(**rules),
        active_version=7,
    )


def test_a_better_candidate_is_promoted_and_the_reasons_say_why():
    # Given a candidate right on 4 of 4 and an active model right on 2 of 4
    truth = ["a", "a", "b", "b"]
    decision = decide(truth, ["a", "a", "b", "b"], ["a", "b", "b", "a"])
    # Then it is promoted, with the slice's figures and an unchecked recent window
    assert decision.promote is True
    assert decision.reasons == [
        "evaluation slice: weighted F1 1.000 >= 0.500 (active 0.500 + margin 0.00)"
        " on 4 products",
        "recent window: 0 products, fewer than 20: not checked",
    ]
    assert decision.candidate_metrics["per_class"] == {"a": 1.0, "b": 1.0}
    assert decision.active_metrics["per_class"] == {"a": 0.5, "b": 0.5}
    assert decision.active_version == 7
    assert decision.recent == {
        "n": 0,
        "checked": False,
        "since": "2026-11-15T00:00:00+00:00",
        "candidate": None,
        "active": None,
    }


def test_a_candidate_under_the_margin_is_held():
    truth = ["a", "a", "b", "b"]
    decision = decide(truth, ["a", "a", "b", "b"], ["a", "a", "b", "b"], margin=0.01)
    assert decision.promote is False
    assert decision.reasons[0] == (
        "evaluation slice: weighted F1 1.000 < 1.010 (active 1.000 + margin 0.01)"
        " on 4 products"
    )


def test_a_category_that_drops_too_much_holds_a_better_candidate():
    # Given a candidate better overall that loses category c
    truth = ["a"] * 4 + ["b"] * 4 + ["c"] * 2
    candidate = ["a"] * 4 + ["b"] * 4 + ["c", "a"]
    active = ["a", "a", "b", "b"] + ["b"] * 4 + ["c", "c"]
    decision = decide(truth, candidate, active)
    # Then the slice rule passes but the drop of c (1.0 -> 0.667) holds it
    assert decision.promote is False
    assert decision.reasons[0] == (
        "evaluation slice: weighted F1 0.889 >= 0.787 (active 0.787 + margin 0.00)"
        " on 10 products"
    )
    assert decision.reasons[2] == "category c F1 drops by 0.333"
    # unless c has too few slice products to be judged on its own
    lenient = decide(truth, candidate, active, min_category_support=3)
    assert lenient.promote is True
    assert len(lenient.reasons) == 2


def test_the_recent_window_is_checked_once_it_has_enough_products():
    # Given 4 products confirmed after `since`, on which the candidate is worse
    truth = ["a", "a", "b", "b", "a", "b"]
    candidate = ["a", "a", "b", "b", "b", "a"]
    active = ["a", "b", "b", "a", "a", "b"]
    confirmed = [NEW, NEW, NEW, NEW, OLD, OLD]
    decision = decide(truth, candidate, active, confirmed, min_recent_products=4)
    # Then the recent window decides: candidate 1.000 on it, active 0.500 -> promoted
    assert decision.recent["n"] == 4 and decision.recent["checked"] is True
    assert decision.recent["candidate"]["weighted_f1"] == 1.0
    assert decision.recent["active"]["weighted_f1"] == 0.5
    assert decision.reasons[1] == (
        "recent window: weighted F1 1.000 >= 0.500 (active 0.500 + margin 0.00)"
        " on 4 products"
    )
    assert decision.promote is True
    # and with the window reversed, the same slice figures are held by it
    held = decide(truth, active, candidate, confirmed, min_recent_products=4)
    assert held.recent["candidate"]["weighted_f1"] == 0.5
    assert held.promote is False
