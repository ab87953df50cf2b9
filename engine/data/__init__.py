"""Data sets for training, all usable with no network: generated digits (the default), UCI digits,
generated shapes, MNIST / Fashion-MNIST / CIFAR-10 (downloaded or from a local folder) and any folder
of images with one sub-folder per class.

    list_datasets() -> [DatasetInfo]
    load_dataset(key, size=None, seed=0, root=None, progress=None, input_shape=None, fix=None) -> Dataset
"""
from engine.data.base import Dataset, DatasetError, DatasetInfo, Split
from engine.data.registry import DEFAULT_DATASET, dataset_info, list_datasets, load_dataset

__all__ = ["Dataset", "DatasetError", "DatasetInfo", "Split", "DEFAULT_DATASET", "dataset_info",
           "list_datasets", "load_dataset"]
