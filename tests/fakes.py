"""Small in-memory stand-ins for WikiArtDataset, shared by the unit tests."""
import numpy as np
import torch


class InMemoryDataset:
    """The WikiArtDataset batch interface over tensors a subclass sets: ``images``
    ((N, 3, S, S) uint8), ``targets`` (list of N labels), ``classes``, ``image_size``."""

    images: torch.Tensor
    targets: list
    classes: list
    image_size: int

    def __len__(self):
        return len(self.targets)

    def get_batch(self, indices):
        indices = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        return self.images[indices].clone(), torch.as_tensor(self.targets)[indices]

    def class_counts(self):
        return {style: self.targets.count(i) for i, style in enumerate(self.classes)}
