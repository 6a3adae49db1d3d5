#!/bin/bash
# Quiet 2-core CPU figures on the device machine (taskset -c 0,1, nothing else running):
# the nn step static vs learnable, then workload A static and learnable alternating three
# times (the ratio is the median over back-to-back pairs).  PROFILE=1 adds the nn step's
# torch.profiler tables.
set -u
source benchmarks/device_setup.sh
C="taskset -c 0,1"
V1='{"_fused_adam": true}'; V2='{"_learnable": true, "_fused_adam": true}'
$C timeout 60 python3 benchmarks/nn_step_time.py "$V1" "$V2"
if [ "${PROFILE:-0}" = 1 ]; then
  $C timeout 60 python3 benchmarks/nn_step_time.py --profile "$V1" "$V2" 2>&1 | grep -v "^-*$\|USDT" | cut -c1-130
fi
BENCH_THREADS=2 $C timeout 400 python3 benchmarks/train_speed.py --workload A --mode both --epochs 40 --repeat 3 \
   --out $OUT/cpu_A_both.json 2>&1 | grep -v Warning | grep -v "^static \|^learnable " | tail -4
