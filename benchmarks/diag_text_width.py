"""Diagnostic for the text results of issue 6: how well do *untrained* representations of TREC
questions do under the same linear probe? An untrained width-64 text Transformer (mean-pooled),
and the mean of random token vectors of width 64 and 512.

    GRAPHSSL_MIRROR=../shared/datasets OMP_NUM_THREADS=1 python benchmarks/diag_text_width.py

Measured (2026-11-28, one thread): Transformer 0.502, random 64-d 0.534, random 512-d 0.696
(TF-IDF + logistic regression in the same protocol: 0.894). It also prints the number of TF-IDF
features (fitted on the training texts): TREC 6,540; SST-2 with max_train=10000: 21,901.
"""
import warnings

import torch

from graphssl.bench.modalities import split_of
from graphssl.data import load_dataset
from graphssl.data.text import tfidf_features
from graphssl.encoders import TextTransformerEncoder
from graphssl.evaluate import linear_probe


def main():
    warnings.filterwarnings("ignore", message=".*longer than max_length.*")
    data = load_dataset("TREC")
    split = split_of(data)
    torch.manual_seed(0)
    enc = TextTransformerEncoder(data.info["vocab_size"], max_length=data.x.size(1), dim=64,
                                 depth=2, heads=4).eval()
    with torch.no_grad():
        z = torch.cat([enc(data.x[i:i + 512]) for i in range(0, len(data), 512)])
        print("untrained Transformer (64, mean pool):", linear_probe(z, data.y, split)["test_acc"])
        mask = (data.x != data.info["pad_id"]).float().unsqueeze(-1)
        for width in (64, 512):
            vectors = torch.randn(data.info["vocab_size"], width)
            bag = (vectors[data.x] * mask).sum(1) / mask.sum(1)
            print(f"mean of random token vectors ({width}):",
                  linear_probe(bag, data.y, split)["test_acc"])
    sst2 = load_dataset("SST-2", max_train=10000)
    for d in (data, sst2):
        print(f"TF-IDF features, {d.name}:", tfidf_features(d.info["texts"], d.split["train"]).shape[1])


if __name__ == "__main__":
    main()
