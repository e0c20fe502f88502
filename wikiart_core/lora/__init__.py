"""Bonus B: LoRA fine-tuning of a pre-trained text-to-image diffusion model.

The recipe is the diffusers text-to-image LoRA one, written out in this package with
its own loop (it does not fit the classification ``engine.fit``):

- ``pipeline``: :func:`~wikiart_core.lora.pipeline.load_text_to_image` (a local folder
  named in ``data_paths.yaml`` under ``pretrained``, or a hub id when online; never a
  silent download) and :func:`~wikiart_core.lora.pipeline.build_tiny_pipeline`, a tiny
  random Stable-Diffusion-shaped pipeline for tests and for machines without weights.
- ``captions``: the training images of the project's data layer with a caption per
  style ("a painting in the style of Analytical Cubism"), class-balanced draws, and
  latents encoded once with the frozen VAE.
- ``train``: LoRA on the UNet attention projections with peft, under ``accelerate``
  (one GPU, several GPUs, or CPU processes), resumable safetensors saves.
- ``generate``: the same prompts and seeds with and without the LoRA, and figures.
- ``judge``: the style hit rate of generated images under an independent StyleCNN.
- ``cli``: the ``lora`` and ``generate`` sub-commands of ``python -m wikiart_core``.

This ``__init__`` imports nothing heavy: ``python -m wikiart_core --help`` must not
pay for importing diffusers.
"""


class LoraError(ValueError):
    """A problem with the text-to-image weights, a LoRA file or the LoRA settings; the
    message names the file or key and the fix."""


LORA_FILE_NAME = "pytorch_lora_weights.safetensors"  # the name diffusers' load_lora_weights looks for
ADAPTER_NAME = "wikiart_style"
