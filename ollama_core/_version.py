"""The package version, written here only: pyproject.toml reads it (``dynamic``), and the
package, the CLI and the User-Agent import it."""

__version__ = "0.1.0"
