"""The real German Traffic Sign Recognition Benchmark, read through torchvision's folder layout.

GTSRB (Stallkamp et al., 2012) has about 39,000 training and 12,600 test photos of 43
classes, from 15 x 15 to 250 x 250 pixels, each with the sign's bounding box. Here every
photo is resized to 32 x 32 (the box with it) and kept in memory as uint8, like the
synthetic set, so the same notebook runs on either.
"""

from __future__ import annotations

import csv
import socket
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..cache import load_record, save_atomically
from ..data import DATA_DIR, DataIntegrityError, DatasetUnavailableError
from .dataset import SignSet

HOST = "sid.erda.dk"  # where torchvision downloads GTSRB from
IMAGE_SIZE = 32
DEFAULT_ROOT = DATA_DIR / "torchvision"


def load_gtsrb(
    split: str = "train",
    root: str | Path | None = None,
    download: bool = False,
    connect_timeout: float = 5.0,
) -> SignSet:
    """GTSRB's `split` from `root` (torchvision's layout: root/gtsrb/GTSRB/...), resized to 32 x 32.

    With download=True and no copy in `root`, torchvision downloads it first (about 300 MB);
    without a network that fails within `connect_timeout` seconds with a clear error.
    The resized tensors are stored beside the photos, so the next call is fast.
    """
    from torchvision.datasets import GTSRB

    root = Path(root) if root is not None else DEFAULT_ROOT
    stored = root / "gtsrb" / f"resized-{split}-{IMAGE_SIZE}.pt"
    saved = load_record(stored, check=lambda record: SignSet(**record))
    if saved is not None:
        return SignSet(**saved)
    if download:
        _check_reachable(connect_timeout)
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(60)  # a stalled connection fails instead of hanging
        try:
            GTSRB(str(root), split=split, download=True)
        except Exception as error:  # torchvision raises several kinds when the download breaks
            raise DatasetUnavailableError(
                f"Downloading GTSRB into {root} failed ({error})."
            ) from error
        finally:
            socket.setdefaulttimeout(previous)
    try:
        dataset = GTSRB(str(root), split=split)
    except RuntimeError as error:
        raise DatasetUnavailableError(
            f"GTSRB ({split}) is not in {root / 'gtsrb'}. Online, call load_signs('{split}', "
            "dataset='gtsrb', "
            f"root='{root}', download=True); or unpack GTSRB-Training_fixed.zip, "
            "GTSRB_Final_Test_Images.zip and "
            f"GTSRB_Final_Test_GT.zip from https://benchmark.ini.rub.de/ into {root / 'gtsrb'} as "
            "torchvision does. "
            "Offline, use dataset='synthetic'."
        ) from error
    records = _annotations(root / "gtsrb", split)
    if len(records) != len(dataset):
        raise DataIntegrityError(
            f"GTSRB {split}: torchvision finds {len(dataset)} photos but the annotation files "
            f"list {len(records)}; the copy in {root / 'gtsrb'} is incomplete"
        )
    missing = [str(r["path"]) for r in records if not r["path"].is_file()]
    if missing:
        raise DataIntegrityError(
            f"GTSRB {split}: {len(missing)} photos listed in the annotations are missing, "
            f"e.g. {missing[0]}; the copy in {root / 'gtsrb'} is incomplete"
        )
    signs = _read(records)
    save_atomically(signs._asdict(), stored)
    return signs


def _check_reachable(timeout: float) -> None:
    try:
        socket.create_connection((HOST, 443), timeout=timeout).close()
    except OSError as error:
        raise DatasetUnavailableError(
            f"Cannot reach {HOST} to download GTSRB ({error}). Without a network, use "
            "dataset='synthetic', "
            "or copy GTSRB in torchvision's layout into the root folder on a machine that is "
            "online."
        ) from error


def _annotations(base: Path, split: str) -> list[dict]:
    """One record per photo: path, size, the sign's box and class, from GTSRB's CSV files."""
    if split == "train":
        files = sorted((base / "GTSRB" / "Training").glob("*/GT-*.csv"))
        folders = {f.parent for f in files}
        missing = [
            d.name
            for d in (base / "GTSRB" / "Training").iterdir()
            if d.is_dir() and d not in folders
        ]
        if missing:
            raise DataIntegrityError(
                f"GTSRB training folders without their GT-*.csv annotations: {missing}"
            )
    else:
        files = [base / "GT-final_test.csv"]
    records = []
    for file in files:
        images = file.parent if split == "train" else base / "GTSRB" / "Final_Test" / "Images"
        with open(file, newline="") as handle:
            for row in csv.DictReader(handle, delimiter=";", skipinitialspace=True):
                try:
                    records.append(
                        {
                            "path": images / row["Filename"],
                            "width": int(row["Width"]),
                            "height": int(row["Height"]),
                            "box": [int(row[k]) for k in ("Roi.X1", "Roi.Y1", "Roi.X2", "Roi.Y2")],
                            "label": int(row["ClassId"]),
                        }
                    )
                except (KeyError, ValueError) as error:
                    raise DataIntegrityError(
                        f"{file}: a row that is not a GTSRB annotation: {row}"
                    ) from error
    return records


def _read(records: list[dict]) -> SignSet:
    images = np.empty((len(records), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    boxes = torch.empty(len(records), 4)
    for i, record in enumerate(records):
        with Image.open(record["path"]) as photo:
            images[i] = np.asarray(
                photo.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
            )
        x1, y1, x2, y2 = record["box"]
        sx, sy = IMAGE_SIZE / record["width"], IMAGE_SIZE / record["height"]
        boxes[i] = torch.tensor([x1 * sx, y1 * sy, (x2 + 1) * sx, (y2 + 1) * sy])
    labels = torch.tensor([r["label"] for r in records], dtype=torch.long)
    return SignSet(torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(), labels, boxes)
