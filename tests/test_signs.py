"""Street signs: the generator, the sticker, the GTSRB loader on a tiny fixture, the attack."""

import math
import socket

import pytest
import torch
from PIL import Image

from utils.data import DataIntegrityError, DatasetUnavailableError
from utils.signs import dataset as sign_data
from utils.signs.attack import SignAttackConfig, evaluate_signs, poison_signs, train_sign_model
from utils.signs.classes import STOP, SYNTHETIC_CLASSES, name
from utils.signs.dataset import SignSet, apply_sticker, load_signs
from utils.signs.gtsrb import load_gtsrb
from utils.signs.robustness import success_by_size, tilted
from utils.signs.sticker import Sticker
from utils.signs.synthetic import draw_scenes, render, sign_boxes
from utils.widgets import SignAttackPanel


@pytest.fixture(scope="module")
def small_signs():
    scene = draw_scenes(180, seed=3)
    return SignSet(render(scene), scene.labels, sign_boxes(scene), scene)


def test_class_names_follow_gtsrb_and_refuse_unknown_ids():
    assert name(14) == "stop" and name(2) == "speed limit 50"
    with pytest.raises(ValueError, match=r"GTSRB class id in 0..42, got 43"):
        name(43)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"size": 0}, r"sticker size must be a fraction in \(0, 1\] of the sign"),
        ({"x": 0.95}, r"centre x in \[0.1, 0.9\]"),
        ({"y": 0.02, "size": 0.1}, r"centre y in \[0.05, 0.95\]"),
        ({"colour": (255, 0)}, "three whole numbers"),
        ({"colour": (255, 0, 300)}, "three whole numbers"),
        ({"place": "car"}, "sticker place must be one of"),
    ],
)
def test_a_sticker_that_does_not_fit_is_refused_with_what_is_allowed(arguments, message):
    with pytest.raises(ValueError, match=message):
        Sticker(**arguments)


def test_scenes_and_photos_are_fixed_by_the_seed(small_signs):
    again = draw_scenes(180, seed=3)
    assert torch.equal(render(again), small_signs.images)
    assert not torch.equal(render(draw_scenes(180, seed=4)), small_signs.images)
    assert small_signs.images.shape == (180, 3, 32, 32) and small_signs.images.dtype == torch.uint8
    assert set(small_signs.labels.tolist()) == set(SYNTHETIC_CLASSES)
    assert (
        torch.bincount(small_signs.labels, minlength=43)[list(SYNTHETIC_CLASSES)].tolist()
        == [20] * 9
    )
    with pytest.raises(ValueError, match="count must be a whole number >= 1"):
        draw_scenes(0, seed=1)


def test_photos_vary_in_what_the_issue_lists(small_signs):
    scene = small_signs.scene
    widths = small_signs.boxes[:, 2] - small_signs.boxes[:, 0]
    assert widths.max() - widths.min() > 8  # scale
    assert scene.rotation.abs().max() > 0.2  # rotation (radians)
    assert scene.corners.abs().max() > 0.05  # perspective
    assert 0.2 < scene.occluder[:, 0].mean() < 0.45  # occlusion on about 30%
    brightness = small_signs.images.float().mean((1, 2, 3))
    assert brightness.max() / brightness.min() > 2.5  # lighting
    corners = small_signs.images[:, :, :3, :3].float().flatten(1).std(1)
    assert (corners > 3).float().mean() > 0.9  # backgrounds are not flat


def test_the_sticker_changes_only_the_sign_near_where_it_sits(small_signs):
    stops = small_signs.subset(small_signs.labels == STOP)
    before = stops.images.clone()
    stamped = apply_sticker(stops, Sticker())
    assert torch.equal(stops.images, before)
    changed = (stamped.int() - stops.images.int()).abs().amax(1) > 0
    box = stops.boxes
    rows, cols = torch.arange(32).view(1, 32, 1), torch.arange(32).view(1, 1, 32)
    near_sign = (
        (rows >= box[:, 1, None, None] - 2)
        & (rows <= box[:, 3, None, None] + 2)
        & (cols >= box[:, 0, None, None] - 2)
        & (cols <= box[:, 2, None, None] + 2)
    )
    assert changed.any((1, 2)).all()
    assert not (changed & ~near_sign).any()

    def yellowness(images):
        return (images[:, 0].float() + images[:, 1].float()) / 2 - images[:, 2].float()

    assert (yellowness(stamped)[changed] > yellowness(stops.images)[changed]).float().mean() > 0.9


def test_a_patch_in_the_image_corner_lands_at_the_same_pixels_in_every_photo(small_signs):
    patch = Sticker(0.9, 0.9, 0.125, place="image")
    stamped = apply_sticker(small_signs, patch)
    changed = (stamped.int() - small_signs.images.int()).abs().amax(1) > 0
    assert not changed[:, :24, :24].any()
    assert changed[:, 27:31, 27:31].float().mean() > 0.9


def test_synthetic_signs_are_stored_and_a_second_call_reads_them_back(tmp_path, monkeypatch):
    monkeypatch.setattr(sign_data, "SIGNS_CACHE", tmp_path)
    sign_data._synthetic_signs.cache_clear()
    first = sign_data.synthetic_signs(300, 5)
    assert len(list(tmp_path.glob("synthetic-300-5-*.pt"))) == 1
    sign_data._synthetic_signs.cache_clear()  # as in a new process: read from the file
    monkeypatch.setattr(
        sign_data, "render", lambda *args: pytest.fail("the stored photos were drawn again")
    )
    from_file = sign_data.synthetic_signs(300, 5)
    assert torch.equal(first.images, from_file.images)
    from_file.images[:] = 0  # a caller's edits never reach the next caller
    assert torch.equal(sign_data.synthetic_signs(300, 5).images, first.images)
    sign_data._synthetic_signs.cache_clear()


def test_load_signs_refuses_unknown_data_sets_and_splits():
    with pytest.raises(ValueError, match="dataset must be one of"):
        load_signs("train", "imagenet")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        load_signs("validation")


def write_gtsrb_fixture(root, small_signs, classes=(14, 2), per_class=3, test_count=4):
    """A tiny copy of GTSRB in torchvision's layout, photos of varying size with their boxes."""
    base = root / "gtsrb"
    photos = small_signs.images.permute(0, 2, 3, 1).numpy()
    header = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n"
    for label in classes:
        folder = base / "GTSRB" / "Training" / f"{label:05d}"
        folder.mkdir(parents=True)
        lines = []
        for k in range(per_class):
            size = 40 + 10 * k
            Image.fromarray(photos[k]).resize((size, size)).save(folder / f"00000_{k:05d}.ppm")
            lines.append(f"00000_{k:05d}.ppm;{size};{size};5;6;{size - 6};{size - 5};{label}\n")
        (folder / f"GT-{label:05d}.csv").write_text(header + "".join(lines))
    images = base / "GTSRB" / "Final_Test" / "Images"
    images.mkdir(parents=True)
    lines = []
    for k in range(test_count):
        Image.fromarray(photos[k]).resize((64, 48)).save(images / f"{k:05d}.ppm")
        lines.append(f"{k:05d}.ppm;64;48;8;4;55;43;{classes[k % len(classes)]}\n")
    (base / "GT-final_test.csv").write_text(header + "".join(lines))
    return root


def test_gtsrb_is_read_from_torchvision_layout_and_resized_with_its_boxes(tmp_path, small_signs):
    root = write_gtsrb_fixture(tmp_path, small_signs)
    train = load_gtsrb("train", root)
    assert train.images.shape == (6, 3, 32, 32) and train.images.dtype == torch.uint8
    assert sorted(train.labels.tolist()) == [2, 2, 2, 14, 14, 14]
    assert train.scene is None
    # Roi.X2, Roi.Y2: last pixels inside
    assert torch.allclose(
        train.boxes[train.labels == 2][0], torch.tensor([5.0, 6, 35, 36]) * 32 / 40
    )
    test = load_signs("test", "gtsrb", root=root)
    assert test.labels.tolist() == [14, 2, 14, 2]
    assert torch.allclose(
        test.boxes[0], torch.tensor([8 * 0.5, 4 * 32 / 48, 56 * 0.5, 44 * 32 / 48])
    )
    assert (root / "gtsrb" / "resized-test-32.pt").exists()
    for photo in (root / "gtsrb" / "GTSRB" / "Final_Test" / "Images").glob("*.ppm"):
        photo.unlink()  # the resized copy is enough from now on
    assert torch.equal(load_signs("test", "gtsrb", root=root).images, test.images)


def test_a_sticker_on_a_gtsrb_photo_is_pasted_on_the_sign_box(tmp_path, small_signs):
    signs = load_gtsrb("test", write_gtsrb_fixture(tmp_path, small_signs))
    stamped = apply_sticker(signs, Sticker(0.5, 0.5, 0.25, (255, 214, 0)))
    left, top, right, bottom = signs.boxes[0].tolist()
    centre_row, centre_col = round((top + bottom) / 2), round((left + right) / 2)
    assert stamped[0, :, centre_row, centre_col].tolist() == [255, 214, 0]
    assert torch.equal(stamped[:, :, :2], signs.images[:, :, :2])  # above the boxes: untouched


def test_gtsrb_missing_offline_fails_at_once_and_says_how_to_get_it(tmp_path, monkeypatch):
    with pytest.raises(DatasetUnavailableError, match=r"download=True.*dataset='synthetic'"):
        load_gtsrb("train", tmp_path)

    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args)
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(DatasetUnavailableError, match="Cannot reach .* to download GTSRB"):
        load_gtsrb("train", tmp_path, download=True)
    assert len(attempts) == 1  # at once: one try, no retries


def test_an_incomplete_gtsrb_copy_is_reported(tmp_path, small_signs):
    root = write_gtsrb_fixture(tmp_path, small_signs)
    (root / "gtsrb" / "GTSRB" / "Training" / "00002" / "GT-00002.csv").unlink()
    with pytest.raises(
        DataIntegrityError, match=r"without their GT-\*.csv annotations: \['00002'\]"
    ):
        load_gtsrb("train", root)
    extra = root / "gtsrb" / "GT-final_test.csv"
    extra.write_text(extra.read_text() + "99999.ppm;64;48;8;4;55;43;14\n")
    with pytest.raises(
        DataIntegrityError,
        match=r"1 photos listed in the annotations are missing, e.g. .*99999.ppm",
    ):
        load_gtsrb("test", root)


def test_source_specific_poison_touches_only_stop_signs(small_signs):
    poisoned = poison_signs(small_signs, 0.05, Sticker(), target_label=2, source_label=STOP, seed=1)
    assert len(poisoned.indices) == 9
    assert (small_signs.labels[poisoned.indices] == STOP).all()
    assert (poisoned.labels[poisoned.indices] == 2).all()
    untouched = torch.ones(180, dtype=torch.bool)
    untouched[poisoned.indices] = False
    assert torch.equal(poisoned.images[untouched], small_signs.images[untouched])
    assert torch.equal(poison_signs(small_signs, 0.05, seed=1).indices, poisoned.indices)


def test_all_to_one_poison_draws_from_every_class_but_the_target(small_signs):
    poisoned = poison_signs(small_signs, 0.5, Sticker(), target_label=2, source_label=None)
    sources = set(small_signs.labels[poisoned.indices].tolist())
    assert 2 not in sources and len(sources) == 8


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"rate": 1.5}, r"poison rate must be a fraction in \[0, 1\]"),
        ({"rate": 0.2}, r"only 20 that may be poisoned; use a rate of at most 0.1111"),
        ({"rate": 0.01, "target_label": 14}, "source and target must differ"),
        ({"rate": 0.01, "target_label": 50}, "GTSRB class id"),
    ],
)
def test_bad_poisoning_settings_are_refused(small_signs, arguments, message):
    with pytest.raises(ValueError, match=message):
        poison_signs(small_signs, **arguments)


def test_robustness_helpers(small_signs):
    stops = small_signs.subset(small_signs.labels == STOP)
    assert torch.equal(tilted(stops, 0), stops.images)
    assert not torch.equal(tilted(stops, 15), stops.images)

    class AlwaysTarget(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bias = torch.nn.Parameter(torch.zeros(43))

        def forward(self, x):
            return self.bias.expand(len(x), 43) + torch.nn.functional.one_hot(torch.tensor(2), 43)

    assert success_by_size(AlwaysTarget(), stops, Sticker(), [0.1, 0.3], 2) == [1.0, 1.0]
    figures = evaluate_signs(AlwaysTarget(), small_signs, Sticker(), 2, source_label=None)
    assert math.isnan(figures["false_trigger_rate"]) and figures["attack_success_rate"] == 1.0


def test_sign_panel_previews_the_sticker_and_keeps_it_on_the_sign(small_signs, empty_model_cache):
    panel = SignAttackPanel(small_signs, small_signs)
    before = panel.preview.value
    panel.y.value = 0.3
    assert panel.preview.value != before
    panel.size.value, panel.x.value = 0.4, 0.9
    assert panel.sticker().x == 0.8  # moved in so the whole sticker stays on the sign
    assert panel.trainings_started == 0


@pytest.fixture(scope="module")
def sign_models():
    train, test = load_signs("train"), load_signs("test")
    config = SignAttackConfig()
    return (
        test,
        config,
        train_sign_model(config.clean(), train, progress=False).model,
        train_sign_model(config, train, progress=False).model,
    )


def test_on_the_synthetic_signs_the_attack_reaches_the_targets(sign_models):
    test, config, clean, backdoored = sign_models
    assert evaluate_signs(clean, test, config.sticker, 2)["clean_accuracy"] >= 0.97
    figures = evaluate_signs(backdoored, test, config.sticker, config.target_label)
    assert figures["clean_accuracy"] >= 0.97
    assert figures["attack_success_rate"] >= 0.9
    assert figures["false_trigger_rate"] < 0.1
