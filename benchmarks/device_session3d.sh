#!/bin/bash
# Session 3: the CUDA tests (tests/test_cuda_paths.py) with their full report in $OUT.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
timeout 500 python3 -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning -W ignore::UserWarning \
   tests/test_cuda_paths.py > $OUT/cuda_tests.log 2>&1; echo "rc $?"
grep -E '^E |passed|failed|Error' $OUT/cuda_tests.log | head -40
