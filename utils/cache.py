"""Files the lab stores to reuse (trained models, generated data): written whole, read safely.

A kernel killed while saving, a copied folder, a file from elsewhere: none of these may
stop a notebook with an internal error or run code hidden in a pickle.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import torch


def save_atomically(record: dict, path: Path) -> None:
    """torch.save to a file beside `path`, then rename it into place: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    try:
        torch.save(record, partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def load_record(path: Path, check=lambda record: None) -> dict | None:
    """The record stored at `path` (tensors and plain data only), or None when there is none or it is unreadable.

    `check(record)` may raise to reject a record that loads but does not fit. An unreadable
    file is moved aside to NAME.unreadable, with one line on stderr, so the caller computes
    it again.
    """
    if not path.exists():
        return None
    try:
        record = torch.load(path, weights_only=True)   # nothing is unpickled but tensors and plain data
        check(record)
        return record
    except Exception as error:  # a truncated, garbage or foreign file: keep it for a look, compute anew
        aside = path.with_name(f"{path.name}.unreadable")
        os.replace(path, aside)
        print(f"cache: {path} could not be read ({type(error).__name__}); moved it to {aside.name} "
              "and computing it again", file=sys.stderr)
        return None
