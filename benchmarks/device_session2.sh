#!/bin/bash
# Quiet 2-core CPU figures on the device machine (taskset -c 0,1, nothing else running):
# the nn step static vs learnable, its profile, and workload A static + learnable twice.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
C="taskset -c 0,1"
V1='{"_fused_adam": true}'; V2='{"_learnable": true, "_fused_adam": true}'
$C timeout 60 python3 benchmarks/nn_step_time.py "$V1" "$V2"
$C timeout 60 python3 benchmarks/nn_step_time.py --profile "$V1" "$V2" 2>&1 | grep -v "^-*$\|USDT" | cut -c1-130
for i in 1 2; do BENCH_THREADS=2 $C timeout 150 python3 benchmarks/train_speed.py --workload A --mode both --epochs 40 \
   --out $OUT/cpu_A_both_$i.json 2>&1 | grep -v Warning | tail -3; done
