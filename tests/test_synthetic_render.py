"""The procedural face renderer: determinism, AU locality and strength, identities, nuisances."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from au.aus import DISFA_AUS
from au.data.synthetic.identity import Identity, sample_identity
from au.data.synthetic.nuisances import (
    DIFFICULTY_LEVELS,
    MODALITIES,
    Nuisance,
    nuisance_from_record,
    nuisance_record,
    sample_nuisance,
)
from au.data.synthetic.preview import au_intensity_sheet, label_grid
from au.data.synthetic.render import AU_REGIONS, REGIONS, render_face

SIZE = 128


@pytest.fixture(scope="module")
def identities() -> list[Identity]:
    rng = np.random.default_rng(7)
    return [sample_identity(rng) for _ in range(3)]


def _levels(au: str, intensity: float) -> np.ndarray:
    levels = np.zeros(len(DISFA_AUS))
    levels[DISFA_AUS.index(au)] = intensity
    return levels


def _region_mask(names: tuple[str, ...]) -> np.ndarray:
    mask = np.zeros((SIZE, SIZE), bool)
    for name in names:
        x0, y0, x1, y1 = (round(c * SIZE) for c in REGIONS[name])
        mask[y0:y1, x0:x1] = True
    return mask


def _au_change(identity: Identity, au: str, intensity: float, shading: str = "flat") -> np.ndarray:
    """Per-pixel change (max over channels) from the neutral face to ``au`` at ``intensity``."""
    neutral = render_face(identity, np.zeros(len(DISFA_AUS)), shading=shading).astype(int)
    moved = render_face(identity, _levels(au, intensity), shading=shading).astype(int)
    return np.abs(moved - neutral).max(axis=2)


#: Largest change outside an AU's regions: 1 grey level of rounding; with relief shading 2,
#: where a groove's lit edge reaches one pixel past its region's box.
ROUNDING = {"flat": 1, "relief": 2}


def test_rendering_is_byte_identical_for_the_same_arguments(identities):
    nuisance = sample_nuisance(np.random.default_rng(3), difficulty=3)
    nuisance = replace(nuisance, occlusion="hand", noise_sigma=6.0, jpeg_quality=50)
    levels = np.linspace(0, 5, len(DISFA_AUS))
    for modality in MODALITIES:
        frame = replace(nuisance, modality=modality)
        first = render_face(identities[0], levels, frame)
        assert np.array_equal(first, render_face(identities[0], levels, frame))


@pytest.mark.parametrize(
    ("modality", "shape"), [("rgb", (96, 96, 3)), ("gray", (96, 96)), ("thermal", (96, 96))]
)
def test_modalities_return_their_shape_and_uint8(identities, modality, shape):
    image = render_face(identities[0], np.zeros(12), Nuisance(modality=modality), size=96)
    assert image.shape == shape and image.dtype == np.uint8
    assert image.std() > 10  # a picture, not a flat field


def test_clean_default_is_rgb_and_equals_the_default_nuisance(identities):
    assert np.array_equal(
        render_face(identities[1], np.zeros(12)),
        render_face(identities[1], np.zeros(12), Nuisance()),
    )


@pytest.mark.parametrize("shading", ["flat", "relief"])
@pytest.mark.parametrize("au", DISFA_AUS)
def test_each_au_changes_its_regions_and_nothing_else(identities, au, shading):
    own = _region_mask(AU_REGIONS[au])
    for identity in identities:
        change = _au_change(identity, au, 5.0, shading)
        assert change[own].mean() > 0.3, f"{au} barely changes its regions {AU_REGIONS[au]}"
        assert change[own].max() >= 20, f"{au} at intensity 5 is not strong anywhere"
        # Outside the AU's own regions the face stays the same up to ROUNDING.
        assert change[~own].max() <= ROUNDING[shading], f"{au} changes pixels outside its regions"
        assert (change[~own] > 1).mean() < 0.001, f"{au} spills past {AU_REGIONS[au]}"


@pytest.mark.parametrize(
    ("au", "untouched"),
    [
        ("AU12", "brows"), ("AU15", "brows"), ("AU17", "brows"), ("AU20", "brows"),
        ("AU25", "brows"), ("AU26", "brows"), ("AU25", "eyes"), ("AU26", "eyes"), ("AU9", "chin"),
        ("AU1", "mouth"), ("AU1", "chin"), ("AU2", "mouth"), ("AU2", "chin"), ("AU4", "mouth"),
        ("AU4", "chin"), ("AU5", "mouth"), ("AU5", "chin"), ("AU6", "mouth"), ("AU6", "brows"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("shading", ["flat", "relief"])
def test_au_leaves_a_distant_region_byte_identical(identities, au, untouched, shading):
    region = _region_mask((untouched,)) & ~_region_mask(AU_REGIONS[au])
    for identity in identities:
        assert _au_change(identity, au, 5.0, shading)[region].max() == 0


@pytest.mark.parametrize("shading", ["flat", "relief"])
@pytest.mark.parametrize(("au", "neighbour"), [("AU12", "eyes"), ("AU9", "eyes"), ("AU20", "chin")])
def test_au_leaves_a_neighbouring_region_unchanged_up_to_rounding(
    identities, au, neighbour, shading
):
    region = _region_mask((neighbour,)) & ~_region_mask(AU_REGIONS[au])
    for identity in identities:
        change = _au_change(identity, au, 5.0, shading)[region]
        assert change.max() <= ROUNDING[shading]
        assert (change >= ROUNDING[shading]).mean() < 0.01  # flat: any change at all


@pytest.mark.parametrize("au", DISFA_AUS)
def test_change_grows_with_intensity_and_intensity_one_is_subtle(identities, au):
    own = _region_mask(AU_REGIONS[au])
    changes = [_au_change(identities[0], au, i)[own].mean() for i in (1, 3, 5)]
    assert changes[0] < changes[1] < changes[2]
    assert changes[0] < 0.4 * changes[2]


def test_lookalike_pairs_differ_visibly(identities):
    mouth = _region_mask(("mouth",))
    brows = _region_mask(("brows",))
    for first, second, region in (("AU12", "AU20", mouth), ("AU12", "AU15", mouth),
                                  ("AU20", "AU15", mouth), ("AU25", "AU26", mouth),
                                  ("AU1", "AU2", brows)):  # fmt: skip
        a = render_face(identities[0], _levels(first, 5)).astype(int)
        b = render_face(identities[0], _levels(second, 5)).astype(int)
        assert np.abs(a - b).max(axis=2)[region].mean() > 1.0, (first, second)


def test_jaw_drop_lowers_the_chin_but_lips_part_does_not(identities):
    chin = _region_mask(("chin",)) & ~_region_mask(("mouth",))
    assert _au_change(identities[0], "AU25", 5)[chin].max() == 0
    assert _au_change(identities[0], "AU26", 5)[chin].mean() > 0.5


def test_identities_differ(identities):
    neutral = [render_face(i, np.zeros(12)).astype(int) for i in identities]
    assert np.abs(neutral[0] - neutral[1]).mean() > 15
    assert np.abs(neutral[1] - neutral[2]).mean() > 15


def test_a_resting_bias_looks_like_a_weak_au_of_a_neutral_subject(identities):
    plain = replace(identities[0], resting_aus=(0.0,) * 12)
    smiley = replace(plain, resting_aus=tuple(_levels("AU12", 1.5)))
    assert np.array_equal(
        render_face(smiley, np.zeros(12)), render_face(plain, _levels("AU12", 1.5))
    )


def test_sampled_identities_vary_in_shape_colour_and_style():
    rng = np.random.default_rng(0)
    people = [sample_identity(rng) for _ in range(200)]
    tones = [sum(p.skin) / 3 for p in people]
    assert max(tones) - min(tones) > 120  # from very light to very dark skin
    assert {p.hair_style for p in people} == {"bald", "short", "fringe", "long"}
    assert {p.beard for p in people} == {"none", "stubble", "full"}
    assert np.mean([any(p.resting_aus) for p in people]) > 0.5
    assert np.std([p.face_width for p in people]) > 0.01


@pytest.mark.parametrize(
    "change",
    [
        {"light_level": 0.3}, {"light_angle": 0.0, "light_contrast": 0.5}, {"white_balance": 1.0},
        {"glasses": "round"}, {"glasses": "rectangular"}, {"yaw": 20.0}, {"pitch": 15.0},
        {"roll": 15.0}, {"scale": 0.85}, {"shift_x": 0.05, "shift_y": -0.04},
        {"occlusion": "bar", "occlusion_y": 0.2, "occlusion_size": 0.5, "occlusion_angle": -10.0},
        {"occlusion": "hand", "occlusion_x": 0.1, "occlusion_y": 0.25, "occlusion_size": 0.5,
         "occlusion_angle": -100.0},
        {"noise_sigma": 6.0, "seed": 1}, {"blur_sigma": 1.5}, {"jpeg_quality": 20},
    ],
)  # fmt: skip
def test_each_nuisance_changes_the_image(identities, change):
    clean = render_face(identities[0], np.zeros(12)).astype(int)
    changed = render_face(identities[0], np.zeros(12), Nuisance(**change)).astype(int)
    assert np.abs(changed - clean).mean() > 1.0


def test_glasses_differ_by_style(identities):
    round_ = render_face(identities[0], np.zeros(12), Nuisance(glasses="round")).astype(int)
    square = render_face(identities[0], np.zeros(12), Nuisance(glasses="rectangular")).astype(int)
    assert np.abs(round_ - square)[_region_mask(("eyes",))].mean() > 1.0


def test_noise_follows_the_seed(identities):
    first, second = (
        render_face(identities[0], np.zeros(12), Nuisance(noise_sigma=5.0, seed=s)) for s in (1, 2)
    )
    assert not np.array_equal(first, second)


def test_thermal_is_warm_around_eyes_and_mouth_cold_on_hair_background_and_glasses(identities):
    plain = replace(identities[0], hair_style="short", beard="none")
    image = render_face(plain, np.zeros(12), Nuisance(modality="thermal")).astype(float)

    def mean(box: tuple[float, float, float, float]) -> float:
        x0, y0, x1, y1 = (round(c * SIZE) for c in box)
        return image[y0:y1, x0:x1].mean()

    inner_eye_corners = mean((0.42, 0.39, 0.58, 0.44))
    cheeks = (mean((0.22, 0.52, 0.32, 0.58)) + mean((0.68, 0.52, 0.78, 0.58))) / 2
    forehead = mean((0.4, 0.22, 0.6, 0.26))
    assert inner_eye_corners > cheeks + 10 and inner_eye_corners > forehead + 10
    assert mean((0.0, 0.0, 0.08, 0.3)) < forehead - 40  # background
    assert mean((0.45, 0.05, 0.55, 0.1)) < forehead - 40  # hair
    glasses = render_face(plain, np.zeros(12), Nuisance(modality="thermal", glasses="round"))
    lens = (slice(49, 55), slice(33, 42))  # over the right-hand eye in the image
    assert glasses[lens].mean() < image[lens].mean() - 40


def test_gray_is_the_luminance_of_rgb(identities):
    rgb = render_face(identities[2], np.zeros(12)).astype(float)
    gray = render_face(identities[2], np.zeros(12), Nuisance(modality="gray")).astype(float)
    luminance = rgb @ np.array([0.299, 0.587, 0.114])
    assert np.abs(gray - luminance).max() <= 1.5


def test_difficulty_zero_is_clean_and_three_is_harsher_than_one():
    rng = np.random.default_rng(0)
    assert sample_nuisance(rng, 0, "thermal") == Nuisance(modality="thermal")
    samples = {d: [sample_nuisance(rng, d) for _ in range(400)] for d in (1, 2, 3)}

    def average(level: int, measure) -> float:
        return float(np.mean([measure(n) for n in samples[level]]))

    for measure in (
        lambda n: abs(n.roll), lambda n: abs(n.yaw), lambda n: n.low_light,
        lambda n: n.glasses != "none", lambda n: n.occlusion != "none", lambda n: n.noise_sigma,
        lambda n: n.blur_sigma, lambda n: -n.jpeg_quality,
    ):  # fmt: skip
        assert average(1, measure) < average(2, measure) < average(3, measure)
    default = samples[2]
    assert 0.05 < np.mean([n.low_light for n in default]) < 0.3  # a minority in low light
    assert set(DIFFICULTY_LEVELS) == {0, 1, 2, 3}


def test_nuisance_record_is_flat_and_rebuilds_the_nuisance():
    nuisance = sample_nuisance(np.random.default_rng(5), 3, "gray")
    record = nuisance_record(nuisance)
    for column in ("light_level", "light_angle", "glasses", "yaw", "pitch", "roll", "scale",
                   "shift_x", "shift_y", "occlusion", "noise_sigma", "blur_sigma", "jpeg_quality",
                   "modality", "low_light", "nuisance_seed"):  # fmt: skip
        assert column in record
    assert all(isinstance(v, (int, float, str)) for v in record.values())
    assert nuisance_from_record(record) == nuisance


def test_bad_arguments_raise_clear_errors(identities):
    with pytest.raises(ValueError, match="shape"):
        render_face(identities[0], np.zeros(8))
    with pytest.raises(ValueError, match="modality"):
        Nuisance(modality="infrared")
    with pytest.raises(ValueError, match="difficulty"):
        sample_nuisance(np.random.default_rng(0), 4)


def test_intensity_sheet_has_a_row_per_au_and_a_column_per_intensity(identities):
    sheet = au_intensity_sheet(identities[0], size=48)
    assert sheet.dtype == np.uint8 and sheet.shape[2] == 3
    assert sheet.shape[0] >= 12 * 48 and sheet.shape[1] >= 6 * 48
    first_row = sheet[22:70]  # the AU1 row: its six faces differ from one another
    assert first_row.std() > 10


def test_label_grid_tiles_gray_and_rgb_with_captions():
    images = [np.full((40, 40, 3), 200, np.uint8), np.full((40, 40), 50, np.uint8)] * 2
    grid = label_grid(images, ["a", "b", "c", "d"], columns=2)
    assert grid.ndim == 3 and grid.shape[2] == 3
    assert grid.shape[0] > 80 and grid.shape[1] >= 80
    with pytest.raises(ValueError, match="caption"):
        label_grid(images, ["a"], columns=2)
