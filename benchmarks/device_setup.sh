# Install prelude for a GPU machine without network access, sourced before an entry point:
#   pip wheel --no-deps -w .whl .          # here: the project and its pure-Python dependencies
#   source benchmarks/device_setup.sh && python3 benchmarks/gpu_workload_b.py   # there
# installs the wheels carried in .whl/ into /tmp/site, next to the machine's torch, then writes
# the bytecode of what `spinlock-spec train` imports once, as pip does on an install: the
# machine's image ships without .pyc files and forbids writing them at import time
# (PYTHONDONTWRITEBYTECODE=1), which otherwise costs every start ~7 s of compiling.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || return 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
_site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
_std=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
for _p in torch numpy scipy sklearn sympy networkx joblib threadpoolctl h5py click safetensors filelock \
          attr attrs mpmath narwhals typing_extensions.py triton; do
  [ -e "$_site/$_p" ] && set -- "$@" "$_site/$_p"
done
python3 -m compileall -q -j 0 "$_std" "$@" /tmp/site spinlock_spec >/dev/null 2>&1 || true
set --
unset _site _std _p
