"""Real-time facial expression recognition platform."""
