"""Street-sign data sets as tensors, whichever the source: synthetic (offline) or GTSRB."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import torch

from ..cache import code_of, exclusive, fingerprint, load_record, save_atomically
from .sticker import Sticker
from .synthetic import Scene, draw_scenes, render, sign_boxes

SIGNS_CACHE = Path(
    os.environ.get(
        "BACKDOOR_LAB_SIGNS_CACHE", Path(__file__).resolve().parents[2] / ".cache" / "signs"
    )
)
SYNTHETIC_SIZES = {"train": 20_000, "test": 4_000}
SPLIT_SEEDS = {"train": 0, "test": 1}
DATASETS = ("synthetic", "gtsrb")


class SignSet(NamedTuple):
    """Sign photos with where each sign is, and (synthetic ones) how it was drawn."""

    images: torch.Tensor  # uint8 [N, 3, 32, 32]
    labels: torch.Tensor  # int64 [N], GTSRB class ids
    boxes: torch.Tensor  # float [N, 4]: the sign's left, top, right, bottom in pixels
    scene: Scene | None = None  # synthetic only: every random choice, to photograph the sign again

    def subset(self, index: torch.Tensor) -> SignSet:
        """The samples at `index` (indices or a boolean mask)."""
        scene = None if self.scene is None else Scene(*(field[index] for field in self.scene))
        return SignSet(self.images[index], self.labels[index], self.boxes[index], scene)


def load_signs(
    split: str = "train",
    dataset: str = "synthetic",
    root: str | Path | None = None,
    download: bool = False,
) -> SignSet:
    """The train or test split of the synthetic signs (default, offline) or of GTSRB.

    GTSRB is read from `root` (torchvision's folder layout), downloaded there first with
    download=True; see utils.signs.gtsrb.
    """
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if dataset == "synthetic":
        return synthetic_signs(SYNTHETIC_SIZES[split], SPLIT_SEEDS[split])
    if dataset == "gtsrb":
        from .gtsrb import load_gtsrb

        return load_gtsrb(split, root, download=download)
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def synthetic_signs(count: int, seed: int) -> SignSet:
    """`count` synthetic sign photos drawn from `seed`; stored in .cache/signs, so a second call is
    instant."""
    stored = _synthetic_signs(count, seed)
    return SignSet(stored.images.clone(), stored.labels.clone(), stored.boxes.clone(), stored.scene)


@lru_cache(maxsize=4)
def _synthetic_signs(count: int, seed: int) -> SignSet:
    path = SIGNS_CACHE / f"synthetic-{count}-{seed}-{fingerprint(code_of(__name__))}.pt"
    with exclusive(path):
        saved = load_record(path, check=lambda record: Scene(**record["scene"]))
        if saved is not None:
            scene = Scene(**saved["scene"])
            return SignSet(saved["images"], scene.labels, saved["boxes"], scene)
        scene = draw_scenes(count, seed)
        signs = SignSet(render(scene), scene.labels, sign_boxes(scene), scene)
        save_atomically(
            {"images": signs.images, "boxes": signs.boxes, "scene": scene._asdict()}, path
        )
        return signs


def apply_sticker(signs: SignSet, sticker: Sticker) -> torch.Tensor:
    """The images with `sticker` on every sign (or image): uint8 [N, 3, 32, 32]. The input is
    not changed.

    Synthetic photos are taken again with the sticker on the sign, so it turns, shrinks,
    blurs and catches the light with the sign. GTSRB photos get it pasted, upright, on
    the sign's annotated box.
    """
    if signs.scene is not None:
        return render(signs.scene, sticker)
    size = signs.images.shape[-1]
    stamped = signs.images.clone()
    colour = torch.tensor(sticker.colour, dtype=torch.uint8).view(3, 1, 1)
    left, top, right, bottom = sticker.bounds()
    boxes = (
        signs.boxes
        if sticker.place == "sign"
        else torch.tensor([[0.0, 0, size, size]]).expand(len(stamped), 4)
    )
    for image, (x0, y0, x1, y1) in zip(stamped, boxes.tolist()):
        image[:, _pixels(y0, y1, top, bottom), _pixels(x0, x1, left, right)] = colour
    return stamped


def _pixels(start: float, end: float, low: float, high: float) -> slice:
    """The pixels from fraction `low` to `high` of the span start..end, at least one."""
    first = round(start + low * (end - start))
    return slice(first, max(first + 1, round(start + high * (end - start))))
