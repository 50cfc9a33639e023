"""Loading samples: JSONL and CSV files, in-memory lists, eval files, few-shot selection."""

from evalstack.datasets.files import CsvDataset, JsonlDataset, load_dataset
from evalstack.datasets.memory import MemoryDataset

__all__ = ["CsvDataset", "JsonlDataset", "MemoryDataset", "load_dataset"]
