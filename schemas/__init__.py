"""JSON Schema files shipped with spinlock-spec (installed as spinlock_spec._schemas)."""
