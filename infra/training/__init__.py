"""Bundled models beyond the two of infra/train_models.py, one module per model library."""
