"""The networks, readable top to bottom.

Conventions every model here follows (the training loop, checkpoints and widgets
rely on them):

- The constructor takes plain keyword arguments and stores them in ``self.init_args``,
  so a checkpoint can rebuild the model with ``build(type(model).__name__, **init_args)``.
- Every class is listed in ``MODELS`` (name -> class); add new ones there.
- Classifiers take float images in [0, 1], shape (B, 3, S, S), and standardise them
  themselves with the buffers ``input_mean`` / ``input_std`` (set from the training
  data by ``set_input_stats``). The statistics are buffers, so they travel inside the
  checkpoint: a model never meets differently normalised inputs at test time.
- Classifiers return (B, n_classes) scores. ``SeedCNN`` returns log-probabilities
  (as the course model did); cross-entropy on log-probabilities equals the NLL loss,
  so one loss serves both.

No pretrained weights are loaded anywhere in this file (the assignment forbids them
for the classification parts).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

DEFAULT_INPUT_MEAN = 0.5
DEFAULT_INPUT_STD = 0.25


# --------------------------------------------------------------------------- shared pieces


class _StandardisedInput(nn.Module):
    """Mixin: per-channel input standardisation held in buffers (saved with the weights)."""

    def _register_input_stats(self) -> None:
        self.register_buffer("input_mean", torch.full((1, 3, 1, 1), DEFAULT_INPUT_MEAN))
        self.register_buffer("input_std", torch.full((1, 3, 1, 1), DEFAULT_INPUT_STD))

    @torch.no_grad()
    def set_input_stats(self, mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor) -> None:
        """Set the per-channel mean and standard deviation (3 values each, in [0, 1]
        image units), typically ``data.channel_stats(train_set)``."""
        mean = torch.as_tensor(mean, dtype=self.input_mean.dtype).reshape(1, 3, 1, 1)
        std = torch.as_tensor(std, dtype=self.input_std.dtype).reshape(1, 3, 1, 1)
        if (std <= 0).any():
            raise ValueError(f"input std must be positive, got {std.flatten().tolist()}")
        self.input_mean.copy_(mean)
        self.input_std.copy_(std)

    def standardise(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.input_mean) / self.input_std


# --------------------------------------------------------------------------- the in-class model


def seed_cnn_feature_side(image_size: int, variant: str = "original") -> int:
    """Side of the square feature map that ``SeedCNN`` flattens, in pixels.

    Conv2d(kernel 4, padding 2) gives S + 1; MaxPool2d(4, stride 4, padding 2) then gives
    floor((S + 1) / 4) + 1, so 416 px -> 105 (the course model's 105 x 105 features).
    The ``avgpool_sigmoid`` variant pools adaptively to 50 x 50 whatever the size."""
    if variant == "avgpool_sigmoid":
        return 50
    return (image_size + 1) // 4 + 1


class SeedCNN(_StandardisedInput):
    """The classifier written in class, kept as it was so that its results can be
    compared honestly (a single 4x4 convolution to ONE channel, then a two-layer MLP).

    variant="original":        Conv2d(3->1, 4x4, pad 2) -> MaxPool2d(4, pad 2) -> flatten
                               -> BatchNorm1d -> Linear(->300) -> Dropout(0.01) -> ReLU
                               -> Linear(300->n_classes) -> LogSoftmax
    variant="avgpool_sigmoid": the original report's Bonus A change: AdaptiveAvgPool2d(50)
                               instead of the max-pool and Sigmoid instead of ReLU.

    Input (B, 3, image_size, image_size) floats in [0, 1]; output (B, n_classes)
    log-probabilities.
    """

    VARIANTS = ("original", "avgpool_sigmoid")

    def __init__(self, n_classes: int = 27, image_size: int = 416, variant: str = "original"):
        super().__init__()
        if variant not in self.VARIANTS:
            raise ValueError(f"variant must be one of {self.VARIANTS}, got {variant!r}")
        self.init_args = dict(n_classes=n_classes, image_size=image_size, variant=variant)
        self._register_input_stats()
        side = seed_cnn_feature_side(image_size, variant)
        self.n_features = side * side
        self.conv = nn.Conv2d(3, 1, kernel_size=4, padding=2)
        self.pool = nn.MaxPool2d(4, padding=2) if variant == "original" else nn.AdaptiveAvgPool2d(50)
        self.norm = nn.BatchNorm1d(self.n_features)
        self.hidden = nn.Linear(self.n_features, 300)
        self.dropout = nn.Dropout(0.01)
        self.activation = nn.ReLU() if variant == "original" else nn.Sigmoid()
        self.head = nn.Linear(300, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.conv(self.standardise(x)))
        x = self.norm(x.flatten(1))
        x = self.activation(self.dropout(self.hidden(x)))
        return torch.log_softmax(self.head(x), dim=1)


# --------------------------------------------------------------------------- a CNN that learns


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (He et al. 2016). The
    shortcut lets gradients skip the block, which is what makes a deeper net train
    from scratch; when the block changes resolution or width, a strided 1x1 conv
    (plus batch norm) reshapes the shortcut to match."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        # Zero-initialised last BN: each block starts as the identity, which steadies the
        # first epochs of a from-scratch run (Goyal et al. 2017).
        nn.init.zeros_(self.bn2.weight)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


def auto_stem_stride(image_size: int, min_feature_side: int = 32, max_stride: int = 4) -> int:
    """The StyleCNN stem stride for ``image_size`` px inputs: the largest of 1, 2, 4 (up to
    ``max_stride``) that leaves feature maps of at least ``min_feature_side`` px after the
    stem (1 at 32 px, 2 at 64 px, 4 from 128 px). A fixed stride of 4 suits 224 px
    paintings but leaves 8 x 8 maps of a 32 px image, where digits or small textures are
    lost before the first block (benchmarks/ablate_classifier.py)."""
    stride = 1
    while stride * 2 <= max_stride and image_size // (stride * 2) >= min_feature_side:
        stride *= 2
    return stride


class StyleCNN(_StandardisedInput):
    """A small from-scratch residual CNN for art styles, sized for ~13k images.

    stem:   3x3 conv with stride ``stem_stride`` (2 halves the resolution at once: style
            lives in texture and colour statistics, not in pixel-exact detail, and it
            quarters the cost; 4, a 4x4 "patchify" conv, is for small CPUs)
    stages: ``depth`` stages of ``blocks_per_stage`` BasicBlocks; stage i has
            ``width * 2**i`` channels and every stage after the first halves the
            resolution (strided first block)
    head:   global average pooling -> dropout -> linear

    Global average pooling makes the network independent of the image size (the
    same weights run at 64 px or 416 px) and gives ``embed``: the pooled (B, D)
    features with D = width * 2**(depth - 1), used later as a style descriptor.

    Input (B, 3, S, S) floats in [0, 1]; output (B, n_classes) logits.
    """

    def __init__(self, n_classes: int = 27, width: int = 32, depth: int = 4, dropout: float = 0.2,
                 blocks_per_stage: int = 1, stem_stride: int = 2):
        super().__init__()
        if depth < 1 or width < 1 or blocks_per_stage < 1 or stem_stride < 1:
            raise ValueError("width, depth, blocks_per_stage and stem_stride must be positive")
        self.init_args = dict(n_classes=n_classes, width=width, depth=depth, dropout=dropout,
                              blocks_per_stage=blocks_per_stage, stem_stride=stem_stride)
        self._register_input_stats()
        # Kernel max(3, stride) so that no input pixel is skipped when the stride grows.
        stem_kernel = max(3, stem_stride)
        self.stem = nn.Sequential(nn.Conv2d(3, width, stem_kernel, stride=stem_stride,
                                            padding=(stem_kernel - 1) // 2, bias=False),
                                  nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        blocks, channels = [], width
        for stage in range(depth):
            out_channels = width * 2 ** stage
            for block in range(blocks_per_stage):
                stride = 2 if (stage > 0 and block == 0) else 1
                blocks.append(BasicBlock(channels, out_channels, stride))
                channels = out_channels
        self.stages = nn.Sequential(*blocks)
        self.embedding_dim = channels
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(channels, n_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled penultimate features, (B, 3, S, S) in [0, 1] -> (B, embedding_dim)."""
        x = self.stages(self.stem(self.standardise(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.embed(x)))


# --------------------------------------------------------------------------- autoencoder (part 2)


def _conv_norm_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


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
            encoder += [_conv_norm_relu(channels, width, stride=2), _conv_norm_relu(width, width)]
            channels = width
        encoder.append(nn.Conv2d(channels, latent_channels, 1))
        self.encoder = nn.Sequential(*encoder)

        decoder: list[nn.Module] = [_conv_norm_relu(latent_channels, widths[-1])]
        for stage in reversed(range(depth)):
            out = widths[stage - 1] if stage > 0 else widths[0]
            decoder += [_conv_norm_relu(widths[stage], widths[stage]),
                        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                        _conv_norm_relu(widths[stage], out)]
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


# --------------------------------------------------------------------------- style-conditioned generator (part 3)


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
            encoder += [_conv_norm_relu(channels, width, stride=2), _conv_norm_relu(width, width)]
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


# --------------------------------------------------------------------------- registry

# Name -> class. Checkpoints store the class name and rebuild through build(); add new
# model classes here (the lowercase alias is accepted automatically).
MODELS: dict[str, type[nn.Module]] = {
    "SeedCNN": SeedCNN,
    "StyleCNN": StyleCNN,
    "ConvAutoencoder": ConvAutoencoder,
    "StyleConditionedAutoencoder": StyleConditionedAutoencoder,
}

# The ImageNet-pretrained torchvision classifiers ("resnet50", "convnext_tiny", ...) live,
# and load their weights from local files, in ``backbones`` (which imports nothing from
# here); they are for the "Beyond from scratch" comparison, not the from-scratch parts.
from .backbones import BACKBONES  # noqa: E402

MODELS.update(BACKBONES)


def model_class(name: str) -> type[nn.Module]:
    """The class registered as ``name`` in ``MODELS`` (case-insensitive: "stylecnn" works)."""
    by_lowercase = {key.lower(): cls for key, cls in MODELS.items()}
    cls = MODELS.get(name) or by_lowercase.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown model {name!r}; known: {sorted(MODELS)}")
    return cls


def build(name: str, **init_args) -> nn.Module:
    """A new model of class ``name`` (see :func:`model_class`) built with ``init_args``;
    ``build(type(m).__name__, **m.init_args)`` rebuilds ``m``'s architecture."""
    return model_class(name)(**init_args)
