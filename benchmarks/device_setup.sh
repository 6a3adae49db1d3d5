# Install prelude for a GPU machine without network access, sourced before an entry point:
#   pip wheel --no-deps -w .whl .          # here: the project and its pure-Python dependencies
#   source benchmarks/device_setup.sh && python3 benchmarks/gpu_workload_b.py   # there
# installs the wheels carried in .whl/ into /tmp/site, next to the machine's torch.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || return 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
