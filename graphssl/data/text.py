"""Sentence classification sets as :class:`~graphssl.data.modality.ModalityData`: TREC, SST-2.

A text dataset is a matrix of token ids (``x``: int64 ``[N, L]``, right-padded with
``info['pad_id']``) from a small BPE vocabulary trained here, on the training part only:
validation and test sentences never shape the vocabulary, they are only encoded with it (their
unseen words fall apart into known pieces, or ``[UNK]`` for unseen characters).

``info`` holds ``vocab_size`` (the size of the trained vocabulary; every id is below it),
``pad_id`` (always 0), ``mask_id``, ``unk_id``, ``max_length`` (the requested cap; ``x.size(1)``
is ``min(max_length, longest encoded text)``), ``texts`` (the raw strings, in the order of
``x``, for baselines such as :func:`tfidf_features`), ``tokenizer`` (the trained
``tokenizers.Tokenizer``), ``truncated`` (how many texts were cut to ``max_length``),
``dropped_empty`` (empty lines skipped while reading) and ``source`` (what the data is, how it
was split and tokenised).

Files are read from ``root/Text/<name>/`` (the layout of the offline mirror, so
``root=$GRAPHSSL_MIRROR`` works as is). Nothing is downloaded.

The ``tokenizers`` package (Hugging Face) is imported on first use only.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import torch

from ..checks import check_positive_int
from .errors import DatasetUnavailableError
from .mirror import MIRROR_ENV
from .modality import ModalityData, stratified_masks

PAD, UNK, MASK = "[PAD]", "[UNK]", "[MASK]"
SPECIAL_TOKENS = (PAD, UNK, MASK)  # ids 0, 1, 2 in this order
MIN_VOCAB_SIZE = 16  # the special tokens and a few characters; real vocabularies are 1000s

TREC_CLASSES = ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
SST2_CLASSES = ("negative", "positive")


def _tokenizers():
    try:
        import tokenizers
    except ImportError as err:  # pragma: no cover - installed in the project's environment
        raise ImportError("text datasets need the Hugging Face 'tokenizers' package: "
                          "pip install tokenizers") from err
    return tokenizers


def _check_texts(texts, what="texts") -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError(f"{what} must be a list of strings, got {type(texts).__name__}")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"{what} must be strings; items {bad[:5]} are "
                        f"{type(texts[bad[0]]).__name__}")
    return list(texts)


def _empty_error(empty: list[int], n: int, why: str = "empty or whitespace-only") -> ValueError:
    return ValueError(
        f"{len(empty)} of {n} texts are {why} (indices {empty[:5]}"
        f"{', ...' if len(empty) > 5 else ''}); a sequence of only padding has no content to "
        f"encode. Drop them first, e.g. texts = [t for t in texts if t.strip()] (and their "
        f"labels).")


# --------------------------------------------------------------------------- tokenizer

def train_bpe(texts: Sequence[str], vocab_size: int = 4000, min_frequency: int = 2):
    """Train a simple BPE tokenizer on ``texts``.

    Normalisation: lowercase, NFD, accents stripped; pre-tokenisation: runs of word characters
    and runs of punctuation, split at whitespace (``tokenizers.pre_tokenizers.Whitespace``); no
    byte-level alphabet and no word-boundary markers. Special tokens ``[PAD]`` (id 0), ``[UNK]``
    (id 1) and ``[MASK]`` (id 2). Characters outside the kept alphabet encode as ``[UNK]``.

    Pass the training split only: the vocabulary is then a function of the training text alone,
    and validation and test text never shape it (the loaders below do exactly this).

    The vocabulary never exceeds ``vocab_size`` (the alphabet is capped at
    ``vocab_size - 3`` most frequent characters); it is smaller when the texts have fewer pairs
    seen ``min_frequency`` times. Use ``tokenizer.get_vocab_size()`` to size an embedding table.

    Deterministic: the same texts give the same tokenizer (byte-identical ``to_str()``), whatever
    the number of threads (``RAYON_NUM_THREADS``); merges with equal counts are ordered by
    their token ids, not by thread timing. Checked for TREC and SST-2 with 1 and 2 threads.
    """
    tk = _tokenizers()
    texts = _check_texts(texts)
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or \
            vocab_size < MIN_VOCAB_SIZE:
        raise ValueError(f"vocab_size must be an int >= {MIN_VOCAB_SIZE} (the "
                         f"{len(SPECIAL_TOKENS)} special tokens {', '.join(SPECIAL_TOKENS)} "
                         f"plus characters and merges), "
                         f"got {vocab_size!r}; a few thousand suits sentence datasets")
    min_frequency = check_positive_int("min_frequency", min_frequency)
    if not any(t.strip() for t in texts):
        raise ValueError(f"train_bpe needs at least one non-empty text, got {len(texts)} "
                         f"empty or whitespace-only ones")
    tokenizer = tk.Tokenizer(tk.models.BPE(unk_token=UNK))
    tokenizer.normalizer = tk.normalizers.Sequence(
        [tk.normalizers.Lowercase(), tk.normalizers.NFD(), tk.normalizers.StripAccents()])
    tokenizer.pre_tokenizer = tk.pre_tokenizers.Whitespace()
    trainer = tk.trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIAL_TOKENS),
        limit_alphabet=vocab_size - len(SPECIAL_TOKENS), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(texts))
    ids = [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS]
    assert ids == [0, 1, 2], ids  # the trainer adds special tokens first, in order
    return tokenizer


def encode_texts(tokenizer, texts: Sequence[str], max_length: int = 64
                 ) -> tuple[torch.Tensor, int]:
    """Encode ``texts`` as an int64 ``[N, L]`` matrix of token ids, right-padded with the
    ``[PAD]`` id, ``L = min(max_length, longest encoded text)``. Returns ``(ids, truncated)``,
    ``truncated`` the number of texts longer than ``max_length`` tokens, which are cut to their
    first ``max_length`` tokens (one warning says how many).

    Empty or whitespace-only texts (and texts that encode to no token at all) are a
    ``ValueError``: drop them first. The tokenizer's own padding and truncation must be off (they
    are for :func:`train_bpe`'s)."""
    return _encode(tokenizer, texts, max_length, stacklevel=3)


def _encode(tokenizer, texts, max_length, stacklevel):
    texts = _check_texts(texts)
    max_length = check_positive_int("max_length", max_length)
    if not texts:
        raise ValueError("encode_texts needs at least one text, got none")
    pad_id = tokenizer.token_to_id(PAD)
    if pad_id is None:
        raise ValueError(f"the tokenizer has no {PAD} token; train it with train_bpe")
    if tokenizer.padding is not None or tokenizer.truncation is not None:
        raise ValueError("the tokenizer pads or truncates by itself, which would hide truncated "
                         "texts; call tokenizer.no_padding() and tokenizer.no_truncation() first")
    empty = [i for i, t in enumerate(texts) if not t.strip()]
    if empty:
        raise _empty_error(empty, len(texts))
    encoded = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    empty = [i for i, ids in enumerate(encoded) if not ids]
    if empty:
        raise _empty_error(empty, len(texts), why="empty after tokenisation (only characters "
                                                  "the normaliser removes)")
    lengths = [len(ids) for ids in encoded]
    longest = max(lengths)
    truncated = sum(n > max_length for n in lengths)
    if truncated:
        warnings.warn(f"{truncated} of {len(texts)} texts are longer than max_length={max_length} "
                      f"tokens (longest {longest}) and were cut to their first {max_length} "
                      f"tokens; pass a larger max_length (e.g. max_length={longest}) to keep "
                      f"them whole", stacklevel=stacklevel)
    length = min(max_length, longest)
    out = torch.full((len(texts), length), pad_id, dtype=torch.long)
    for i, ids in enumerate(encoded):
        ids = ids[:length]
        out[i, :len(ids)] = torch.tensor(ids, dtype=torch.long)
    return out, truncated


# --------------------------------------------------------------------------- baseline features

def tfidf_features(texts: Sequence[str], fit_mask):
    """TF-IDF features of all ``texts`` (a scipy CSR matrix ``[N, V]``) with the vocabulary and
    document frequencies fitted on ``texts[fit_mask]`` only (the training part): scikit-learn's
    ``TfidfVectorizer`` over word unigrams and bigrams, ``sublinear_tf=True``, ``min_df=2``,
    lowercased, accents stripped. The bag-of-words baseline for text datasets."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = _check_texts(texts)
    mask = torch.as_tensor(fit_mask)
    if mask.dtype != torch.bool or mask.shape != (len(texts),):
        raise ValueError(f"fit_mask must be a bool mask of shape ({len(texts)},), got "
                         f"{mask.dtype} {tuple(mask.shape)}")
    fit = [t for t, m in zip(texts, mask.tolist()) if m]
    if not fit:
        raise ValueError("fit_mask selects no text: pass the training mask")
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2,
                                 strip_accents="unicode")
    try:
        vectorizer.fit(fit)
    except ValueError as err:  # "empty vocabulary" / "no terms remain"
        raise ValueError(f"TF-IDF found no word used in two of the {len(fit)} fit texts "
                         f"({err}); fit on more text") from err
    return vectorizer.transform(texts).tocsr()


# --------------------------------------------------------------------------- loaders

def _need(folder: Path, names: Sequence[str], dataset: str, about: str) -> list[Path]:
    paths = [folder / n for n in names]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        rel = folder.parent.name + "/" + folder.name
        raise DatasetUnavailableError(
            f"{dataset}: missing {', '.join(missing)}. Place {about} there ({', '.join(names)}); "
            f"in the offline mirror the folder is {rel}/ under ${MIRROR_ENV}, so "
            f"root=$GRAPHSSL_MIRROR reads it in place. Nothing is downloaded for text datasets.")
    return paths


def _build(name: str, texts: list[str], y: torch.Tensor, train: torch.Tensor, val: torch.Tensor,
           test: torch.Tensor, classes: tuple, vocab_size: int, max_length: int,
           dropped_empty: int, describe: str, extra: dict | None = None) -> ModalityData:
    train_texts = [t for t, m in zip(texts, train.tolist()) if m]
    tokenizer = train_bpe(train_texts, vocab_size=vocab_size)
    x, truncated = _encode(tokenizer, texts, max_length, stacklevel=4)  # warn at the caller
    vocab = tokenizer.get_vocab_size()
    source = (f"{describe}; BPE vocabulary of {vocab} tokens (asked {vocab_size}, min_frequency "
              f"2) trained on the {int(train.sum())} training texts only (lowercased, NFD, "
              f"accents stripped, split at whitespace and punctuation); sequences of at most "
              f"{max_length} tokens ({truncated} truncated), right-padded with [PAD]=0")
    info = {"vocab_size": vocab, "pad_id": tokenizer.token_to_id(PAD),
            "mask_id": tokenizer.token_to_id(MASK), "unk_id": tokenizer.token_to_id(UNK),
            "max_length": max_length, "texts": texts, "tokenizer": tokenizer,
            "truncated": truncated, "dropped_empty": dropped_empty, "source": source}
    info.update(extra or {})
    return ModalityData(name, "text", x, y, {"train": train, "val": val, "test": test},
                        classes, info)


def _read_trec(path: Path, name_to_id: dict) -> tuple[list[str], list[int], list[str], int]:
    texts, labels, fine, dropped = [], [], [], 0
    with open(path, "rb") as f:  # latin-1: train_5500.label has one 0xF0 byte
        for lineno, raw in enumerate(f, 1):
            line = raw.decode("latin-1").rstrip("\r\n")
            if not line.strip():
                continue
            label, _, text = line.partition(" ")
            coarse = label.split(":")[0]
            if coarse not in name_to_id or ":" not in label:
                raise ValueError(f"{path}, line {lineno}: expected '<COARSE>:<fine> <question>' "
                                 f"with COARSE one of {', '.join(name_to_id)}, got {line[:60]!r}")
            if not text.strip():
                dropped += 1
                continue
            texts.append(text.strip())
            labels.append(name_to_id[coarse])
            fine.append(label)
    return texts, labels, fine, dropped


def load_trec(root: str | os.PathLike, vocab_size: int = 4000, max_length: int = 40
              ) -> ModalityData:
    """TREC question classification (Li & Roth, 2002) with its 6 coarse classes
    (``ABBR, DESC, ENTY, HUM, LOC, NUM``; fine labels such as ``'NUM:dist'`` are kept in
    ``info['fine_labels']``).

    Reads ``root/Text/TREC/train_5500.label`` (5452 questions) and ``TREC_10.label`` (500), as
    latin-1 bytes. ``x`` holds the train file then the test file; test = ``TREC_10.label``;
    val = a 10% stratified sample (seed 0) of the train file; the BPE vocabulary is trained on
    the remaining train part only. With ``max_length=40``, 5 of the 5952 questions (longest 49
    tokens at ``vocab_size=4000``) are cut, with a warning.
    """
    folder = Path(root).expanduser() / "Text" / "TREC"
    train_path, test_path = _need(folder, ["train_5500.label", "TREC_10.label"], "TREC",
                                  "the TREC question files (cogcomp.org originals)")
    name_to_id = {c: i for i, c in enumerate(TREC_CLASSES)}
    tr_texts, tr_y, tr_fine, tr_drop = _read_trec(train_path, name_to_id)
    te_texts, te_y, te_fine, te_drop = _read_trec(test_path, name_to_id)
    texts = tr_texts + te_texts
    y = torch.tensor(tr_y + te_y, dtype=torch.long)
    pool = torch.zeros(len(texts), dtype=torch.bool)
    pool[:len(tr_texts)] = True
    train, val = stratified_masks(y, 0.1, seed=0, pool=pool)
    describe = (f"TREC question classification (Li & Roth 2002), 6 coarse classes: "
                f"train_5500.label ({len(tr_texts)} questions; 10% stratified val, seed 0) and "
                f"test TREC_10.label ({len(te_texts)})")
    return _build("TREC", texts, y, train, val, ~pool, TREC_CLASSES, vocab_size, max_length,
                  tr_drop + te_drop, describe, {"fine_labels": tr_fine + te_fine})


def _read_sst2(path: Path) -> tuple[list[str], list[int], int]:
    texts, labels, dropped = [], [], 0
    with open(path, encoding="utf-8", newline="") as f:
        header = f.readline().rstrip("\r\n")
        if header.split("\t") != ["sentence", "label"]:
            raise ValueError(f"{path}: expected the header 'sentence<TAB>label' (GLUE SST-2 "
                             f"train/dev layout), got {header[:60]!r}")
        for lineno, line in enumerate(f, 2):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            text, tab, label = line.rpartition("\t")
            if label not in ("0", "1") or not tab:
                raise ValueError(f"{path}, line {lineno}: expected 'sentence<TAB>0|1', got "
                                 f"{line[-60:]!r}")
            if not text.strip():
                dropped += 1
                continue
            texts.append(text.strip())
            labels.append(int(label))
    return texts, labels, dropped


def _stratified_subset(y: torch.Tensor, pool: torch.Tensor, k: int, seed: int) -> torch.Tensor:
    """A bool mask of exactly ``k`` items of ``pool``, each class in proportion (largest
    remainders round), drawn with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    classes = y[pool].unique().tolist()
    counts = {c: int((pool & (y == c)).sum()) for c in classes}
    total = sum(counts.values())
    quota = {c: k * n / total for c, n in counts.items()}
    take = {c: int(q) for c, q in quota.items()}
    for c in sorted(classes, key=lambda c: (take[c] - quota[c], c))[:k - sum(take.values())]:
        take[c] += 1
    keep = torch.zeros_like(pool)
    for c in classes:
        idx = torch.nonzero(pool & (y == c)).view(-1)
        keep[idx[torch.randperm(idx.numel(), generator=g)[:take[c]]]] = True
    return keep


def load_sst2(root: str | os.PathLike, vocab_size: int = 8000, max_length: int = 64,
              max_train: int | None = None) -> ModalityData:
    """SST-2 (GLUE; Socher et al., 2013): binary sentiment of movie-review phrases and
    sentences, classes ``('negative', 'positive')``.

    Reads ``root/Text/SST-2/train.tsv`` (67349 items) and ``dev.tsv`` (872). GLUE hides the
    labels of ``test.tsv``, so test = ``dev.tsv`` and val = a 5% stratified sample (seed 0) of
    ``train.tsv`` (3367 items); the rest is the training part, on which alone the BPE vocabulary
    is trained.

    ``max_train``: keep only this many training items, a stratified random subset (seed 0) of the
    training part, for CPU-sized runs. Val and test stay as they are (val is drawn before the
    subset, so it is the same for every ``max_train``); the items left out are not in ``x`` at
    all, and the vocabulary is trained on the kept ones. ``None`` (or a number at least the
    training part's size) keeps all.
    """
    if max_train is not None and (isinstance(max_train, bool) or not isinstance(max_train, int)
                                  or max_train < 2):
        raise ValueError(f"max_train must be None or an int >= 2 (one item per class), got "
                         f"{max_train!r}")
    folder = Path(root).expanduser() / "Text" / "SST-2"
    train_path, dev_path = _need(folder, ["train.tsv", "dev.tsv"], "SST-2",
                                 "the GLUE SST-2 files (columns sentence, label)")
    tr_texts, tr_y, tr_drop = _read_sst2(train_path)
    te_texts, te_y, te_drop = _read_sst2(dev_path)
    y = torch.tensor(tr_y + te_y, dtype=torch.long)
    n_tr = len(tr_texts)
    pool = torch.zeros(y.numel(), dtype=torch.bool)
    pool[:n_tr] = True
    train, val = stratified_masks(y, 0.05, seed=0, pool=pool)
    available = int(train.sum())
    if max_train is not None and max_train < available:
        train = _stratified_subset(y, train, max_train, seed=0)
    keep = train | val | ~pool
    texts = [t for t, m in zip(tr_texts + te_texts, keep.tolist()) if m]
    y, train, val, test = y[keep], train[keep], val[keep], (~pool)[keep]
    subset = (f", training part cut to a stratified random {int(train.sum())} of {available} "
              f"(max_train, seed 0)" if int(train.sum()) < available else "")
    describe = (f"SST-2 (GLUE) binary sentiment: train.tsv ({n_tr}; 5% stratified val, seed 0"
                f"{subset}) and test = dev.tsv ({len(te_texts)}), GLUE's test labels being "
                f"hidden")
    return _build("SST-2", texts, y, train, val, test, SST2_CLASSES, vocab_size, max_length,
                  tr_drop + te_drop, describe)


__all__ = ["train_bpe", "encode_texts", "tfidf_features", "load_trec", "load_sst2",
           "SPECIAL_TOKENS", "TREC_CLASSES", "SST2_CLASSES"]
