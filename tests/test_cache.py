"""The cache survives faults (truncated or garbage files, two writers, an interrupted save) and
stores costly results under a fingerprint of everything they depend on."""

import inspect
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from utils import cache, experiments, triggers
from utils.attacks import BadNets, stored_path, train_clean
from utils.cache import code_of, exclusive, fingerprint, stored
from utils.training import TrainingConfig

QUICK = TrainingConfig(epochs=1, batch_size=256, seed=5)


def cache_files(folder: Path) -> list[str]:
    """The files in `folder`, but the locks that cache.exclusive leaves beside them."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock"))


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_an_unreadable_cache_file_is_reported_moved_aside_and_retrained(
    damage, small_train, empty_model_cache, capsys
):
    train_clean(small_train, QUICK, progress=False)
    path = stored_path(BadNets(poison_rate=0.0), QUICK)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2] if damage == "truncated" else b"not a model at all")
    again = train_clean(small_train, QUICK, progress=False)
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and str(path) in message[0] and "computing it again" in message[0]
    assert cache_files(empty_model_cache) == sorted([path.name, f"{path.name}.unreadable"])
    # the file now holds the model trained again, whole
    stored = torch.load(path, weights_only=True)["state"]
    assert all(torch.equal(stored[name], value) for name, value in again.model.state_dict().items())


def test_the_cache_is_loaded_without_unpickling_code(small_train, empty_model_cache, capsys):
    train_clean(small_train, QUICK, progress=False)
    path = stored_path(BadNets(poison_rate=0.0), QUICK)
    torch.save(
        {"state": {}, "history": {}, "poisoned_indices": torch.zeros(0), "payload": Path(".")}, path
    )
    # a pickled object: refused, moved aside, retrained
    train_clean(small_train, QUICK, progress=False)
    assert "could not be read" in capsys.readouterr().err
    assert (empty_model_cache / f"{path.name}.unreadable").exists()


def test_an_interrupted_save_leaves_no_file_behind(small_train, empty_model_cache, monkeypatch):
    def save_then_stop(record, target):
        Path(target).write_bytes(b"half a fi")
        raise KeyboardInterrupt  # the student pressed stop, or Binder killed the kernel

    with monkeypatch.context() as patch:
        patch.setattr(cache.torch, "save", save_then_stop)
        with pytest.raises(KeyboardInterrupt):
            train_clean(small_train, QUICK, progress=False)
    assert not empty_model_cache.exists() or cache_files(empty_model_cache) == []
    train_clean(small_train, QUICK, progress=False)
    assert cache_files(empty_model_cache) == [stored_path(BadNets(poison_rate=0.0), QUICK).name]


def test_two_processes_needing_the_same_model_train_it_once_and_both_finish_with_a_whole_file(
    tmp_path,
):
    script = (
        "from utils import model_store\n"
        "from utils.attacks import train_clean\n"
        "from utils.data import ImageSet, load_mnist\n"
        "from utils.training import TrainingConfig\n"
        "fit = model_store.fit\n"
        "model_store.fit = lambda *args, **kwargs: print('training', flush=True) or fit(*args, "
        "**kwargs)\n"
        "train = load_mnist('train')\n"
        "small = ImageSet(train.images[:2000], train.labels[:2000])\n"
        "train_clean(small, TrainingConfig(epochs=1, seed=6), progress=False)\n"
    )
    env = {**__import__("os").environ, "BACKDOOR_LAB_CACHE": str(tmp_path)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err for _, err in outputs]
    # the second waited for the first's model
    assert sum(out.count("training") for out, _ in outputs) == 1
    files = cache_files(tmp_path)
    assert len(files) == 1 and files[0].endswith(".pt")
    assert "state" in torch.load(tmp_path / files[0], weights_only=True)


@dataclass(frozen=True)
class Budget:
    steps: int = 10


def test_a_fingerprint_changes_with_any_part_and_only_then():
    images, model = torch.zeros(4, 1, 3, 3, dtype=torch.uint8), torch.nn.Linear(2, 1)
    same = fingerprint(images, model, Budget(), triggers, [1, 2], {"a": 1})
    assert same == fingerprint(images.clone(), model, Budget(), triggers, [1, 2], {"a": 1})
    changed_pixel = images.clone()
    changed_pixel[3, 0, 2, 2] = 1
    trained = torch.nn.Linear(2, 1)
    trained.load_state_dict(model.state_dict())
    with torch.no_grad():
        trained.bias += 1e-6
    others = [
        fingerprint(changed_pixel, model, Budget(), triggers, [1, 2], {"a": 1}),
        fingerprint(images, trained, Budget(), triggers, [1, 2], {"a": 1}),
        fingerprint(images, model, Budget(11), triggers, [1, 2], {"a": 1}),
        fingerprint(images, model, Budget(), experiments, [1, 2], {"a": 1}),
        fingerprint(images, model, Budget(), triggers, (1, 2), {"a": 1}),
        fingerprint(images, model, Budget(), triggers, [1, 2], {"a": 1.0}),
        fingerprint(images.float(), model, Budget(), triggers, [1, 2], {"a": 1}),
    ]
    assert len({same, *others}) == 1 + len(others)


def test_a_stored_function_computes_once_per_distinct_call(empty_model_cache):
    calls = []

    @stored(restore=lambda record: record["total"], record=lambda total: {"total": total})
    def total(images: torch.Tensor, scale: int = 1, progress: bool = False):
        calls.append(scale)
        return images.sum() * scale

    images = torch.arange(6.0)
    assert total(images) == total(images, progress=True) == total(images.clone()) == 15
    # the same call, progress aside: read from the store
    assert calls == [1]
    assert total(images, scale=2) == 30 and total(images + 1) == 21
    assert total(images, store=False) == 15
    assert calls == [1, 2, 1, 1]
    assert len(list(empty_model_cache.glob("total-*.pt"))) == 3


def test_a_stored_result_depends_on_every_module_of_the_lab_its_module_imports():
    """defenses.matrix imports attacks.base, which imports model_store, which imports training:
    the stored matrix column depends on all of them, found from the import statements."""
    names = [module.__name__ for module in code_of("utils.defenses.matrix")]
    assert {
        "utils.defenses.matrix",
        "utils.attacks.base",
        "utils.model_store",
        "utils.models",
        "utils.defenses.spectre",
        "utils.training",
    } <= set(names)
    # not imported: a plot may change
    assert "utils.plots" not in names and "utils.widgets" not in names
    assert names == sorted(names)


@pytest.mark.parametrize("edited, changes", [("utils.models", True), ("utils.plots", False)])
def test_editing_a_transitively_imported_module_changes_a_stored_result_s_key(
    edited, changes, monkeypatch
):
    def key():
        return fingerprint("defense_column", code_of("utils.defenses.matrix"))

    before, original = key(), inspect.getsource

    def with_an_edit(module):
        source = original(module)
        edit = "\nEDITED = True\n"
        return source + edit if getattr(module, "__name__", "") == edited else source

    monkeypatch.setattr(inspect, "getsource", with_an_edit)
    assert (key() != before) is changes


@pytest.mark.parametrize(
    "edit",
    [
        lambda source: "# a new comment\n" + source.replace("\n\n\n", "\n\n"),
        lambda source: source.replace('"""', '"""Reworded. ', 1),  # the module's docstring
    ],
    ids=["comment and layout", "docstring"],
)
def test_a_comment_a_reformatted_line_or_a_docstring_keeps_a_stored_result_s_key(edit, monkeypatch):
    def key():
        return fingerprint(code_of("utils.models"))

    before, original = key(), inspect.getsource

    def edited(module):
        source = original(module)
        return edit(source) if getattr(module, "__name__", "") == "utils.models" else source

    monkeypatch.setattr(inspect, "getsource", edited)
    assert key() == before


def test_an_unreadable_stored_result_is_computed_again(empty_model_cache, capsys):
    @stored()
    def halves(values: torch.Tensor):
        return {"half": values / 2}

    halves(torch.ones(3))
    [path] = empty_model_cache.glob("halves-*.pt")
    path.write_bytes(b"garbage")
    assert torch.equal(halves(torch.ones(3))["half"], torch.full((3,), 0.5))
    assert "could not be read" in capsys.readouterr().err


def test_while_one_thread_holds_a_files_lock_another_waits_for_it(tmp_path):
    path, order = tmp_path / "result.pt", []

    def second():
        with exclusive(path):
            order.append("second")

    with exclusive(path):
        waiting = threading.Thread(target=second)
        waiting.start()
        waiting.join(timeout=0.5)
        assert waiting.is_alive()  # blocked while the first holds the lock
        order.append("first")
    waiting.join(timeout=10)
    assert order == ["first", "second"]
