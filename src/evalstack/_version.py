"""The package version, importable from any layer without importing the root package."""

__version__ = "0.1.0"
