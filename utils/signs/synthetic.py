"""A synthetic street-sign data set that runs offline: GTSRB-like 32 x 32 photos of signs.

Each sign is drawn once as a clean template (red octagon with STOP, red ring with a
speed, ...). Every image then places the template in its own scene: size, position,
rotation and perspective; a background of coloured shapes and texture; partial
occlusion; lighting, colour cast and contrast; blur and sensor noise. All of it is drawn
from a seed and kept in a `Scene`, so the same photograph can be taken again with a
sticker on the sign. Rendering is batched in torch: 20,000 images take a few seconds.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import matplotlib
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from ..runtime import configure_threads
from .classes import SYNTHETIC_CLASSES
from .sticker import Sticker

IMAGE_SIZE = 32  # what the data set delivers
TEMPLATE_SIZE = 48  # templates are drawn at 4x this and smoothed down to it
CHUNK = 1000  # images rendered at once (bounds the memory)

RED, WHITE, BLACK, BLUE, YELLOW_SIGN = (
    (200, 16, 46),
    (245, 245, 240),
    (20, 20, 20),
    (20, 70, 160),
    (250, 190, 20),
)


class Scene(NamedTuple):
    """Everything random about each image, one row per image (float tensors unless noted)."""

    labels: torch.Tensor  # int64 [N]: GTSRB class id
    scale: torch.Tensor  # [N]: sign width as a fraction of the image width
    centre: torch.Tensor  # [N, 2]: sign centre (x, y) in [-1, 1] image coordinates
    rotation: torch.Tensor  # [N]: radians
    corners: torch.Tensor  # [N, 4, 2]: perspective jitter of the sign's four corners
    # [N, 3, 4, 4] coarse colours and [N, 3, 8, 8] texture, see _backgrounds
    background: torch.Tensor
    texture: torch.Tensor
    stripes: torch.Tensor  # [N, 4]: amplitude, frequency, angle, phase of a stripe pattern
    occluder: torch.Tensor  # [N, 8]: on/off, edge, depth, start, length, colour (3)
    light: torch.Tensor  # [N, 5]: brightness, contrast, colour cast (3)
    blur: torch.Tensor  # [N]: Gaussian sigma in pixels
    noise: torch.Tensor  # [N]: noise sigma (fraction of full scale)
    noise_seed: torch.Tensor  # int64 [N]


def draw_scenes(count: int, seed: int, classes: tuple[int, ...] = SYNTHETIC_CLASSES) -> Scene:
    """Random scenes for `count` images, classes in equal numbers, all fixed by `seed`."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a whole number >= 1, got {count!r}")
    g = torch.Generator().manual_seed(seed)

    def uniform(low, high, *shape):
        return low + (high - low) * torch.rand(count, *shape, generator=g)

    labels = torch.tensor(classes)[torch.arange(count) % len(classes)][
        torch.randperm(count, generator=g)
    ]
    occluder = torch.cat(
        [
            (torch.rand(count, 1, generator=g) < 0.3).float(),
            uniform(0, 4, 1).floor(),
            uniform(0.1, 0.35, 1),
            uniform(0, 0.7, 1),
            uniform(0.3, 0.9, 1),
            uniform(0.05, 0.5, 3),
        ],
        1,
    )
    light = torch.cat(
        [
            uniform(math.log(0.35), math.log(1.3), 1).exp(),
            uniform(0.55, 1.15, 1),
            uniform(0.85, 1.15, 3),
        ],
        1,
    )
    return Scene(
        labels=labels,
        scale=uniform(0.5, 0.92),
        centre=uniform(-0.15, 0.15, 2),
        rotation=(torch.randn(count, generator=g) * 0.12).clamp(-0.35, 0.35),
        corners=uniform(-0.09, 0.09, 4, 2),
        background=uniform(0.05, 0.9, 3, 4, 4),
        texture=torch.randn(count, 3, 8, 8, generator=g) * 0.08,
        stripes=torch.cat(
            [
                uniform(0, 0.1, 1),
                uniform(2, 9, 1),
                uniform(0, math.pi, 1),
                uniform(0, 2 * math.pi, 1),
            ],
            1,
        ),
        occluder=occluder,
        light=light,
        blur=uniform(0.2, 0.8),
        noise=uniform(0.0, 0.05),
        noise_seed=torch.randint(0, 2**62, (count,), generator=g),
    )


def render(scene: Scene, sticker: Sticker | None = None, chunk: int = CHUNK) -> torch.Tensor:
    """The images of `scene` as uint8 [N, 3, 32, 32], with `sticker` on every sign (or image) if
    given."""
    on_sign = sticker if sticker is not None and sticker.place == "sign" else None
    on_image = sticker if sticker is not None and sticker.place == "image" else None
    templates = sign_templates(on_sign)
    index_of = {label: i for i, label in enumerate(SYNTHETIC_CLASSES)}
    unknown = set(scene.labels.unique().tolist()) - set(index_of)
    if unknown:
        raise ValueError(f"the generator draws classes {SYNTHETIC_CLASSES}, not {sorted(unknown)}")
    out = []
    for start in range(0, len(scene.labels), chunk):
        configure_threads()  # follows the machine's load, as training does
        part = Scene(*(field[start : start + chunk] for field in scene))
        rows = torch.tensor([index_of[label] for label in part.labels.tolist()])
        out.append(_render_chunk(part, templates[rows], on_image))
    return torch.cat(out)


def sign_boxes(scene: Scene) -> torch.Tensor:
    """Each sign's bounding box (left, top, right, bottom) in pixels of the 32 x 32 image."""
    corners = _sign_corners(scene)
    low, high = corners.amin(1), corners.amax(1)
    return ((torch.cat([low, high], 1) + 1) / 2 * IMAGE_SIZE).clamp(0, IMAGE_SIZE)


def _sign_corners(scene: Scene) -> torch.Tensor:
    """Where the template's corners land in the image, [N, 4, 2] in [-1, 1] coordinates."""
    square = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    corners = (square + scene.corners) * scene.scale[:, None, None]
    cos, sin = scene.rotation.cos()[:, None], scene.rotation.sin()[:, None]
    x, y = corners[..., 0], corners[..., 1]
    return torch.stack([cos * x - sin * y, sin * x + cos * y], -1) + scene.centre[:, None, :]


def _homographies(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """3 x 3 matrices [N, 3, 3] mapping each set of four source points onto the target points."""
    n = len(source)
    rows = []
    for k in range(4):
        (x, y), (u, v) = source[:, k].T, target[:, k].T
        one, zero = torch.ones(n), torch.zeros(n)
        rows.append(torch.stack([x, y, one, zero, zero, zero, -u * x, -u * y], 1))
        rows.append(torch.stack([zero, zero, zero, x, y, one, -v * x, -v * y], 1))
    solution = torch.linalg.solve(torch.stack(rows, 1), target.reshape(n, 8))
    return torch.cat([solution, torch.ones(n, 1)], 1).view(n, 3, 3)


def _render_chunk(
    scene: Scene, templates: torch.Tensor, image_sticker: Sticker | None
) -> torch.Tensor:
    n, size = len(scene.labels), IMAGE_SIZE
    square = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]).expand(n, 4, 2)
    # image coordinates -> template coordinates
    to_template = _homographies(_sign_corners(scene), square)
    axis = (torch.arange(size) + 0.5) / size * 2 - 1
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1).view(1, -1, 3)
    mapped = points @ to_template.transpose(1, 2)
    grid = (mapped[..., :2] / mapped[..., 2:]).view(n, size, size, 2)
    sign = F.grid_sample(
        templates, grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    colour, alpha = sign[:, :3], sign[:, 3:]
    image = alpha * colour + (1 - alpha) * _backgrounds(scene, size)
    image = _occlude(image, scene.occluder)
    if image_sticker is not None:
        left, top, right, bottom = (round(v * size) for v in image_sticker.bounds())
        image[:, :, top:bottom, left:right] = (
            torch.tensor(image_sticker.colour).view(1, 3, 1, 1) / 255
        )
    brightness, contrast, cast = (
        scene.light[:, :1, None, None],
        scene.light[:, 1:2, None, None],
        scene.light[:, 2:, None, None],
    )
    # about mid-grey: a sticker changes no other pixel
    image = ((image - 0.5) * contrast + 0.5) * brightness * cast
    image = _blur(image, scene.blur)
    noise = torch.stack(
        [
            torch.randn(3, IMAGE_SIZE, IMAGE_SIZE, generator=torch.Generator().manual_seed(int(s)))
            for s in scene.noise_seed
        ]
    )
    image = image + noise * scene.noise[:, None, None, None]
    return (image.clamp(0, 1) * 255).round().to(torch.uint8)


def _backgrounds(scene: Scene, size: int) -> torch.Tensor:
    """Coarse colour fields with texture and a stripe pattern (walls, foliage, sky, road)."""
    colours = F.interpolate(
        scene.background, size=(size, size), mode="bicubic", align_corners=False
    )
    grey = colours.mean(1, keepdim=True)
    coarse = grey + 0.45 * (colours - grey)  # muted, like real streets: greys, dull greens, sky
    fine = F.interpolate(scene.texture, size=(size, size), mode="bilinear", align_corners=False)
    amplitude, frequency, angle, phase = scene.stripes.T
    axis = torch.linspace(-1, 1, size)
    ys, xs = torch.meshgrid(axis, axis, indexing="ij")
    along = xs[None] * angle.cos()[:, None, None] + ys[None] * angle.sin()[:, None, None]
    stripes = amplitude[:, None, None] * torch.sign(
        torch.sin(along * frequency[:, None, None] * math.pi + phase[:, None, None])
    )
    return (coarse + fine + stripes[:, None]).clamp(0, 1)


def _occlude(image: torch.Tensor, occluder: torch.Tensor) -> torch.Tensor:
    """A band (branch, pole, another sign) reaching in from one edge, on about 30% of the images."""
    size = image.shape[-1]
    axis = (torch.arange(size) + 0.5) / size
    on, edge, depth, start, length = occluder[:, :5].T
    colour = occluder[:, 5:8]
    across, along = axis.view(1, 1, size), axis.view(1, size, 1)
    masks = []
    for e in range(4):  # from the left, top, right, bottom edge
        depth_axis = across if e in (0, 2) else along
        other = along if e in (0, 2) else across
        reach = (
            depth_axis <= depth[:, None, None]
            if e in (0, 1)
            else depth_axis >= 1 - depth[:, None, None]
        )
        start_ok = (other >= start[:, None, None]) & (other <= (start + length)[:, None, None])
        masks.append(reach & start_ok & (edge[:, None, None] == e))
    mask = (torch.stack(masks).any(0) & (on[:, None, None] > 0))[:, None]
    return torch.where(mask, colour[:, :, None, None].expand_as(image), image)


def _blur(image: torch.Tensor, sigma: torch.Tensor, radius: int = 2) -> torch.Tensor:
    """A Gaussian blur of its own width for every image (separable, grouped convolution)."""
    n, c, h, w = image.shape
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    kernel = torch.exp(-(offsets[None] ** 2) / (2 * sigma[:, None] ** 2))
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, 0)
    flat = F.pad(image.reshape(1, n * c, h, w), (radius,) * 4, mode="replicate")
    flat = F.conv2d(flat, kernel.view(n * c, 1, 1, -1), groups=n * c)
    flat = F.conv2d(flat, kernel.view(n * c, 1, -1, 1), groups=n * c)
    return flat.view(n, c, h, w)


@lru_cache(maxsize=8)
def sign_templates(sticker: Sticker | None = None) -> torch.Tensor:
    """RGBA templates [K, 4, 48, 48] of the synthetic classes in [0, 1], with a sticker if given."""
    return torch.stack([_template(label, sticker) for label in SYNTHETIC_CLASSES])


def _template(label: int, sticker: Sticker | None, scale: int = 4) -> torch.Tensor:
    s = TEMPLATE_SIZE * scale
    image = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    centre, radius = s / 2, s / 2 - 1
    if label == 14:  # stop: red octagon, white rim, STOP
        octagon = [
            (
                centre + radius * math.cos(math.pi / 8 + k * math.pi / 4),
                centre + radius * math.sin(math.pi / 8 + k * math.pi / 4),
            )
            for k in range(8)
        ]
        inner = [
            (
                centre + 0.9 * radius * math.cos(math.pi / 8 + k * math.pi / 4),
                centre + 0.9 * radius * math.sin(math.pi / 8 + k * math.pi / 4),
            )
            for k in range(8)
        ]
        draw.polygon(octagon, fill=WHITE + (255,))
        draw.polygon(inner, fill=RED + (255,))
        _text(draw, "STOP", centre, centre, 0.36 * s, WHITE, width=0.78 * s)
    elif label in (1, 2, 4, 7):  # speed limit: white disc, red ring, the speed
        draw.ellipse([1, 1, s - 1, s - 1], fill=RED + (255,))
        ring = 0.17 * s
        draw.ellipse([ring, ring, s - ring, s - ring], fill=WHITE + (255,))
        speed = {1: "30", 2: "50", 4: "70", 7: "100"}[label]
        _text(draw, speed, centre, centre, 0.42 * s, BLACK, width=0.6 * s)
    elif label == 12:  # priority road: yellow diamond, white rim, thin black edge
        for fraction, fill in ((1.0, BLACK), (0.96, WHITE), (0.72, YELLOW_SIGN)):
            r = radius * fraction
            draw.polygon(
                [
                    (centre, centre - r),
                    (centre + r, centre),
                    (centre, centre + r),
                    (centre - r, centre),
                ],
                fill=fill + (255,),
            )
    elif label == 13:  # yield: triangle pointing down, red rim, white inside
        top, bottom = 0.08 * s, 0.95 * s
        draw.polygon([(1, top), (s - 1, top), (centre, bottom)], fill=RED + (255,))
        draw.polygon(
            [(0.2 * s, top + 0.09 * s), (0.8 * s, top + 0.09 * s), (centre, bottom - 0.2 * s)],
            fill=WHITE + (255,),
        )
    elif label == 17:  # no entry: red disc, white bar
        draw.ellipse([1, 1, s - 1, s - 1], fill=RED + (255,))
        draw.rectangle([0.18 * s, 0.41 * s, 0.82 * s, 0.59 * s], fill=WHITE + (255,))
    elif label == 38:  # keep right: blue disc, white arrow down to the right
        draw.ellipse([1, 1, s - 1, s - 1], fill=BLUE + (255,))
        arrow = np.array(
            [
                (-0.08, -0.3),
                (0.06, -0.3),
                (0.06, 0.05),
                (0.16, -0.05),
                (0.24, 0.03),
                (0.0, 0.27),
                (-0.24, 0.03),
                (-0.16, -0.05),
                (-0.08, 0.05),
            ]
        )
        turn = np.array(
            [
                [math.cos(-math.pi / 4), -math.sin(-math.pi / 4)],
                [math.sin(-math.pi / 4), math.cos(-math.pi / 4)],
            ]
        )
        draw.polygon([tuple(centre + s * p) for p in arrow @ turn.T], fill=WHITE + (255,))
    else:
        raise ValueError(f"no template for class {label}")
    if sticker is not None:
        left, top, right, bottom = sticker.bounds()
        draw.rectangle(
            [left * s, top * s, right * s - 1, bottom * s - 1], fill=tuple(sticker.colour) + (255,)
        )
    small = image.resize((TEMPLATE_SIZE, TEMPLATE_SIZE), Image.LANCZOS)
    return torch.from_numpy(np.asarray(small, dtype=np.float32) / 255).permute(2, 0, 1)


def _text(
    draw: ImageDraw.ImageDraw,
    text: str,
    x: float,
    y: float,
    height: float,
    fill: tuple,
    width: float,
) -> None:
    """Bold text centred at (x, y), shrunk to fit `width` (matplotlib's bundled DejaVu font: no
    system fonts needed)."""
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
    size = int(height)
    font = ImageFont.truetype(path, size)
    while draw.textlength(text, font=font) > width and size > 8:
        size -= 2
        font = ImageFont.truetype(path, size)
    draw.text((x, y), text, font=font, fill=fill + (255,), anchor="mm")
