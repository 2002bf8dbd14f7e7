"""Seconds per fine-tuning epoch on ogbg-molbace's scaffold training split for the 5-layer
molecule GIN at 300 units (the paper's width) and at 128 and 64, two epochs each: why the
transfer cell runs at 64 units on CPU.

Usage: GRAPHSSL_MIRROR=../shared/datasets OMP_NUM_THREADS=1 python benchmarks/speed_finetune_width.py
"""
import os
import time

from ogb.graphproppred import Evaluator

from graphssl.data import load_dataset
from graphssl.data.molecules import OneHotCategorical
from graphssl.encoders import GINEEncoder
from graphssl.evaluate.transfer import finetune


def main():
    ds = load_dataset("ogbg-molbace", root=os.environ.get("GRAPHSSL_ROOT", "datasets"),
                      mirror=os.environ.get("GRAPHSSL_MIRROR"))
    ds.transform = OneHotCategorical()
    split, evaluator = ds.get_idx_split(), Evaluator("ogbg-molbace")
    for hidden in (300, 128, 64):
        enc = GINEEncoder(174, hidden, num_layers=5, batch_norm=True, act_last=False,
                          activation="relu")
        start = time.perf_counter()
        finetune(enc, ds, split, evaluator, 1, epochs=2, seed=0)
        print(f"{hidden} units: {(time.perf_counter() - start) / 2:.1f} s per epoch", flush=True)


if __name__ == "__main__":
    main()
