#!/usr/bin/env bash
# The GPU checks of the speed issue, as one command on a machine with a CUDA GPU
# (prepared on a CPU-only machine; run it where a GPU is available):
#
#     bash benchmarks/gpu_check.sh            # at most 7.5 minutes after set-up (timeouts)
#
# 1. training throughput at 224 px on 2,000 synthetic 416 px images (shared with step 2;
#    a 13.4k-image WikiArt epoch takes 13,350 / the images/s it prints): fp32 vs
#    bf16 + channels_last vs torch.compile, two batch sizes, eval batch 1 vs 256;
# 2. the data pipeline against the original course loop, on the GPU;
# 3. the whole `full`-profile notebook 01 on the embedded data, timed (a copy is executed,
#    the committed notebook is left alone).
# Everything it prints is also written under $OUT (default benchmarks/_work/gpu_check),
# and the benchmarks append their tables to benchmarks/RESULTS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/_work/gpu_check}
mkdir -p "$OUT"
make setup >/dev/null
PY=.venv/bin/python
export TQDM_DISABLE=1 HF_HUB_OFFLINE=1
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU here'; print(torch.cuda.get_device_name())" \
    | tee "$OUT/device.txt" || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$OUT/device.txt"

step() {  # name, then the command; a failing step is reported and the next one runs
    local name=$1; shift
    echo "== $name"
    local started=$SECONDS
    if "$@" > "$OUT/$name.txt" 2>&1; then status=ok; else status="FAILED (exit $?)"; fi
    echo "== $name: $status in $((SECONDS - started)) s" | tee -a "$OUT/summary.txt"
    tail -n 25 "$OUT/$name.txt"
}

# The three steps' timeouts sum to 7.5 minutes (after `make setup`).
step bench_train timeout 180 $PY benchmarks/bench_train.py --device cuda --images 2000 --image-size 224 \
    --batch-sizes 128 256 --epochs 3 --compile
step bench_pipeline timeout 120 $PY benchmarks/bench_pipeline.py --device cuda --repeats 3
$PY -m jupytext --to ipynb notebooks/01_bonusA.py -o "$OUT/01_bonusA.ipynb" -q
step notebook01_full env WIKIART_PROFILE=full timeout 150 $PY -m jupyter nbconvert --to notebook --execute \
    "$OUT/01_bonusA.ipynb" --output 01_bonusA_full_out.ipynb --ExecutePreprocessor.timeout=600
cat "$OUT/summary.txt"
