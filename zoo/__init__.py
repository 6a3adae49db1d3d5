"""The bundled model zoo (index.json and NAME/VERSION/ entry folders), shipped
in the wheel as ``spinlock_spec._zoo``.  Maintained with ``python -m spinlock_spec.zoo.build``."""
