"""nn layer (see docs/architecture.md)."""
