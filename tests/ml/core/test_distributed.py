"""Two CPU ranks (gloo, torchrun) train the same model as one process, and only
rank 0 writes checkpoints and the bundle."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from ml.core import distributed
from ml.core.distributed_train import main
from tests.ml.core.samples import text_samples

ROOT = Path(__file__).resolve().parents[3]
# Text only, no dropout (each rank would draw its own masks), class-balanced rows.
CONFIG = {
    "backbone": None,
    "epochs": 2,
    "patience": 5,
    "text_batch_size": 16,
    "text_lr": 1e-2,
    "vocab_size": 120,
    "min_frequency": 1,
    "embed_dim": 16,
    "hidden_size": 16,
    "dropout": 0.0,
    "sparse_text": False,
    "sentence_text": False,
    "device": "cpu",
    "num_threads": 1,
}


def write_csv(path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "title", "description", "category", "image"])
        for i, s in enumerate(text_samples(20)):
            writer.writerow([i, s.title, s.description or "", s.label, ""])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_group(command: list[str], env: dict[str, str], logs: Path) -> str:
    """Run ``command`` (torchrun); past 120 s stop it with SIGTERM, on which torchrun
    stops its ranks (each in a session of its own, so they must not be left hung).
    Output goes to files: a hung rank would keep a pipe open. Returns stdout."""
    out, err = logs.with_suffix(".out"), logs.with_suffix(".err")
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr
        )
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=60)
            raise
    assert process.returncode == 0, err.read_text()[-3000:]
    return out.read_text()


def bundle_weights(root: Path) -> dict[str, torch.Tensor]:
    (bundle,) = [p for p in root.iterdir() if (p / "bundle.json").is_file()]
    return torch.load(bundle / "text_net.pt", weights_only=True)


def test_single_process_helpers_are_no_ops():
    assert distributed.env_from_environ({}) is None
    assert distributed.env_from_environ(
        {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}
    ) == distributed.DistEnv(rank=1, local_rank=0, world_size=2)
    assert not distributed.active() and distributed.is_main()
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    assert distributed.mean(0.25) == 0.25
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, torch.device("cpu")) is model
    loader = distributed.distributed_loader(list(range(10)), 4, seed=1)
    assert sorted(torch.cat(list(loader)).tolist()) == list(range(10))


def test_sharded_batches_cover_each_global_batch():
    batches = [[0, 1, 2, 3, 4], [5]]
    shards = [list(distributed.ShardedBatchSampler(batches, r, 2)) for r in (0, 1)]
    assert shards == [[[0, 2, 4], [5]], [[1, 3], [5]]]


def test_two_ranks_match_one_process(tmp_path):
    data = tmp_path / "products.csv"
    write_csv(data)
    config = json.dumps(CONFIG)
    single, multi = tmp_path / "single", tmp_path / "multi"
    assert main(["--csv", str(data), "--out", str(single), "--config", config]) == 0

    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE")}
    env["PYTHONPATH"] = str(ROOT)

    def torchrun(out: Path) -> str:
        command = [sys.executable, "-m", "torch.distributed.run"]
        command += ["--nproc_per_node", "2", "--master_addr", "127.0.0.1"]
        command += ["--master_port", str(free_port())]
        command += ["-m", "ml.core.distributed_train", "--csv", str(data)]
        command += ["--out", str(out), "--work", str(multi / "work")]
        command += ["--config", config]
        return run_group(command, env, out.with_name(f"{out.name}-torchrun"))

    done = torchrun(multi)
    summaries = [json.loads(x) for x in done.splitlines() if x.startswith("{")]
    assert len(summaries) == 1 and summaries[0]["world_size"] == 2  # rank 0 only

    # only rank 0 checkpoints; rank 1 keeps just its tokenizer
    assert (multi / "work" / "checkpoints" / "text.pt").is_file()
    rank1 = multi / "work" / "rank-1"
    assert sorted(p.name for p in rank1.iterdir()) == ["tokenizer"]
    bundles = [p for p in multi.iterdir() if (p / "bundle.json").is_file()]
    assert len(bundles) == 1

    # Same global batches, gradients averaged over two half batches: the weights
    # differ from one process only by float rounding (the mean of two shard means
    # is the batch mean because the shards hold equal counts of equally weighted
    # rows here: 42 train rows, 14 per class, batches 16/16/10). Measured: at most
    # 2.4e-7 on weights of magnitude up to 4; atol 1e-5 leaves a 40x margin, far
    # below what a missing gradient average (half the data per rank) would give.
    one, two = bundle_weights(single), bundle_weights(multi)
    assert one.keys() == two.keys()
    for key in one:
        assert torch.allclose(one[key], two[key], atol=1e-5, rtol=0), key

    # A rerun resumes from rank 0's checkpoint, which rank 1 (no checkpoint of its
    # own) receives by broadcast: no epoch left, the same weights. Were rank 1 to
    # start afresh, the ranks' collectives would not match and the run would fail.
    torchrun(tmp_path / "again")
    resumed = bundle_weights(tmp_path / "again")
    assert all(torch.equal(resumed[key], two[key]) for key in two)


def test_entry_point_fills_and_trains_from_a_feature_store(tmp_path):
    from ml.core.feature_store import FeatureStore
    from tests.ml.core.samples import multimodal_samples

    images, photos = tmp_path / "images", set()
    images.mkdir()
    data = tmp_path / "products.csv"
    with open(data, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["product_id", "title", "description", "category", "image"])
        for i, s in enumerate(multimodal_samples(8)):
            name = ""
            if s.image is not None:
                name = f"{i}.jpg"
                (images / name).write_bytes(s.image)
                photos.add(s.image)
            writer.writerow([i, s.title, s.description or "", s.label, name])
    config = {**CONFIG, "backbone": "efficientnet_lite0", "epochs": 3}
    args = ["--csv", str(data), "--out", str(tmp_path / "out"), "--store"]
    args += ["--features", str(tmp_path / "fs"), "--feature-workers", "2"]
    assert main([*args, "--config", json.dumps(config)]) == 0

    (meta,) = (tmp_path / "fs").rglob("meta.json")
    store = FeatureStore(meta.parent.parent, meta.parent.name, 1280)
    assert len(store) == len(photos)  # every distinct photo, once
    (bundle,) = [p for p in (tmp_path / "out").iterdir() if p.name != "work"]
    assert (bundle / "image_head.pt").is_file()
