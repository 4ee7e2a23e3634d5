"""Prefect flows: thin wiring over fer_platform, one module per pipeline stage (each also a DVC stage)."""
