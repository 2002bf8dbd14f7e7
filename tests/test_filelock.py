"""Inter-process locks: concurrent shards of a grid and concurrent dataset preparation."""
import multiprocessing
import os
import threading
import time

import pytest

from graphssl.bench.results import ResultStore
from graphssl.data import load_dataset
from graphssl.filelock import file_lock


def _blocked_while_held(lock_path, work):
    """Run ``work`` in a thread while ``lock_path`` is held here: it must wait for the release."""
    done = threading.Event()
    result = {}

    def target():
        result["value"] = work()
        done.set()

    with file_lock(lock_path):
        thread = threading.Thread(target=target)
        thread.start()
        assert not done.wait(0.5), "the work ran while another holder had the lock"
    thread.join(timeout=120)
    assert done.is_set()
    return result["value"]


def test_file_lock_excludes_a_second_holder_until_released(tmp_path):
    order = []
    lock = tmp_path / "sub" / "x.lock"  # parent folders are created

    def second():
        with file_lock(lock):
            order.append("second")

    _blocked_while_held(lock, second)
    assert order == ["second"] and lock.exists()
    with file_lock(lock):  # released: taken again at once
        pass


def test_dataset_preparation_waits_for_another_process_preparing_it(tmp_path, mirror, offline):
    root = tmp_path / "data"
    dataset = _blocked_while_held(root / ".locks" / "MUTAG.lock",
                                  lambda: load_dataset("MUTAG", root=root, mirror=mirror))
    assert len(dataset) == 188


def _append_many(folder, worker, count):
    store = ResultStore(folder)
    for i in range(count):
        store.append({"key": f"{worker}-{i}", "payload": "x" * 5000})
        store.load()  # a reader repairing the tail must never cut another writer's line


def test_store_shared_by_processes_keeps_every_line(tmp_path):
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_append_many, args=(tmp_path, w, 40)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
        assert p.exitcode == 0
    keys = [r["key"] for r in ResultStore(tmp_path).load()]
    assert sorted(keys) == sorted(f"{w}-{i}" for w in range(4) for i in range(40))


def test_store_append_waits_for_the_lock(tmp_path):
    store = ResultStore(tmp_path)
    store.append({"key": "a"})
    _blocked_while_held(store.lock_path, lambda: store.append({"key": "b"}))
    assert [r["key"] for r in store.load()] == ["a", "b"]


def test_lock_in_a_read_only_folder(tmp_path, monkeypatch, mirror, offline):
    root = tmp_path / "data"
    load_dataset("MUTAG", root=root, mirror=mirror)  # prepared once
    real_open = os.open

    def read_only(path, *args, **kwargs):
        if str(path).endswith(".lock"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(PermissionError):  # a lock that must hold fails loudly
        with file_lock(tmp_path / "x.lock"):
            pass
    with file_lock(tmp_path / "x.lock", read_only_ok=True):  # nothing to guard: runs unlocked
        pass
    assert len(load_dataset("MUTAG", root=root, mirror=mirror)) == 188  # a read-only root loads
