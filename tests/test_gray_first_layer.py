"""Grayscale input: ImageNet first-layer weights are adapted to 1 channel by summing RGB filters.

A gray image ``g`` fed as three identical channels gives ``sum_c W_c * g``; a 1-channel conv
whose filter is ``sum_c W_c`` gives exactly the same response on ``g`` (instead of three copies
of the image, or one channel's filter, or the mean).
"""

import pytest
import timm
import torch
from safetensors.torch import save_file

from au.models.backbone import create_backbone


@pytest.fixture(scope="module")
def rgb_weights(tmp_path_factory):
    """A random-init mobilenetv2_100 (3 channels) written to a temp file, and its state."""
    torch.manual_seed(11)
    reference = timm.create_model("mobilenetv2_100", num_classes=0).eval()
    path = tmp_path_factory.mktemp("weights") / "mobilenetv2_100.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    return path, reference


def test_one_channel_first_conv_is_the_sum_of_the_rgb_filters(rgb_weights):
    path, reference = rgb_weights
    gray = create_backbone("mobilenet_v2", weights=path, in_chans=1)
    rgb_filters = reference.conv_stem.weight  # (32, 3, 3, 3)
    assert gray.conv_stem.weight.shape == (32, 1, 3, 3)
    assert torch.allclose(gray.conv_stem.weight, rgb_filters.sum(dim=1, keepdim=True))
    assert not torch.allclose(gray.conv_stem.weight, rgb_filters[:, :1])  # not one channel
    assert not torch.allclose(gray.conv_stem.weight, rgb_filters.mean(dim=1, keepdim=True))


def test_gray_model_matches_the_rgb_model_on_a_replicated_gray_image(rgb_weights):
    path, reference = rgb_weights
    gray = create_backbone("mobilenet_v2", weights=path, in_chans=1).eval()
    torch.manual_seed(0)
    image = torch.rand(2, 1, 64, 64)  # (B, 1, H, W)
    with torch.no_grad():
        expected = reference(image.expand(-1, 3, -1, -1))  # (B, 1280)
        assert torch.allclose(gray(image), expected, atol=1e-5)
    for key, value in reference.state_dict().items():  # every later layer is unchanged
        if key != "conv_stem.weight":
            assert torch.equal(gray.state_dict()[key], value), key
