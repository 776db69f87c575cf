"""Training a prepared recipe: the run, its stages through Ultralytics, their metrics, road augmentations."""
