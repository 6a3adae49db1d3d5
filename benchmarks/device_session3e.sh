#!/bin/bash
# Session 3, final figures for issue 7 item 1: workload B on one H100 with the default GPU
# setting (compile, compile_mode auto = reduce-overhead, bf16), static and learnable
# alternating twice in one process each.
set -u
source benchmarks/device_setup.sh
timeout 540 python3 benchmarks/train_speed.py --workload B --device cuda --bf16 --compile --mode both --epochs 10 \
   --repeat 2 --out $OUT/gpu_B_compile_auto_s3.json > $OUT/gpu_B_compile_auto_s3.log 2>&1; echo "rc $?"
grep -E 'samples/s|ratio|Error|skipping cudagraph' $OUT/gpu_B_compile_auto_s3.log | sort | uniq -c | head -20
