"""Bundled models beyond the two of infra/training/train_models.py, one module per model library."""
