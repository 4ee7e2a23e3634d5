"""Closing the loop (#27): a window of the service's prediction log against the served model's reference."""
