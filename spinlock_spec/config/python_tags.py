"""The few Python tags of saved run configs, read as plain data.

The original tool saved each run's config with ``yaml.dump`` of live Python
objects, so those files hold ``!!python/...`` tags.  Users need to compile,
diff and retrain from them, so a short allow-list is decoded here, by reading
the tag's payload nodes ourselves:

========================================================  ==========================================
``!!python/object/apply:pathlib.PosixPath`` (also          the path's parts -> the path string
``pathlib._local.PosixPath``, Python 3.13+)
``!!python/object/apply:numpy.core.multiarray.scalar``     a dtype node and the value's bytes ->
(also ``numpy._core.multiarray.scalar``, numpy 2)          the number (``numpy.frombuffer``)
``!!python/tuple``                                         -> a list
========================================================  ==========================================

Nothing named by a tag is imported or called: the tag text is only compared
with this list.  The numpy dtype inside a scalar (``!!python/object/apply:numpy.dtype``
with ``args`` and a ``state`` tuple) is read as data too: its type code must be
a plain bool / integer / float code (``b1``, ``i1``-``i8``, ``u1``-``u8``,
``f2``-``f8``) and its byte order one of ``< > | =``; numpy is imported lazily
here and only asked to read the bytes.  Every decoded tag is reported as an
info diagnostic (I102) at its position; a payload of any other shape, and any
other tag, is an error (E102).
"""
from __future__ import annotations

import base64
import binascii
import posixpath
import re

CORE = "tag:yaml.org,2002:"
PY = CORE + "python/"
PATH_TAGS = {PY + "object/apply:pathlib.PosixPath", PY + "object/apply:pathlib._local.PosixPath"}
NUMPY_SCALAR_TAGS = {PY + "object/apply:numpy.core.multiarray.scalar",
                     PY + "object/apply:numpy._core.multiarray.scalar"}
NUMPY_DTYPE_TAG = PY + "object/apply:numpy.dtype"
TUPLE_TAG = PY + "tuple"
ALLOWED = PATH_TAGS | NUMPY_SCALAR_TAGS | {TUPLE_TAG}
_DTYPE_CODE = re.compile(r"^(?:b1|[iu][1248]|f[248])$")
_BYTE_ORDERS = ("<", ">", "|", "=")


class PayloadError(Exception):
    """The payload of an allowed tag does not have the shape ``yaml.dump`` writes."""

    def __init__(self, node, message: str):
        super().__init__(message)
        self.node = node


def shown(tag: str) -> str:
    return tag.replace(CORE, "!!")


def _kind(node) -> str:
    return type(node).__name__


def _scalar_text(node, what: str) -> str:
    if _kind(node) != "ScalarNode" or not str(node.tag).startswith(CORE) or str(node.tag) == CORE + "binary":
        raise PayloadError(node, f"{what} must be a plain scalar")
    return str(node.value)


def _args(node, tag: str):
    """The argument nodes of an ``object/apply`` tag: a sequence, or a mapping with ``args``
    (written when the object also has a state)."""
    if _kind(node) == "SequenceNode":
        return list(node.value), None
    if _kind(node) == "MappingNode":
        fields = {}
        for key, value in node.value:
            name = key.value if _kind(key) == "ScalarNode" else None
            if name not in ("args", "state") or name in fields:
                raise PayloadError(key, f"{shown(tag)} may hold only 'args' and 'state'")
            fields[name] = value
        args = fields.get("args")
        if args is None or _kind(args) != "SequenceNode":
            raise PayloadError(node, f"{shown(tag)} needs an 'args' list")
        return list(args.value), fields.get("state")
    raise PayloadError(node, f"{shown(tag)} needs a list of arguments")


def decode_path(node, tag: str) -> str:
    parts, state = _args(node, tag)
    if state is not None:
        raise PayloadError(state, f"{shown(tag)} has no state")
    texts = [_scalar_text(p, "a path part") for p in parts]
    if not texts:
        return "."
    return posixpath.join(*texts)


def _dtype(node) -> str:
    """'<f8'-style dtype string from a ``numpy.dtype`` node (read as data)."""
    tag = str(node.tag)
    if tag != NUMPY_DTYPE_TAG:
        raise PayloadError(node, f"the first argument of a numpy scalar must be {shown(NUMPY_DTYPE_TAG)}, "
                                 f"not {shown(tag)}")
    args, state = _args(node, tag)
    if not args:
        raise PayloadError(node, "a numpy dtype needs its type code")
    code = _scalar_text(args[0], "a numpy dtype code")
    if not _DTYPE_CODE.match(code):
        raise PayloadError(args[0], f"numpy dtype {code!r} is not a bool, integer or float type")
    order = "="
    if state is not None:
        if _kind(state) != "SequenceNode" or str(state.tag) not in (TUPLE_TAG, CORE + "seq") or len(state.value) < 2:
            raise PayloadError(state, "a numpy dtype state must be a tuple (version, byte order, ...)")
        order = _scalar_text(state.value[1], "a byte order")
        if order not in _BYTE_ORDERS:
            raise PayloadError(state.value[1], f"byte order {order!r} is not one of < > | =")
    return ("=" if order == "|" else order) + code


def decode_numpy_scalar(node, tag: str):
    args, state = _args(node, tag)
    if state is not None or len(args) != 2:
        raise PayloadError(node, f"{shown(tag)} needs exactly [dtype, bytes]")
    dtype = _dtype(args[0])
    raw_node = args[1]
    if _kind(raw_node) != "ScalarNode" or str(raw_node.tag) != CORE + "binary":
        raise PayloadError(raw_node, "the value of a numpy scalar must be !!binary bytes")
    try:
        raw = base64.b64decode("".join(str(raw_node.value).split()), validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError(raw_node, "the bytes of a numpy scalar are not valid base64") from None
    import numpy as np   # lazily: config/ stays light at import time

    dt = np.dtype(dtype)
    if len(raw) != dt.itemsize:
        raise PayloadError(raw_node, f"a {dtype[1:]} value has {dt.itemsize} byte(s), not {len(raw)}")
    value = np.frombuffer(raw, dtype=dt)[0]
    if dt.kind == "b":
        return bool(value)
    if dt.kind in "iu":
        return int(value)
    return float(value)
