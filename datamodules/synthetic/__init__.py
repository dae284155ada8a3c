"""Synthetic multi-view capture from real motion capture: the embedded default dataset."""
