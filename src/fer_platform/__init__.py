"""Real-time facial expression recognition platform."""


def version() -> str:
    """The installed package's version (`--version` of every command)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed  # here: nothing runs at `import fer_platform`

    try:
        return installed("fer-platform")
    except PackageNotFoundError:
        return "unknown (not installed)"
