#!/bin/bash
# Session 3: the CUDA tests (tests/test_cuda_paths.py) with their full report in $OUT.
set -u
source benchmarks/device_setup.sh
timeout 500 python3 -m pytest -q -p no:cacheprovider -W ignore::DeprecationWarning -W ignore::UserWarning \
   tests/test_cuda_paths.py > $OUT/cuda_tests.log 2>&1; echo "rc $?"
grep -E '^E |passed|failed|Error' $OUT/cuda_tests.log | head -40
