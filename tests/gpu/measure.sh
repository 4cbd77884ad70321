#!/usr/bin/env bash
# The one-call measurement of issue #11 on a lent GPU machine (no model files travel: the bench
# runs synthetic models of the real shapes and tensor types). Prepare here, once:
#
#   cargo build --release -p anytune
#   mkdir -p .gpu && cp target/release/anytune .gpu/ && cp ../shared/device/torch_peer.py .gpu/
#   echo /.gpu/ >> .git/info/exclude        # and the Vulkan loaders in .gl/, see the device README
#
# then run it there with the device tool: command `bash tests/gpu/measure.sh`, carry [".gl", ".gpu"],
# timeout ~540 s. Everything it prints is also in $OUT/measure.log. Each anytune line is measured
# against PyTorch + PEFT on the same GPU in the same run, so ratios between them are fair.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done 2>/dev/null
ldconfig 2>/dev/null
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
BIN=${ANYTUNE_BIN:-.gpu/anytune}
PEER=${TORCH_PEER:-.gpu/torch_peer.py}
LOG=${OUT:-/tmp}/measure.log
: > "$LOG"
step() { echo "## $*" | tee -a "$LOG"; timeout 240 "$@" 2>&1 | grep -v XDG_RUNTIME | tee -a "$LOG"; }

nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv 2>&1 | tee -a "$LOG"
for family in gpu cpu; do
  export ANYTUNE_KERNELS=$family
  step "$BIN" bench --op matmul --tokens 2048
  for shape in "1 128" "4 512"; do
    set -- $shape
    for targets in q_proj,v_proj all-linear; do
      step "$BIN" bench --train --synthetic smollm2-135m --batch "$1" --tokens "$2" --targets "$targets"
    done
  done
  [ "$family" = cpu ] && break  # the llvmpipe family: one pass for the before/after ratio
  step "$BIN" bench --train --synthetic smollm2-135m --batch 4 --tokens 512 --profile --iters 1
  # The precision choices against the defaults above (16-bit saves, f16 weight tiles).
  step "$BIN" bench --train --synthetic smollm2-135m --batch 4 --tokens 512 --saved-activations f32
  ANYTUNE_F16=on step "$BIN" bench --train --synthetic smollm2-135m --batch 4 --tokens 512
  ANYTUNE_F16=off step "$BIN" bench --train --synthetic smollm2-135m --batch 4 --tokens 512
  ANYTUNE_F16=off step "$BIN" bench --op matmul --tokens 2048
  step "$BIN" bench --train --synthetic gemma3-270m --batch 4 --tokens 512
done
unset ANYTUNE_KERNELS
step python3 "$PEER" matmul
for shape in "1 128" "4 512"; do
  set -- $shape
  for targets in q_proj,v_proj q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj; do
    step python3 "$PEER" train --batch "$1" --tokens "$2" --targets "$targets" --dtype f32
    echo "## the next line: TF32 on" | tee -a "$LOG"
    TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1 step python3 "$PEER" train --batch "$1" --tokens "$2" --targets "$targets" --dtype f32
    step python3 "$PEER" train --batch "$1" --tokens "$2" --targets "$targets" --dtype bf16
  done
done
step python3 "$PEER" train --arch gemma3 --batch 4 --tokens 512
