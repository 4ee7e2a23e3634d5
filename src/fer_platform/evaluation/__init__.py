"""Evaluation: metrics, per-class reports, confusion matrices and training curves."""
