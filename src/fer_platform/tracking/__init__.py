"""Everything that talks to MLflow: the store, runs, model logging, the model registry and promotion.

No other package imports mlflow (import-linter checks it), so moving to a tracking server or another
registry touches only this package. Modules here import mlflow at the top: import them only where a run is
logged (training hosts without MLflow never do).
"""
