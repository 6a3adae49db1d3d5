#!/bin/bash
# Session 3, third call: the CUDA tests (tests/test_cuda_paths.py), and the host memory of a
# streamed run when the step is compiled (inductor in-process: TORCHINDUCTOR_COMPILE_THREADS=1).
set -u
source benchmarks/device_setup.sh
timeout 330 python3 -m pytest -q -p no:cacheprovider tests/test_cuda_paths.py 2>&1 | tail -15
for mode in reduce-overhead default; do
  echo "== streaming 300k, compile $mode"
  TORCHINDUCTOR_COMPILE_THREADS=1 timeout 150 python3 benchmarks/streaming.py --rows 300000 --device cuda --mode streamed \
     --compile --compile-mode $mode --data /tmp/s300.h5 --out $OUT/stream_compile_$mode.json 2>&1 | grep -E '^true|Error' | cut -c1-400
done
