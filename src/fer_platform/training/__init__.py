"""Training: data selection for a recipe, the resumable fit loop, MLflow logging."""
