"""Text datasets: the BPE tokenizer, encoding, TF-IDF features, TREC and SST-2 from the mirror."""
import shutil
import warnings

import pytest
import torch

pytest.importorskip("tokenizers")

from graphssl.data.errors import DatasetUnavailableError  # noqa: E402
from graphssl.data.text import (encode_texts, load_sst2, load_trec, tfidf_features,  # noqa: E402
                                train_bpe)

TOY = [
    "the cat sat on the mat .",
    "the dog sat on the log !",
    "a cat and a dog are friends",
    "Where is the café ?",
    "the cat , the dog , the mat and the log",
    "dogs and cats sat together on mats",
]


@pytest.fixture(scope="module")
def toy_tokenizer():
    return train_bpe(TOY, vocab_size=60, min_frequency=1)


def copy_text(mirror, tmp_path, name):
    source = mirror / "Text" / name
    if not source.is_dir():
        pytest.skip(f"the mirror has no Text/{name}")
    shutil.copytree(source, tmp_path / "Text" / name)
    return tmp_path


@pytest.fixture(scope="module")
def trec(tmp_path_factory, mirror):
    root = copy_text(mirror, tmp_path_factory.mktemp("trec"), "TREC")
    with pytest.warns(UserWarning, match="5 of 5952 texts are longer than max_length=40"):
        return load_trec(root)


# ------------------------------------------------------------------ tokenizer and encoding

def test_bpe_special_tokens_and_vocab_bound(toy_tokenizer):
    assert [toy_tokenizer.token_to_id(t) for t in ("[PAD]", "[UNK]", "[MASK]")] == [0, 1, 2]
    assert toy_tokenizer.get_vocab_size() <= 60
    # normaliser: lowercase, accents stripped
    assert toy_tokenizer.encode("CAFÉ").tokens == toy_tokenizer.encode("cafe").tokens


def test_bpe_is_deterministic():
    a = train_bpe(TOY * 3, vocab_size=50, min_frequency=2)
    b = train_bpe(list(TOY * 3), vocab_size=50, min_frequency=2)
    assert a.to_str() == b.to_str()


@pytest.mark.parametrize("bad", [0, 3, 10, 60.0, "100", True])
def test_bpe_rejects_bad_vocab_size(bad):
    with pytest.raises(ValueError, match="vocab_size must be an int >= 16"):
        train_bpe(TOY, vocab_size=bad)


def test_encode_pads_right_with_pad_id(toy_tokenizer):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is cut: no warning
        ids, truncated = encode_texts(toy_tokenizer, ["cat", "the dog sat on the log"], 64)
    assert ids.dtype == torch.long and truncated == 0
    longest = len(toy_tokenizer.encode("the dog sat on the log").ids)
    assert ids.shape == (2, longest)  # L = min(max_length, longest encoded text)
    n_cat = len(toy_tokenizer.encode("cat").ids)
    assert (ids[0, n_cat:] == 0).all() and (ids[0, :n_cat] != 0).all()
    assert (ids[1] != 0).all()
    assert int(ids.max()) < toy_tokenizer.get_vocab_size() and int(ids.min()) >= 0


def test_encode_truncates_with_one_warning(toy_tokenizer):
    texts = ["the cat sat on the mat and the dog sat on the log", "cat", TOY[4]]
    with pytest.warns(UserWarning) as record:
        ids, truncated = encode_texts(toy_tokenizer, texts, max_length=4)
    assert len(record) == 1
    message = str(record[0].message)
    assert "2 of 3 texts" in message and "max_length=4" in message
    assert record[0].filename == __file__  # points at the caller
    assert truncated == 2 and ids.shape == (3, 4)
    assert ids[0].tolist() == toy_tokenizer.encode(texts[0]).ids[:4]


def test_encode_rejects_empty_texts(toy_tokenizer):
    with pytest.raises(ValueError, match=r"2 of 4 texts are empty.*\[1, 3\].*Drop them"):
        encode_texts(toy_tokenizer, ["cat", "", "dog", "  \t"])
    with pytest.raises(ValueError, match=r"1 of 2 texts are empty after tokenisation.*\[1\]"):
        encode_texts(toy_tokenizer, ["cat", "\u0301"])  # a lone accent, stripped away
    with pytest.raises(ValueError, match="max_length"):
        encode_texts(toy_tokenizer, ["cat"], max_length=0)


def test_unseen_characters_are_unk(toy_tokenizer):
    ids, _ = encode_texts(toy_tokenizer, ["cat ☃"])
    assert 1 in ids[0].tolist()


# ------------------------------------------------------------------ TF-IDF

def test_tfidf_vocabulary_from_fit_part_only():
    texts = ["red apple pie", "red apple tart", "blue car wheel", "blue car door",
             "zebra zebra stripes", "zebra stripes"]
    fit = torch.tensor([True, True, True, True, False, False])
    X = tfidf_features(texts, fit)
    assert X.shape[0] == 6
    # min_df=2 over the fit part: red, apple, red apple, blue, car, blue car
    assert X.shape[1] == 6
    assert X[4:].nnz == 0  # 'zebra' and 'stripes' occur only outside the fit part
    with pytest.raises(ValueError, match="bool mask of shape"):
        tfidf_features(texts, [1, 0, 1])


# ------------------------------------------------------------------ TREC

def test_trec_sizes_classes_and_splits(trec):
    assert trec.name == "TREC" and trec.modality == "text" and len(trec) == 5452 + 500
    assert trec.classes == ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM")
    test, train, val = trec.split["test"], trec.split["train"], trec.split["val"]
    assert test[5452:].all() and not test[:5452].any()
    assert torch.bincount(trec.y[test], minlength=6).tolist() == [9, 138, 94, 65, 81, 113]
    assert torch.bincount(trec.y[:5452], minlength=6).tolist() == [86, 1162, 1250, 1223, 835, 896]
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert (train | val | test).all()
    assert 540 <= int(val.sum()) <= 550  # 10% of each class of the train file
    info = trec.info
    assert trec.x.dtype == torch.long and trec.x.shape == (5952, 40)
    assert int(trec.x.max()) < info["vocab_size"] == 4000
    assert (info["pad_id"], info["unk_id"], info["mask_id"]) == (0, 1, 2)
    assert info["truncated"] == 5 and info["dropped_empty"] == 0 and info["max_length"] == 40
    assert len(info["texts"]) == 5952
    assert info["texts"][5452] == "How far is it from Denver to Aspen ?"
    assert "sister\xf0city" in info["texts"][65]  # the latin-1 byte 0xF0 of line 66
    # right padding: no token after the first pad
    lengths = (trec.x != 0).sum(1)
    assert (trec.x[torch.arange(40) >= lengths[:, None]] == 0).all()


def test_trec_vocabulary_ignores_val_and_test_text(trec):
    train_texts = [t for t, m in zip(trec.info["texts"], trec.split["train"].tolist()) if m]
    assert trec.info["tokenizer"].to_str() == train_bpe(train_texts, vocab_size=4000).to_str()
    # and the tokenizer differs when the test questions are added to its training text
    with_test = train_texts + trec.info["texts"][5452:]
    assert train_bpe(with_test, vocab_size=4000).get_vocab() != \
        trec.info["tokenizer"].get_vocab()


def test_missing_files_name_the_path_and_the_mirror(tmp_path):
    with pytest.raises(DatasetUnavailableError, match=r"train_5500\.label.*Text/TREC.*"
                                                      r"GRAPHSSL_MIRROR"):
        load_trec(tmp_path)
    with pytest.raises(DatasetUnavailableError, match=r"SST-2.*Text/SST-2.*GRAPHSSL_MIRROR"):
        load_sst2(tmp_path)


# ------------------------------------------------------------------ SST-2

def test_sst2_subset(tmp_path, mirror):
    root = copy_text(mirror, tmp_path, "SST-2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a few long reviews are cut
        data = load_sst2(root, max_train=2000)
    assert data.name == "SST-2" and data.classes == ("negative", "positive")
    train, val, test = data.split["train"], data.split["val"], data.split["test"]
    assert int(train.sum()) == 2000 and int(test.sum()) == 872 and int(val.sum()) == 3367
    assert len(data) == 2000 + 3367 + 872
    assert torch.bincount(data.y[test]).tolist() == [428, 444]
    assert set(data.y.unique().tolist()) == {0, 1}
    # stratified: the training subset keeps train.tsv's class balance (29780 / 37569)
    assert abs(float(data.y[train].float().mean()) - 37569 / 67349) < 0.002
    assert not (train & val).any() and not (train & test).any() and not (val & test).any()
    assert data.x.shape[1] <= 64 and int(data.x.max()) < data.info["vocab_size"] <= 8000
    assert len(data.info["texts"]) == len(data)
    assert data.info["texts"][-872] == "it 's a charming and often affecting journey ."
    X = tfidf_features(data.info["texts"], train)
    assert X.shape[0] == len(data) and X.shape[1] > 100
