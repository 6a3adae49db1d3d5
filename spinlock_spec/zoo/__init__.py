"""zoo layer (see docs/architecture.md)."""
