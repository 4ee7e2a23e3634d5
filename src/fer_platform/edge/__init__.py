"""fer-edge: the thin client. Imports only OpenCV, numpy, httpx and fer_platform.{labels,contract,faces}."""
