"""data layer (see docs/architecture.md): sources, preprocessing, category discovery.

Nothing is imported here, so ``import spinlock_spec.data.shapes`` stays numpy-free
for the compile layer.  Modules:

- ``shapes``     ``synthetic_shapes(cfg, families)``, ``SYNTHETIC_DEFAULTS`` (no numpy)
- ``synthetic``  ``generate_synthetic(cfg, families)``, ``WORKLOADS``, ``workload(name)``
- ``dataset``    ``Dataset`` (arrays / column_names / true_groups / n_samples / source)
- ``sources``    ``read_shapes``, ``load_dataset``, ``load_from_config``, ``shapes_from_config``
- ``hdf5``       spinlock-layout reader and ``write_hdf5``; ``npz``: reader and ``write_npz``
- ``preprocess`` ``Preprocessor`` (fit on train / transform / npz stats), ``fit_preprocessor``
- ``discovery``  ``discover_categories``, ``adjusted_rand``, ``adjusted_rand_index``
- ``mapping``    category mapping files, the one parser: ``read_mapping`` (form; used by the
                 compiler), ``resolve_mapping`` / ``load_mapping_file`` (indices and names, with data)
"""
