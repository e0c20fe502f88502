"""The Part 3 generator: an autoencoder whose decoder is told which style to paint in,
through conditional instance normalisation (or, to compare, a concatenated style vector).
"""
from __future__ import annotations

import torch
from torch import nn

from ._registry import register_model
from .autoencoders import conv_norm_relu


class ConditionalInstanceNorm(nn.Module):
    """Instance normalisation whose per-channel scale and shift come from a style vector
    (conditional instance normalisation, Dumoulin, Shlens and Kudlur 2017).

    Normalising each image's channels to zero mean and unit variance removes the
    content image's own contrast and colour statistics; the style then sets them:
    ``out = norm(x) * (1 + scale(style)) + shift(style)``. The linear map starts at
    zero, so an untrained layer is a plain instance norm.

    x: (B, C, H, W); style: (B, embedding_dim) -> (B, C, H, W).
    """

    def __init__(self, channels: int, embedding_dim: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.to_scale_shift = nn.Linear(embedding_dim, 2 * channels)
        nn.init.zeros_(self.to_scale_shift.weight)
        nn.init.zeros_(self.to_scale_shift.bias)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        scale, shift = self.to_scale_shift(style).chunk(2, dim=1)
        return self.norm(x) * (1 + scale[:, :, None, None]) + shift[:, :, None, None]


class _StyledConv(nn.Module):
    """3x3 convolution -> normalisation (conditional with ``cin``, plain affine instance
    norm otherwise) -> ReLU. (B, C_in, H, W), (B, E) -> (B, C_out, H, W)."""

    def __init__(self, in_channels: int, out_channels: int, embedding_dim: int, conditional: bool):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conditional = conditional
        self.norm = (ConditionalInstanceNorm(out_channels, embedding_dim) if conditional
                     else nn.InstanceNorm2d(out_channels, affine=True))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        x = self.norm(x, style) if self.conditional else self.norm(x)
        return torch.relu(x)


@register_model
class StyleConditionedAutoencoder(nn.Module):
    """The Part 3 generator: a content encoder and a decoder told which style to paint in.

    Encoder: ``depth`` stages, each a strided 3x3 convolution (halves the side) and a
    second 3x3 convolution, with batch norm and ReLU; stage i has ``base_channels * 2**i``
    channels. The content code is (B, base_channels * 2**(depth-1), S / 2**depth, S / 2**depth):
    wide on purpose, because here the bottleneck should keep the layout and let the
    style decide the look.

    Style: ``nn.Embedding(n_styles, embedding_dim)``, one trained vector per style.

    Decoder, two ways of using the style vector:

    - ``conditioning="cin"``: every decoder normalisation layer is a
      :class:`ConditionalInstanceNorm` whose scale and shift come from the style vector
      (the published design: the style touches every layer);
    - ``conditioning="concat"``: the vector is broadcast over the content code and
      concatenated to it once (what most students tried), then plain instance norms.

    Each decoder stage upsamples (bilinear x2) then convolves (no checkerboards); a
    sigmoid ends on [0, 1].

    Inputs: images (B, 3, S, S) floats in [0, 1]; styles (B,) int64 style indices, or
    (B, embedding_dim) style vectors (for mixing styles: :meth:`style_vectors`).
    Output: (B, 3, S, S) in [0, 1].
    """

    CONDITIONINGS = ("cin", "concat")

    def __init__(self, n_styles: int = 27, image_size: int = 64, base_channels: int = 16, depth: int = 2,
                 embedding_dim: int = 16, conditioning: str = "cin"):
        super().__init__()
        if conditioning not in self.CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {self.CONDITIONINGS}, got {conditioning!r}")
        if depth < 1 or image_size % (2 ** depth):
            raise ValueError(f"image_size {image_size} must be divisible by 2**depth = {2 ** depth} (depth >= 1)")
        self.init_args = dict(n_styles=int(n_styles), image_size=int(image_size), base_channels=int(base_channels),
                              depth=int(depth), embedding_dim=int(embedding_dim), conditioning=conditioning)
        self.conditioning = conditioning
        self.image_size = image_size
        widths = [base_channels * 2 ** i for i in range(depth)]
        self.content_channels = widths[-1]

        encoder: list[nn.Module] = []
        channels = 3
        for width in widths:
            encoder += [conv_norm_relu(channels, width, stride=2), conv_norm_relu(width, width)]
            channels = width
        self.encoder = nn.Sequential(*encoder)

        self.style_embedding = nn.Embedding(n_styles, embedding_dim)
        nn.init.normal_(self.style_embedding.weight, std=1.0)
        cin = conditioning == "cin"
        first_in = widths[-1] + (0 if cin else embedding_dim)
        self.decoder_in = _StyledConv(first_in, widths[-1], embedding_dim, cin)
        self.decoder_stages = nn.ModuleList()
        for stage in reversed(range(depth)):
            out = widths[stage - 1] if stage > 0 else widths[0]
            self.decoder_stages.append(_StyledConv(widths[stage], out, embedding_dim, cin))
        self.to_rgb = nn.Conv2d(widths[0], 3, 3, padding=1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) in [0, 1] -> content code (B, content_channels, S/2**depth, S/2**depth)."""
        return self.encoder(x)

    def style_vectors(self, styles: torch.Tensor) -> torch.Tensor:
        """(B,) style indices -> (B, embedding_dim); (B, embedding_dim) vectors pass through."""
        if styles.dtype in (torch.int64, torch.int32):
            return self.style_embedding(styles.long())
        return styles

    def decode(self, content: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        """Content code and (B,) style indices or (B, embedding_dim) vectors -> (B, 3, S, S) in [0, 1]."""
        style = self.style_vectors(styles).to(content.dtype)
        x = content
        if self.conditioning == "concat":
            x = torch.cat([x, style[:, :, None, None].expand(-1, -1, *x.shape[-2:])], dim=1)
        x = self.decoder_in(x, style)
        for stage in self.decoder_stages:
            x = nn.functional.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = stage(x, style)
        return torch.sigmoid(self.to_rgb(x))

    def forward(self, x: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x), styles)

