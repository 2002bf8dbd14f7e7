"""Diagnostic for GraphMAE on Amazon-Photo (issue 5's node suite): the shipped configuration
(Cora's settings, as GraphMAE reports no Photo setting) collapsed there, every one of its
1,500-epoch cells probing at the majority class (25.6%, train accuracy 24%). Which setting
does it? One seed, random split 0, a short run per variant, each variant changing one thing;
reported: the training loss along the run, the shipped Adam probe's validation and test
accuracy (validation chooses; test is printed, never used), and the embeddings' collapse
(dimensions with std < 1e-6 over the nodes; effective rank = (sum s)^2 / sum s^2 of the
centred singular values).

    GRAPHSSL_MIRROR=../shared/datasets OMP_NUM_THREADS=1 python benchmarks/diag_graphmae_photo.py \\
        [--variants shipped raw_features ...] [--epochs 100] [--seed 0] [--out FILE.jsonl]

Why the loss says collapse: Photo's features are binary bag-of-words rows (9 to 745 words), so
after row normalisation every row is non-negative and a decoder that outputs the mean row
already reaches a cosine of about 0.5 with each of them, an SCE of (1 - 0.5)^3 = 0.125 at
alpha 3: the plateau the collapsed cells sat on (0.120-0.128) from their 8th epoch on.
"""
import argparse
import json

import torch

from graphssl.bench.pretrain import run_pretrain

VARIANTS = {
    "shipped": {},
    "raw_features": {"data": {"normalize_features": False}},
    "prelu_shared": {"model": {"encoder": {"activation": "prelu_shared"}}},
    "no_weight_decay": {"train": {"weight_decay": 0.0}},
    "alpha_1": {"model": {"alpha": 1}},
    "lr_1e-4": {"train": {"lr": 1.0e-4}},
}


def collapse(z: torch.Tensor) -> dict:
    s = torch.linalg.svdvals(z - z.mean(0))
    return {"dead_dims": int((z.std(0) < 1e-6).sum()),
            "effective_rank": round(float(s.sum() ** 2 / (s ** 2).sum()), 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="append one JSON line per variant")
    args = parser.parse_args()
    for name in args.variants:
        emb = {}
        record = run_pretrain("graphmae", "Amazon-Photo", runs=[args.seed], epochs=args.epochs,
                              progress=False, embeddings=emb, overrides=VARIANTS[name],
                              echo=lambda *a: None)
        run = record["per_run"][0]
        curve = run.get("loss_curve") or []
        every = run.get("loss_curve_every", 1)
        out = {"variant": name, "seed": args.seed, "epochs": args.epochs,
               "loss_at": {str(1 + i * every): round(v, 4) for i, v in enumerate(curve)
                           if i * every in (0, 1, 4, 9, 24, 49, 99, 199, 299, 499)},
               "final_loss": run.get("final_loss"),
               "val_acc": run.get("val_acc"), "test_acc": run.get("test_acc"),
               "train_acc": run.get("train_acc"), **collapse(emb["z"]),
               "seconds_per_epoch": record.get("seconds_per_epoch")}
        print(json.dumps(out), flush=True)
        if args.out:
            with open(args.out, "a") as f:
                f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
