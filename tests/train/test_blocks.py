import pytest
import torch
from torch import nn
from vaekit.train.blocks import ConvBlock, Downsample, ResidualBlock, Upsample, make_norm


@pytest.mark.parametrize("c_in,c_out", [(8, 8), (8, 16), (16, 8)])
def test_conv_block_maps_channels_and_keeps_size(c_in, c_out):
    block = ConvBlock(in_channels=c_in, out_channels=c_out)
    assert block(torch.randn(2, c_in, 14, 14)).shape == (2, c_out, 14, 14)


def test_conv_block_projects_residual_only_when_channels_change():
    assert isinstance(ConvBlock(in_channels=8, out_channels=8).skip, nn.Identity)
    skip = ConvBlock(in_channels=8, out_channels=16).skip
    assert isinstance(skip, nn.Conv2d) and skip.kernel_size == (1, 1)


def test_residual_block_preserves_shape():
    assert ResidualBlock(channels=32)(torch.randn(3, 32, 7, 7)).shape == (3, 32, 7, 7)


@pytest.mark.parametrize("size", [28, 14, 64])
def test_downsample_halves_and_upsample_doubles(size):
    x = torch.randn(2, 8, size, size)
    down = Downsample(channels=8)(x)
    assert down.shape == (2, 8, size // 2, size // 2)
    assert Upsample(channels=8)(down).shape == x.shape


def test_constructors_are_keyword_only():
    with pytest.raises(TypeError):
        ConvBlock(8, 16)  # type: ignore[misc]


@pytest.mark.parametrize("kind,cls", [("group", nn.GroupNorm), ("batch", nn.BatchNorm2d),
                                      ("none", nn.Identity)])
def test_norm_by_name(kind, cls):
    assert isinstance(make_norm(kind, 12), cls)


def test_group_norm_picks_a_divisor_of_the_channels():
    assert make_norm("group", 12, groups=8).num_groups == 6


def test_unknown_norm_names_the_choices():
    with pytest.raises(ValueError, match="group"):
        make_norm("layer", 8)
