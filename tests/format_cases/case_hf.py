"""Hugging Face Parquet shards are written only (the datasets library reads them back:
tests/test_training_shards.py)."""
