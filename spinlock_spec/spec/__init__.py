"""spec layer (see docs/architecture.md)."""
