"""LightningDataModules, dataset readers, records, clip windowing and the synthetic capture."""
