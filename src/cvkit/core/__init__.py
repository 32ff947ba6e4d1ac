"""cvkit's data model: geometry, categories and hierarchy, annotations, samples, datasets."""
