"""BentoML serving: packaging the champion into the model store, the service, request validation."""
