"""Diagnostic for GraphMAE on Cora (issue 4): which of the known differences from the authors'
code explains the gap? One seed of the shipped Cora configuration per variant, each variant
changing one thing; every variant's embeddings are probed three ways (L-BFGS logistic
regression on raw and on L2-normalised rows, C chosen on validation; the authors' Adam probe,
epoch chosen on validation), and their collapse is measured (dimensions with std < 1e-6 over
the nodes, effective rank = (sum s)^2 / sum s^2 of the centred singular values).

    GRAPHSSL_MIRROR=../shared/datasets OMP_NUM_THREADS=2 python benchmarks/diag_graphmae_init.py \\
        [--variants pyg dgl pyg_prelu_shared dgl_prelu_shared] [--seed 0]

Variants: ``pyg``: PyG's GATConv initialisation (graphssl's default until 2026-12-01);
``dgl``: DGL's (the shipped configuration); ``*_prelu_shared``: one PReLU slope, as the
authors' ``nn.PReLU()``. Each variant takes 12-25 minutes on the 2 CPU cores here.

Measured 2026-12-01, seed 0, validation / test accuracy (L-BFGS on raw embeddings; Adam probe):
    pyg               77.2 / 80.5   75.4 / 77.7   217 dead dimensions, effective rank 14.6
    dgl               81.2 / 84.3   81.0 / 84.3   128 dead, effective rank 32.5
    pyg_prelu_shared  76.4 / 78.2   75.4 / 77.2   130 dead, effective rank 12.8
(dgl_prelu_shared: see benchmarks/README.md.)
"""
import argparse
import json

import torch

from graphssl.bench.pretrain import run_pretrain
from graphssl.data import get_split, load_dataset
from graphssl.evaluate import adam_linear_probe, linear_probe

VARIANTS = {
    "pyg": {"encoder": {"init": "pyg"}, "decoder": {"init": "pyg"}},
    "dgl": {},
    "pyg_prelu_shared": {"encoder": {"init": "pyg", "activation": "prelu_shared"},
                         "decoder": {"init": "pyg"}},
    "dgl_prelu_shared": {"encoder": {"activation": "prelu_shared"}},
}


def collapse(z: torch.Tensor) -> dict:
    s = torch.linalg.svdvals(z - z.mean(0))
    return {"dead_dims": int((z.std(0) < 1e-6).sum()),
            "effective_rank": round(float(s.sum() ** 2 / (s ** 2).sum()), 1),
            "mean_abs": float(z.abs().mean())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dataset = load_dataset("Cora")
    split = get_split(dataset, "public", 0)
    for name in args.variants:
        emb = {}
        run_pretrain("graphmae", "Cora", runs=[args.seed], progress=False, embeddings=emb,
                     overrides={"model": VARIANTS[name]}, echo=lambda *a: None)
        z, y = emb["z"], emb["y"]
        out = {"variant": name, "seed": args.seed,
               "lbfgs_raw": linear_probe(z, y, split, normalize=False),
               "lbfgs_l2": linear_probe(z, y, split, normalize=True),
               "adam": adam_linear_probe(z, y, split, lr=0.01, weight_decay=1e-4, epochs=300),
               **collapse(z)}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
