"""A trained tokenizer as one object, for scripts and notebooks.

    import spinlock_spec as ss
    tok = ss.Tokenizer.load("zoo:static_baseline")      # or a run folder
    tokens = tok.encode({"summary": x, ...})             # [rows, categories, levels] int64
    recon = tok.decode(tokens)                            # family -> array in the data's own units
    tok.categories, tok.levels

``encode`` takes a dataset file (HDF5 spinlock layout or NPZ), a dict of arrays keyed as in
the file (``NAME``, ``NAME/lengths``, ``NAME/fields``), or one array when the tokenizer has a
single family.  The run's own cleaning and normalization are applied first, exactly as
``spinlock-spec encode`` does.  torch is imported when a tokenizer is loaded, not before.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spinlock_spec.errors import DataError

ArrayInput = Any   # numpy array, dict of arrays, file path, or a data.Dataset


class Tokenizer:
    """A trained categorical hierarchical VQ-VAE tokenizer: weights, categories and the
    normalization of the data it was trained on.  Build one with :meth:`Tokenizer.load`."""

    def __init__(self, run) -> None:
        """Wrap a loaded run (:func:`spinlock_spec.load_run`); prefer :meth:`load`."""
        self.run = run
        self.model = run.model
        self.model.eval()
        self.preprocessor = run.preprocessor
        self.path = Path(run.path)

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, source: str | Path, which: str = "best") -> Tokenizer:
        """Load a run folder or ``zoo:NAME[@VERSION]`` (pulled and verified when not cached).

        ``which``: ``best`` (lowest validation loss) or ``final`` weights."""
        from spinlock_spec.api import load_run

        return cls(load_run(source, which=which))

    # ------------------------------------------------------------------ description
    @property
    def families(self) -> dict[str, dict]:
        """Family name -> ``{"encoder", "input_kind", "shape", "fields_shape"}`` (per-sample shapes)."""
        return {f.name: {"encoder": f.encoder, "input_kind": f.input_kind,
                         "shape": list(f.shape) if f.shape is not None else None,
                         "fields_shape": list(f.fields_shape) if f.fields_shape is not None else None}
                for f in self.model.families}

    @property
    def categories(self) -> list[dict]:
        """One dict per category (the second axis of the tokens): ``{"index", "name", "features"}``,
        ``features`` the names (``family:column``) of the features it encodes."""
        from spinlock_spec.train.metrics import category_names, feature_categories

        k = int(self.model.codebook_sizes.shape[0])
        names = category_names(self.model, k)
        labels = feature_categories(self.model).tolist()
        cats = [{"index": i, "name": names[i], "features": []} for i in range(k)]
        for feature, label in zip(self.model.feature_names, labels):
            if label >= 0:
                cats[label]["features"].append(feature)
        return cats

    @property
    def levels(self) -> list[dict]:
        """One dict per level (the third axis of the tokens), coarse first:
        ``{"index", "codebook_sizes": [one per category], "latent_dims": [one per category]}``."""
        sizes = self.model.codebook_sizes.cpu().numpy()
        dims = [[int(d) for _, d in lv] for lv in self.model.level_spec]     # [K][L]
        return [{"index": level, "codebook_sizes": [int(s) for s in sizes[:, level]],
                 "latent_dims": [dims[k][level] for k in range(len(dims))]}
                for level in range(sizes.shape[1])]

    def __repr__(self) -> str:
        sizes = self.model.codebook_sizes
        return (f"Tokenizer({str(self.path)!r}: {', '.join(self.families)} -> "
                f"{sizes.shape[0]} categories x {sizes.shape[1]} levels)")

    # ------------------------------------------------------------------ data
    def dataset(self, data: ArrayInput):
        """The raw input as a :class:`spinlock_spec.data.dataset.Dataset` (not normalized)."""
        import numpy as np

        from spinlock_spec.data.dataset import Dataset

        if isinstance(data, Dataset):
            return data
        if isinstance(data, (str, Path)):
            from spinlock_spec.api import load_data

            return load_data(self.run.compiled, data)
        names = list(self.families)
        if isinstance(data, Mapping):
            arrays = {str(k): np.asarray(v) for k, v in data.items()}
        elif len(names) == 1:
            arrays = {names[0]: np.asarray(data)}
        else:
            shapes = ", ".join(f"{n} {tuple(s['shape'] or s['fields_shape'] or ())}"
                               for n, s in self.families.items())
            raise DataError(f"this tokenizer reads {len(names)} families ({shapes} per row): pass a dict "
                            "of arrays keyed by family name, or a dataset file", code="D040")
        rows = {k: a.shape[0] if a.ndim else 0 for k, a in arrays.items()}
        if not arrays or len(set(rows.values())) != 1:
            raise DataError(f"the arrays must have the same number of rows (got {rows})", code="D041")
        return Dataset(arrays=arrays, n_samples=next(iter(rows.values())), source="<arrays>")

    def normalize(self, data: ArrayInput) -> dict:
        """The model's input for ``data``: the run's cleaning and normalization applied
        (numpy arrays keyed like the input)."""
        return dict(self.preprocessor.transform(self.dataset(data)).arrays)

    # ------------------------------------------------------------------ encode / decode
    def encode(self, data: ArrayInput, *, batch_size: int = 4096):
        """Token ids ``[rows, categories, levels]`` (int64) of every row of ``data``: a file path,
        a dict of arrays keyed as in the file, or one array for a single-family tokenizer."""
        import numpy as np
        import torch

        arrays = {k: torch.as_tensor(np.asarray(v)) for k, v in self.normalize(data).items()}
        n = next(iter(arrays.values())).shape[0]
        device = next(self.model.parameters()).device
        out = []
        with torch.no_grad():
            for start in range(0, n, batch_size):
                batch = {k: v[start:start + batch_size].to(device) for k, v in arrays.items()}
                out.append(self.model.encode(batch).cpu())
        if not out:
            return np.zeros((0, *self.model.codebook_sizes.shape), np.int64)
        return torch.cat(out).numpy().astype(np.int64)

    def decode(self, tokens, *, levels: int | None = None, normalized: bool = False) -> dict:
        """What the tokens reconstruct, family by family, in the data's own units and per-row shape.

        - tabular families: every column of the file; columns that feature cleaning dropped
          come back as NaN;
        - temporal families: the reconstructed per-segment means (8 segments), repeated over
          each segment's time steps (full-length rows);
        - raw fields (key ``NAME/fields``): the reconstructed 4x4-pooled field, repeated over
          each pooled block.
        ``levels``: decode the first levels only (coarser).  ``normalized``: return the model's
        reconstruction targets on the normalized scale instead."""
        import numpy as np
        import torch

        codes = torch.as_tensor(np.asarray(tokens), dtype=torch.long)
        if codes.ndim != 3 or tuple(codes.shape[1:]) != tuple(self.model.codebook_sizes.shape):
            raise DataError(f"tokens have shape {tuple(codes.shape)}; this tokenizer makes "
                            f"[rows, {', '.join(map(str, self.model.codebook_sizes.shape))}]", code="D042")
        sizes = self.model.codebook_sizes.cpu()[None, :, :codes.shape[2]]
        if (codes < 0).any() or (codes >= sizes).any():
            raise DataError("tokens outside the codebooks (each must be in [0, codebook size))", code="D043")
        device = next(self.model.parameters()).device
        with torch.no_grad():
            targets = {k: v.cpu().numpy().astype(np.float64)
                       for k, v in self.model.decode_codes(codes.to(device), levels).items()}
        if normalized:
            return targets
        return {key: value for fam in self.model.families
                for key, value in [self._to_user_units(fam, targets[fam.name])]}

    def _to_user_units(self, fam, target):
        """(key, array) of one family's reconstruction in the data's units (docstring of decode)."""
        import numpy as np

        from spinlock_spec.data.preprocess import SequenceStats, TabularStats

        stats = self.preprocessor.families.get(fam.name)
        if isinstance(stats, TabularStats) and target.shape[1] == stats.kept.size:
            return fam.name, _inverse_tabular(stats, target)
        if isinstance(stats, SequenceStats) and fam.shape is not None:
            steps, channels = int(fam.shape[0]), int(fam.shape[1])
            segments = target.shape[1] // channels
            seg = target.reshape(-1, channels, segments)                  # channel-major
            index = (np.arange(steps) * segments) // steps
            return fam.name, seg[:, :, index].transpose(0, 2, 1) * stats.scale + stats.center
        field_stats = self.preprocessor.fields.get(fam.name)
        if field_stats is not None and stats is None and fam.fields_shape is not None:
            c, h, w = (int(s) for s in fam.fields_shape)
            pooled = target.reshape(-1, c, 4, 4)
            rows, cols = (np.arange(h) * 4) // h, (np.arange(w) * 4) // w
            full = pooled[:, :, rows][:, :, :, cols]
            return f"{fam.name}/fields", full * field_stats.scale[None, :, None, None] \
                + field_stats.center[None, :, None, None]
        return fam.name, target          # e.g. hybrid targets: normalized, as the model sees them


def _inverse_tabular(stats, target):
    """Normalized kept columns -> every input column in the data's units (the data layer's
    inverse, ``data/decode.py``: transforms, duplicate and constant columns)."""
    from spinlock_spec.data.decode import decode_tabular

    return decode_tabular(stats, target)
