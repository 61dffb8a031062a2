"""Files the lab stores to reuse (trained models, generated data, defense results): written whole,
read safely, made once.

A kernel killed while saving, a copied folder, a file from elsewhere: none of these may
stop a notebook with an internal error or run code hidden in a pickle. Two processes that
need the same file at once (two kernels, a sweep's runs) compute it once: the second waits
for the first and reads its file.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import functools
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
import threading
import types
from pathlib import Path
from typing import Callable

import torch

# Where trained models and stored results live; BACKDOOR_LAB_CACHE moves it (a shared folder on a
# hub or a cluster).
CACHE_DIR = Path(
    os.environ.get(
        "BACKDOOR_LAB_CACHE", Path(__file__).resolve().parent.parent / ".cache" / "models"
    )
)


@contextlib.contextmanager
def exclusive(path: Path):
    """Hold the lock of `path` (a file .NAME.lock beside it) while it is read or made.

    Another process or thread that enters `exclusive(path)` waits until this one leaves,
    then finds the file made. Where there is no fcntl (Windows) nothing is locked: the
    writes stay whole, and two processes may then make the same file twice.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def save_atomically(record: dict, path: Path) -> None:
    """torch.save beside `path`, then rename it into place: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        torch.save(record, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def load_record(path: Path, check=lambda record: None) -> dict | None:
    """The record stored at `path` (tensors and plain data only), or None when there is none or
    it is unreadable.

    `check(record)` may raise to reject a record that loads but does not fit. An unreadable
    file is moved aside to NAME.unreadable, with one line on stderr, so the caller computes
    it again.
    """
    if not path.exists():
        return None
    try:
        # nothing is unpickled but tensors and plain data
        record = torch.load(path, weights_only=True)
        check(record)
        return record
    # a truncated, garbage or foreign file: keep it for a look, compute anew
    except Exception as error:
        aside = path.with_name(f"{path.name}.unreadable")
        os.replace(path, aside)
        print(
            f"cache: {path} could not be read ({type(error).__name__}); moved it to {aside.name} "
            "and computing it again",
            file=sys.stderr,
        )
        return None


def fingerprint(*parts) -> str:
    """A short hash of `parts` with torch's version: tensors and models by content, modules by
    their code (its syntax tree: a comment, a docstring or a reformatted line changes nothing),
    dataclasses by their fields, containers item by item, anything else by repr."""
    digest = hashlib.sha256(torch.__version__.encode())

    def feed(part) -> None:
        if isinstance(part, torch.Tensor):
            flat = part.detach().cpu().contiguous().reshape(-1)
            digest.update(f"tensor{tuple(part.shape)}{part.dtype}:".encode())
            digest.update(flat.view(torch.uint8).numpy().tobytes())
        elif isinstance(part, torch.nn.Module):
            feed((type(part).__qualname__, part.state_dict()))
        elif isinstance(part, types.ModuleType):  # its code: comments, docstrings, layout do not
            digest.update(code_tree(part).encode())
        elif dataclasses.is_dataclass(part) and not isinstance(part, type):
            feed(
                (
                    type(part).__qualname__,
                    {f.name: getattr(part, f.name) for f in dataclasses.fields(part)},
                )
            )
        elif isinstance(part, dict):
            digest.update(f"dict{len(part)}:".encode())
            for key in sorted(part, key=repr):
                feed(key)
                feed(part[key])
        elif isinstance(part, (list, tuple)):
            digest.update(f"{type(part).__name__}{len(part)}:".encode())
            for item in part:
                feed(item)
        else:
            digest.update(f"{type(part).__name__}:{part!r};".encode())

    feed(parts)
    return digest.hexdigest()[:20]


def code_tree(module: types.ModuleType) -> str:
    """What a module's code does: its syntax tree without comments, layout or docstrings."""
    tree = ast.parse(inspect.getsource(module))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if isinstance(first.value.value, str):
                    node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_of(module_name: str) -> list[types.ModuleType]:
    """The lab's module `module_name` and every module of the lab it imports, directly or
    through others, anywhere in its source (imports inside functions too), in a fixed order.

    What a stored result depends on: a change to any of these modules' source changes its
    key. Found by reading the import statements, so no list is kept by hand.
    """
    package = module_name.split(".")[0]
    found, seen, todo = set(), set(), [module_name]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        module = importlib.import_module(name)
        if getattr(module, "__file__", None) is None:  # a namespace package: no source of its own
            continue
        found.add(name)
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Import):
                todo += [alias.name for alias in node.names if alias.name.split(".")[0] == package]
            elif isinstance(node, ast.ImportFrom):
                base = _absolute(node, module)
                if base.split(".")[0] == package:
                    todo.append(base)
                    # a package: its names may be modules
                    if hasattr(importlib.import_module(base), "__path__"):
                        todo += [
                            f"{base}.{alias.name}"
                            for alias in node.names
                            if importlib.util.find_spec(f"{base}.{alias.name}") is not None
                        ]
    return [sys.modules[name] for name in sorted(found)]


def _absolute(node: ast.ImportFrom, module: types.ModuleType) -> str:
    """The absolute name of the module a `from ... import` statement reads from."""
    if not node.level:
        return node.module or ""
    package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def stored(restore: Callable[[dict], object] = dict, record: Callable[[object], dict] = dict):
    """Decorator: store what a costly function returns, and return it again for the same call.

    The same call means the same arguments (tensors and models by content, `progress`
    aside) and the same source of the function's module and of every module of the lab it
    imports (code_of). The result is kept in CACHE_DIR as `record(result)`, a dict of
    tensors and plain data, and rebuilt with `restore(dict)`. Pass `store=False` to compute
    without reading or writing the store.
    """

    def decorate(function):
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args, store: bool = True, **kwargs):
            if not store:
                return function(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = {
                name: value for name, value in bound.arguments.items() if name != "progress"
            }
            key = fingerprint(function.__qualname__, code_of(function.__module__), arguments)
            path = CACHE_DIR / f"{function.__name__}-{key}.pt"
            with exclusive(path):
                saved = load_record(path)
                if saved is not None:
                    return restore(saved)
                result = function(*args, **kwargs)
                save_atomically(record(result), path)
                return result

        return wrapper

    return decorate
