"""WebDataset shards are written only (the webdataset library reads them back: tests/test_training_shards.py)."""
