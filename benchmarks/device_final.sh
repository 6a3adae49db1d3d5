#!/bin/bash
# Final figures of session 2 on the device machine, one call: the 2M-row streaming run on
# the GPU (issue 7), then workload A on the quiet 2-core CPU proxy, static and learnable
# alternating three times (issues 3 and 4).  GPU workload B: see RESULTS.md for its command.
set -u
source benchmarks/device_setup.sh
python3 -c 'import torch; print(torch.__version__, torch.cuda.get_device_name(0))'
taskset -c 2-15 timeout 280 python3 benchmarks/streaming.py --device cuda --out $OUT/streaming_cuda.json 2>&1 | grep -v Warning | tail -12
BENCH_THREADS=2 taskset -c 0,1 timeout 280 python3 benchmarks/train_speed.py --workload A --mode both --epochs 40 --repeat 3 \
   --out $OUT/cpu_A_both.json 2>&1 | grep -v Warning | grep -v "^static \|^learnable " | tail -4
