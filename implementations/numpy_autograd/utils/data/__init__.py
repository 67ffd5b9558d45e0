"""``torch.utils.data`` for the NumPy engine."""

from harness.implementations.numpy_autograd.utils.data.dataloader import (
    DataLoader,
    default_collate,
    default_convert,
)
from harness.implementations.numpy_autograd.utils.data.dataset import (
    Dataset,
    Subset,
    TensorDataset,
    random_split,
)
from harness.implementations.numpy_autograd.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
)

__all__ = [
    "BatchSampler",
    "DataLoader",
    "Dataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "default_collate",
    "default_convert",
    "random_split",
]
