"""compile layer (see docs/architecture.md)."""
