#!/bin/bash
# One device-tool call: GPU workload B (static + learnable, compile + bf16), eager
# comparison, torch.profiler tables, and the workload-A CPU
# figures on a quiet 2-core proxy (taskset -c 0,1) in parallel.  Logs under $OUT.
set -u
source benchmarks/device_setup.sh
python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))'
B=benchmarks/train_speed.py
( BENCH_THREADS=2 taskset -c 0,1 timeout 400 python3 $B --workload A --mode both --epochs 40 \
    --out $OUT/cpu_A_both.json > $OUT/cpu_A.log 2>&1 ) &
CPU_PID=$!
G="taskset -c 2-15"
$G timeout 200 python3 $B --workload B --device cuda --bf16 --compile --mode both --epochs 10 \
    --out $OUT/gpu_B_compile_bf16.json 2>&1 | tee $OUT/gpu_B.log | grep -v Warning
$G timeout 60 python3 $B --workload B --device cuda --mode static --epochs 3 \
    --out $OUT/gpu_B_eager_fp32.json 2>&1 | tail -3
$G timeout 120 python3 $B --workload B --device cuda --bf16 --compile --mode both --profile \
    --out $OUT/gpu_B_profile.json > $OUT/gpu_B_profile.log 2>&1
grep -A24 -- "--- profile" $OUT/gpu_B_profile.log | cut -c1-200; grep "{'mode'" $OUT/gpu_B_profile.log
taskset -c 2-15 timeout 170 python3 benchmarks/streaming.py --device cuda --out $OUT/streaming.json 2>&1 | tail -25
wait $CPU_PID
cat $OUT/cpu_A.log | grep -v Warning | tail -5
