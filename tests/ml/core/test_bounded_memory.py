"""Training memory that does not grow with the rows: the TF-IDF branch fitted on a
bounded sample, the fusion's grid scored in bounded chunks."""

import torch

from ml.core import fusion
from ml.core.branches import Run
from ml.core.config import TrainingConfig
from ml.core.data import Sample, bounded_rows
from ml.core.linear_branches import train_sparse_branch
from ml.core.sparse import sparse_inputs


def test_bounded_rows_keeps_every_row_under_the_cap():
    rows = [5, 7, 9]
    assert bounded_rows(rows, [0, 1, 0], None, seed=0) == rows
    assert bounded_rows(rows, [0, 1, 0], 3, seed=0) == rows


def test_bounded_rows_keeps_each_category_share_and_follows_the_seed():
    rows = list(range(1000, 1100))
    targets = [0] * 60 + [1] * 30 + [2] * 10

    kept = bounded_rows(rows, targets, 10, seed=0)

    assert len(kept) == 10
    assert kept == sorted(kept) and set(kept) <= set(rows)
    shares = [targets[rows.index(i)] for i in kept]
    assert (shares.count(0), shares.count(1), shares.count(2)) == (6, 3, 1)
    assert bounded_rows(rows, targets, 10, seed=0) == kept
    assert bounded_rows(rows, targets, 10, seed=1) != kept


def test_bounded_rows_gives_largest_remainders_then_one_row_to_a_tiny_category():
    rows = list(range(101))
    targets = [0] * 55 + [1] * 45 + [2]
    # quotas 5.45, 4.46, 0.10: floors 5 + 4, the one left to the largest remainder
    # (category 1), and category 2 gets one row beyond the cap
    shares = [targets[i] for i in bounded_rows(rows, targets, 10, seed=0)]
    assert (shares.count(0), shares.count(1), shares.count(2)) == (5, 5, 1)


def _run(config: TrainingConfig, y: list[int], n_train: int) -> Run:
    n = len(y)
    return Run(
        config=config,
        labels=["a", "b"],
        y=torch.tensor(y),
        train_idx=list(range(n_train)),
        val_idx=list(range(n_train, n)),
        fusion_idx=list(range(n_train, n)),
        work_dir=None,
        device=torch.device("cpu"),
        fingerprint={},
        progress=None,
        writer=None,
        data_hash="",
        stack_rows=list(range(n)),
    )


def test_sparse_branch_fits_a_bounded_sample_and_scores_the_rest_out_of_fold():
    words = {0: ["red", "wine", "bottle"], 1: ["blue", "cotton", "shirt"]}
    y = [i % 2 for i in range(40)]
    samples = [
        Sample(f"{words[c][i % 3]} {words[c][(i + 1) % 3]} item{i}", label="ab"[c])
        for i, c in enumerate(y)
    ]
    config = TrainingConfig(linear_max_rows=12, fusion_folds=3)
    run = _run(config, y, 30)

    branch = train_sparse_branch(run, samples)

    kept = bounded_rows(list(range(40)), y, 12, seed=0)
    unseen = [i for i in range(40) if i not in kept]
    assert len(kept) == 12 and len(unseen) == 28
    # the bundle's model saw the sample only: item numbers of other rows are unknown
    vocabulary = branch.model.vectorizers["words"].vocabulary_
    assert {f"item{i}" for i in kept} <= set(vocabulary)
    assert not {f"item{i}" for i in unseen} & set(vocabulary)
    # rows outside the sample get that model's margins, which are out of fold there
    inputs = [sparse_inputs(sample.title, None) for sample in samples]
    expected = branch.model.logits([inputs[i] for i in unseen])
    assert torch.equal(branch.oof[unseen], expected)
    assert (branch.oof[unseen].argmax(dim=1) == torch.tensor(y)[unseen]).all()
    assert branch.n_fit == 12

    unbounded = _run(TrainingConfig(linear_max_rows=None, fusion_folds=3), y, 30)
    branch = train_sparse_branch(unbounded, samples)
    assert set(branch.model.vectorizers["words"].vocabulary_) >= {
        f"item{i}" for i in range(40)
    }
    assert branch.n_fit == 40


def test_sparse_scores_are_the_same_in_chunks(monkeypatch):
    from ml.core import sparse

    samples = [sparse_inputs(f"word{i % 5} thing", None) for i in range(30)]
    model = sparse.fit_sparse(samples, [i % 5 % 2 for i in range(30)], ["a", "b"])
    whole = model.logits(samples)
    monkeypatch.setattr(sparse, "_SCORE_CHUNK", 7)
    assert torch.allclose(model.logits(samples), whole, atol=1e-6)
    assert model.logits([]).shape == (0, 2)


def test_grid_search_in_small_chunks_chooses_the_same_weights(monkeypatch):
    generator = torch.Generator().manual_seed(0)
    n, c = 200, 5
    y = torch.randint(0, c, (n,), generator=generator)
    probs = {
        name: torch.softmax(
            torch.randn(n, c, generator=generator) * 2
            + torch.nn.functional.one_hot(y, c) * shift,
            dim=1,
        )
        for name, shift in (("text", 1.5), ("tfidf", 2.0), ("image", 1.0))
    }
    available = {name: torch.ones(n, dtype=torch.bool) for name in probs}
    available["image"][::3] = False

    expected = fusion.choose_weights(probs, available, y)
    # one grid point per step: the fused tensor never holds more than N * C floats
    monkeypatch.setattr(fusion, "_GRID_ELEMENTS", n * c)
    assert fusion.choose_weights(probs, available, y) == expected


def test_sentence_head_fits_the_same_bounded_sample_and_embeds_the_rest():
    from ml.core.linear_branches import train_sentence_branch
    from ml.core.sentence import embed
    from ml.core.transforms import product_text

    names = {0: ["red wine", "white wine", "sparkling wine"], 1: ["cotton shirt"]}
    names[1] += ["linen shirt", "wool jumper"]
    y = [i % 2 for i in range(40)]
    samples = [Sample(f"{names[c][i % 3]} {i}", label="ab"[c]) for i, c in enumerate(y)]
    run = _run(TrainingConfig(linear_max_rows=12, fusion_folds=3), y, 30)

    branch = train_sentence_branch(run, samples)

    kept = bounded_rows(list(range(40)), y, 12, seed=0)
    unseen = [i for i in range(40) if i not in kept]
    assert branch.n_fit == 12
    texts = [product_text(samples[i].title, None) for i in unseen]
    expected = branch.head.logits(embed(texts))
    assert torch.allclose(branch.oof[unseen], expected, atol=1e-5)
    assert (branch.oof[unseen].argmax(dim=1) == torch.tensor(y)[unseen]).all()
    # every row has out-of-fold margins
    assert bool((branch.oof.abs().sum(dim=1) > 0).all())
