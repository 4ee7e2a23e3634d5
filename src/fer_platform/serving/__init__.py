"""BentoML serving: packaging the champion into the model store, the service, request validation."""

# The BentoML model-store name the package stage writes and the service loads (":latest").
BENTO_MODEL_NAME = "fer-classifier"
