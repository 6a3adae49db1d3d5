"""``spinlock-spec export RUN --out model.onnx``: the encoder and quantizer of a trained run,
with the run's cleaning and normalization in front, as one ONNX graph.

Inputs (float64, rows first, named as the arrays of a dataset file): ``NAME`` for every
tabular or temporal family, ``NAME/fields`` for raw fields.  Output ``tokens``: int64
``[rows, categories, levels]``, the same ids as ``spinlock-spec encode``.  Temporal rows
are taken at full length (no ``lengths`` input).  Needs the ``onnx`` extra
(``pip install -e ".[onnx]"``) to write, and onnxruntime (or any ONNX runtime) to run.
"""
from __future__ import annotations

from pathlib import Path

from spinlock_spec.errors import UserError

OPSET = 17


def _module(tokenizer):
    """A torch module: raw inputs in the data's units -> token ids."""
    import numpy as np
    import torch

    from spinlock_spec.data.preprocess import SequenceStats, TabularStats

    pre, model = tokenizer.preprocessor, tokenizer.model

    def t(a, dtype=torch.float64):
        return torch.as_tensor(np.asarray(a), dtype=dtype)

    class RawToTokens(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model
            self.names: list[str] = []
            self.kinds: list[str] = []
            self.stats = torch.nn.ParameterDict()   # buffers as frozen parameters, keyed by position
            for fam in model.families:
                stats = pre.families.get(fam.name)
                if isinstance(stats, TabularStats):
                    self._add(fam.name, "tabular", kept=t(stats.kept, torch.long), impute=t(stats.impute),
                              low=t(stats.clip_low), high=t(stats.clip_high), center=t(stats.center),
                              scale=t(stats.scale))
                elif isinstance(stats, SequenceStats):
                    self._add(fam.name, "temporal", center=t(stats.center), scale=t(stats.scale))
                fields = pre.fields.get(fam.name)
                if fields is not None:
                    self._add(f"{fam.name}/fields", "fields", center=t(fields.center)[None, :, None, None],
                              scale=t(fields.scale)[None, :, None, None])

        def _add(self, name, kind, **tensors):
            i = len(self.names)
            self.names.append(name)
            self.kinds.append(kind)
            for key, value in tensors.items():
                self.stats[f"{i}_{key}"] = torch.nn.Parameter(value, requires_grad=False)

        def forward(self, *inputs):
            batch = {}
            for i, (name, kind, x) in enumerate(zip(self.names, self.kinds, inputs)):
                s = {k.split("_", 1)[1]: v for k, v in self.stats.items() if k.startswith(f"{i}_")}
                if kind == "tabular":
                    x = torch.index_select(x, 1, s["kept"])
                    x = torch.where(torch.isfinite(x), x, s["impute"])
                    x = torch.minimum(torch.maximum(x, s["low"]), s["high"])
                else:
                    x = torch.where(torch.isfinite(x), x, s["center"].expand_as(x))
                batch[name] = ((x - s["center"]) / s["scale"]).float()
            return self.model.encode(batch)

    return RawToTokens().eval()


def input_shapes(tokenizer) -> dict[str, list]:
    """Input name -> per-row shape of the exported graph."""
    module = _module(tokenizer)
    shapes = {}
    pre = tokenizer.preprocessor
    for fam in tokenizer.model.families:
        stats = pre.families.get(fam.name)
        if stats is not None and hasattr(stats, "n_input_columns"):
            shapes[fam.name] = [int(stats.n_input_columns)]
        elif stats is not None:
            shapes[fam.name] = [int(s) for s in fam.shape]
        if fam.name in pre.fields:
            shapes[f"{fam.name}/fields"] = [int(s) for s in fam.fields_shape]
    assert list(shapes) == module.names
    return shapes


def export_onnx(tokenizer, out, *, rows: int = 2) -> dict:
    """Write the ONNX graph of ``tokenizer`` to ``out``; returns ``{"path", "inputs", "output"}``."""
    import warnings

    try:
        import onnx  # noqa: F401  (the exporter needs it)
    except ImportError:
        raise UserError("export needs the onnx package", code="E520",
                        hint='pip install -e ".[onnx]" (onnx, onnxruntime)') from None
    import torch

    module = _module(tokenizer)
    shapes = input_shapes(tokenizer)
    example = tuple(torch.zeros((rows, *shape), dtype=torch.float64) for shape in shapes.values())
    names = list(shapes)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, str(tmp), input_names=names, output_names=["tokens"],
                          dynamic_axes={**{n: {0: "rows"} for n in names}, "tokens": {0: "rows"}},
                          opset_version=OPSET, dynamo=False)
    tmp.replace(out)
    return {"path": str(out), "inputs": shapes, "output": ["rows", *tokenizer.model.codebook_sizes.shape]}
