"""build layer (see docs/architecture.md)."""
