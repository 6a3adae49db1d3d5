#!/bin/bash
# Session 3, first call: where the GPU streaming run's resident memory goes (issue 7).
set -u
source benchmarks/device_setup.sh
python3 benchmarks/rss_stages.py --out $OUT/rss_stages.json 2>&1 | grep -v Warning
python3 benchmarks/streaming.py --rows 300000 --device cuda --mode streamed --trace --data /tmp/s300.h5 \
   --out $OUT/trace_cuda.json > $OUT/trace_cuda.log 2>&1; tail -c 600 $OUT/trace_cuda.log
MALLOC_ARENA_MAX=2 python3 benchmarks/streaming.py --rows 300000 --device cuda --mode streamed --data /tmp/s300.h5 \
   2>&1 | grep peak_rss | tail -2
# workload B with CUDA graphs over the compiled model (first run through the former
# SPINLOCK_SPEC_COMPILE_MODE variable; now training.compile_mode)
timeout 330 python3 benchmarks/train_speed.py --workload B --device cuda --bf16 --compile --compile-mode reduce-overhead \
   --mode both --epochs 10 --out $OUT/gpu_B_cudagraphs.json > $OUT/gpu_B_cudagraphs.log 2>&1
grep -i -E 'skipping cudagraph|samples/s|quality|error' $OUT/gpu_B_cudagraphs.log | sort | uniq -c | head -20; tail -c 1500 $OUT/gpu_B_cudagraphs.log
