#!/bin/bash
# Session 3: what bounds the CUDA-graph step (workload B, compile auto + bf16), torch.profiler.
set -u
source benchmarks/device_setup.sh
timeout 560 python3 benchmarks/train_speed.py --workload B --device cuda --bf16 --compile --mode both --profile \
   --out $OUT/gpu_B_profile_s3.json > $OUT/gpu_B_profile_s3.log 2>&1; echo "rc $?"
grep -v -E 'Warning|warn' $OUT/gpu_B_profile_s3.log | grep -E -A24 '^--- profile' | cut -c1-200
grep -E '^steady' $OUT/gpu_B_profile_s3.log
