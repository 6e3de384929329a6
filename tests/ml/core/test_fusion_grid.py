"""The vectorised simplex search scores every grid point as the plain loop would."""

import torch
from sklearn.metrics import f1_score

from ml.core.fusion import choose_weights, fuse, simplex_grid, weighted_f1_many


def test_weighted_f1_many_is_sklearns_weighted_f1():
    y = torch.tensor([0, 0, 1, 2, 2, 2])
    predictions = torch.tensor(
        [[0, 1, 1, 2, 2, 0], [0, 0, 1, 2, 2, 2], [3, 3, 3, 3, 3, 3]]
    )

    scores = weighted_f1_many(y, predictions, 4).tolist()

    # class 0: tp 1, predicted 2, true 2 -> 0.5; class 1: 1, 2, 1 -> 2/3;
    # class 2: 2, 2, 3 -> 0.8; weighted by support 2, 1, 3 over 6 products
    assert abs(scores[0] - (2 * 0.5 + 2 / 3 + 3 * 0.8) / 6) < 1e-15
    assert scores[1] == 1.0
    assert scores[2] == 0.0
    for row, score in zip(predictions.tolist(), scores, strict=True):
        expected = f1_score(y.tolist(), row, average="weighted", zero_division=0)
        assert abs(score - expected) < 1e-12


def _loop_search(probs, available, y):
    """The reference: fuse and score each grid point one at a time."""
    names = list(probs)
    best, chosen = None, None
    for point in simplex_grid(len(names)):
        weights = dict(zip(names, point, strict=True))
        fused = fuse(probs, available, weights)
        f1 = f1_score(y.tolist(), fused.argmax(dim=1).tolist(), average="weighted")
        nll = float(-fused.gather(1, y.view(-1, 1)).double().log().mean())
        key = (round(f1, 12), -round(nll, 12))
        if best is None or key > best:
            best, chosen = key, weights
    return chosen, best[0]


def test_choose_weights_matches_the_point_by_point_search():
    generator = torch.Generator().manual_seed(3)
    n, classes = 120, 5
    y = torch.randint(0, classes, (n,), generator=generator)
    probs = {}
    for name, sharpness in (("text", 1.0), ("tfidf", 3.0), ("image", 2.0)):
        logits = torch.randn(n, classes, generator=generator)
        logits[torch.arange(n), y] += sharpness
        probs[name] = logits.softmax(dim=1)
    available = {
        "text": torch.ones(n, dtype=torch.bool),
        "tfidf": torch.rand(n, generator=generator) > 0.1,
        "image": torch.rand(n, generator=generator) > 0.5,
    }

    weights, f1 = choose_weights(probs, available, y)

    # 231 points for 3 branches: several vectorised chunks
    assert len(simplex_grid(3)) == 231
    assert (weights, f1) == _loop_search(probs, available, y)
    assert weights["tfidf"] > weights["text"]
