"""``torch.utils.data`` for the NumPy engine."""

from ...utils.data.dataloader import (
    DataLoader,
    default_collate,
    default_convert,
)
from ...utils.data.dataset import (
    Dataset,
    Subset,
    TensorDataset,
    random_split,
)
from ...utils.data.sampler import (
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
