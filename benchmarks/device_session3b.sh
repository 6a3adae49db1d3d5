#!/bin/bash
# Session 3, second call: is the C-heap growth of the first CUDA training step retained or
# only left free (malloc_trim), and does a fixed mmap threshold avoid it (issue 7)?
set -u
source benchmarks/device_setup.sh
echo "== stages, trim"; python3 benchmarks/rss_stages.py --trim --out $OUT/rss_stages_trim.json 2>&1 | grep -v Warning | cut -c1-260
echo "== stages, MALLOC_MMAP_THRESHOLD_=131072"
MALLOC_MMAP_THRESHOLD_=131072 python3 benchmarks/rss_stages.py --out $OUT/rss_stages_mmap.json 2>&1 | grep -v Warning | cut -c1-200
echo "== stages, MALLOC_MMAP_THRESHOLD_=131072 + trim"
MALLOC_MMAP_THRESHOLD_=131072 python3 benchmarks/rss_stages.py --trim 2>&1 | grep -v Warning | cut -c1-120
echo "== streaming 300k, MALLOC_MMAP_THRESHOLD_=131072"
MALLOC_MMAP_THRESHOLD_=131072 python3 benchmarks/streaming.py --rows 300000 --device cuda --mode streamed --trace --data /tmp/s300.h5 \
   --out $OUT/trace_cuda_mmap.json > $OUT/trace_cuda_mmap.log 2>&1; grep -o '"peak_rss_mb": [0-9.]*' $OUT/trace_cuda_mmap.log | head -1
