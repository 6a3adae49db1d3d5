# Sourced by the benchmarks/device_*.sh scripts on the device machine: installs the wheels
# carried in .whl/ (the project and its pure-Python dependencies; built with
# `pip wheel --no-deps -w .whl .`) into /tmp/site, next to the machine's torch.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
