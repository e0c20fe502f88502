"""The Part 2 autoencoder and its reconstruction losses (MSE, SSIM).

Unlike the classifiers the autoencoder does not standardise its input: the target of
the reconstruction is the input itself, floats in [0, 1].
"""
from __future__ import annotations

import torch
from torch import nn

from ._registry import register_model


def conv_norm_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (``stride``, padding 1) -> BatchNorm -> ReLU: (B, C_in, H, W) ->
    (B, C_out, H / stride, W / stride). The encoder stage of the autoencoders here and in
    ``generators``."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


@register_model
class ConvAutoencoder(nn.Module):
    """A convolutional autoencoder for [0, 1] images with a small spatial latent.

    Encoder: ``depth`` stages, each a strided 3x3 convolution (halves the side) and a
    second 3x3 convolution, both with BatchNorm and ReLU; stage i has
    ``base_channels * 2**i`` channels; a 1x1 convolution maps to ``latent_channels``.
    The latent is (B, latent_channels, S / 2**depth, S / 2**depth), with no activation
    (a ReLU would zero part of what gets clustered).

    Decoder: the mirror image, each stage upsampling (bilinear, x2) *then* convolving:
    transposed convolutions with stride 2 overlap unevenly and paint checkerboards.
    A sigmoid puts the output on [0, 1].

    Two linear shortcuts run beside the convolutions: block averages of the image
    (1x1 conv) are added to the latent, and the latent's 1x1 projection to colours,
    upsampled bilinearly, is added to the output logits. As in super-resolution
    networks that learn a residual over interpolation (Kim et al. 2016), training
    starts near plain interpolation and the convolutions learn what it misses.

    Unlike the classifiers it does not standardise its input: the target of the
    reconstruction is the input itself, in [0, 1].

    Args:
        image_size: side S of the square input, pixels; divisible by 2**depth.
        base_channels: channels of the first stage; stage i has base_channels * 2**i.
        depth: number of halvings (≥ 1).
        latent_channels: channels of the latent.
    """

    def __init__(self, image_size: int = 64, base_channels: int = 16, depth: int = 2, latent_channels: int = 3):
        super().__init__()
        if depth < 1 or image_size % (2 ** depth):
            raise ValueError(f"image_size {image_size} must be divisible by 2**depth = {2 ** depth} (depth >= 1)")
        self.init_args = dict(image_size=int(image_size), base_channels=int(base_channels), depth=int(depth),
                              latent_channels=int(latent_channels))
        self.image_size = image_size
        self.latent_channels = latent_channels
        self.scale = 2 ** depth
        self.latent_size = image_size // self.scale
        # Stage i works at side S / 2**(i+1): only the decoder's last stage and output
        # convolution run at full resolution, which is where an autoencoder's cost goes.
        widths = [base_channels * 2 ** i for i in range(depth)]

        encoder: list[nn.Module] = []
        channels = 3
        for width in widths:
            encoder += [conv_norm_relu(channels, width, stride=2), conv_norm_relu(width, width)]
            channels = width
        encoder.append(nn.Conv2d(channels, latent_channels, 1))
        self.encoder = nn.Sequential(*encoder)

        decoder: list[nn.Module] = [conv_norm_relu(latent_channels, widths[-1])]
        for stage in reversed(range(depth)):
            out = widths[stage - 1] if stage > 0 else widths[0]
            decoder += [conv_norm_relu(widths[stage], widths[stage]),
                        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                        conv_norm_relu(widths[stage], out)]
        decoder.append(nn.Conv2d(widths[0], 3, 3, padding=1))
        self.decoder = nn.Sequential(*decoder)
        # The linear shortcuts (see the class docstring).
        self.encoder_shortcut = nn.Conv2d(3, latent_channels, 1)
        self.decoder_shortcut = nn.Conv2d(latent_channels, 3, 1)

    @property
    def compression_ratio(self) -> float:
        """Input numbers per latent number: 3 * S**2 / (latent_channels * (S / 2**depth)**2)."""
        return 3 * self.image_size ** 2 / (self.latent_channels * self.latent_size ** 2)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) images in [0, 1] → (B, latent_channels, S/2**depth, S/2**depth) latent."""
        shortcut = self.encoder_shortcut(nn.functional.avg_pool2d(x, self.scale))
        return self.encoder(x) + shortcut

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Latent (B, latent_channels, h, w) → (B, 3, S, S) images in [0, 1]."""
        shortcut = nn.functional.interpolate(self.decoder_shortcut(z), scale_factor=self.scale,
                                             mode="bilinear", align_corners=False)
        return torch.sigmoid(self.decoder(z) + shortcut)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def _gaussian_window(size: int, sigma: float, channels: int, like: torch.Tensor) -> torch.Tensor:
    coords = torch.arange(size, dtype=like.dtype, device=like.device) - (size - 1) / 2
    g = torch.exp(-coords ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(channels, 1, size, size).contiguous()


def ssim(x: torch.Tensor, y: torch.Tensor, window_size: int = 11, sigma: float = 1.5,
         data_range: float = 1.0, per_image: bool = False) -> torch.Tensor:
    """Mean structural similarity of two (B, C, H, W) batches (Wang et al. 2004):
    local means, variances and covariance under a Gaussian window (depthwise conv2d,
    valid positions only), SSIM = (2 mu_x mu_y + C1)(2 cov + C2) / ((mu_x² + mu_y² + C1)(var_x + var_y + C2))
    with C1 = (0.01 L)², C2 = (0.03 L)². Returns a scalar in [-1, 1] (1: identical), or
    with ``per_image`` the (B,) mean of each image's map.
    The window shrinks to the image side for images smaller than it."""
    channels = x.shape[1]
    size = min(window_size, x.shape[-1], x.shape[-2])
    window = _gaussian_window(size, sigma, channels, x)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(t, window, groups=channels)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x ** 2
    var_y = blur(y * y) - mu_y ** 2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(dim=1) if per_image else ssim_map.mean()


def reconstruction_loss(ssim_weight: float = 0.0):
    """A loss for ``tasks.Reconstruction(loss_function=...)``: a callable
    (reconstruction, target) → scalar, both (B, 3, S, S) in [0, 1], equal to
    ``(1 - w) * MSE + w * (1 - SSIM)`` with ``w = ssim_weight`` (0: plain MSE)."""
    if not 0.0 <= ssim_weight <= 1.0:
        raise ValueError("ssim_weight must be in [0, 1]")

    def loss(reconstruction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mse = nn.functional.mse_loss(reconstruction.float(), target.float())
        if ssim_weight == 0.0:
            return mse
        return (1 - ssim_weight) * mse + ssim_weight * (1 - ssim(reconstruction.float(), target.float()))

    return loss

