"""sensord: a sensor-ingestion daemon (serial ports -> filter/normalize/window -> Prometheus)."""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # ``__version__`` is looked up when first asked for, not when the package is imported:
    # the ``sensord`` command imports the package before its entry point holds the run's
    # signals (``sensord.launch``), and importlib.metadata takes a few tens of milliseconds
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        found = version("sensord")
    except PackageNotFoundError:  # running from a source tree that was not installed
        found = "0.0.0+unknown"
    globals()["__version__"] = found
    return found
