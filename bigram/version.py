"""The package's version: one small module, so model files and the CLI can stamp it
without importing the package's public face."""

__version__ = "0.1.0"
