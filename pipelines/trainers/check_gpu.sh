#!/usr/bin/env bash
# GPU check of the reference DPO LoRA trainer: trains a LoRA adapter on a small random Llama built from a
# config (the GPU machine has no model hub) on a FeedbackLoop preference-pairs folder, then scores the held-out
# split. Takes about a minute on one H100/H200; exits non-zero when CUDA is unavailable or a step fails.
#
#   bash pipelines/trainers/check_gpu.sh <preference-pairs folder> [output folder]
#
# Environment: PYTHON (default python3); EPOCHS, LR, BATCH_SIZE, MAX_LEN, SEED, EVAL_FRACTION override the
# settings below (they are fixed in advance: never pick them by looking at the eval accuracy).
set -euo pipefail
export PYTHONUNBUFFERED=1

DATA="${1:?usage: check_gpu.sh <preference-pairs folder> [output folder]}"
OUTDIR="${2:-${TMPDIR:-/tmp}/feedbackloop-check-gpu}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY="${PYTHON:-python3}"
EPOCHS="${EPOCHS:-20}"
LR="${LR:-5e-4}"
BATCH_SIZE="${BATCH_SIZE:-32}"
MAX_LEN="${MAX_LEN:-512}"
SEED="${SEED:-42}"
EVAL_FRACTION="${EVAL_FRACTION:-0.25}"
BASE_MODEL='config:{"hidden_size":256,"num_hidden_layers":4,"num_attention_heads":4,"intermediate_size":1024}'
PARAMS='{"beta":0.1,"lora_r":16,"lora_alpha":32,"tokenizer":"auto","bpe_vocab_size":2048}'

[ -d "$DATA" ] || { echo "check_gpu: no folder $DATA" >&2; exit 2; }
echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) check_gpu on $DATA"

if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "check_gpu: nvidia-smi not found: no NVIDIA GPU here" >&2
  exit 3
fi
nvidia-smi --query-gpu=name,memory.total --format=csv

"$PY" - <<'PYEOF'
import sys, platform
import torch, transformers, peft, pyarrow, accelerate
try:
    import tokenizers
    tokenizers_version = tokenizers.__version__
except ImportError:
    tokenizers_version = "not installed (byte tokenizer)"
print(f"python {platform.python_version()}; torch {torch.__version__} (CUDA {torch.version.cuda}); "
      f"transformers {transformers.__version__}; peft {peft.__version__}; pyarrow {pyarrow.__version__}; "
      f"accelerate {accelerate.__version__}; tokenizers {tokenizers_version}")
if not torch.cuda.is_available():
    print("check_gpu: torch sees no CUDA device", file=sys.stderr)
    sys.exit(3)
print(f"cuda device: {torch.cuda.get_device_name(0)}, bf16 supported: {torch.cuda.is_bf16_supported()}")
PYEOF

"$PY" "$HERE/dpo_lora.py" --self_test

rm -rf "$OUTDIR"
echo "== train"
timeout 210 "$PY" "$HERE/dpo_lora.py" --train "$DATA" --output "$OUTDIR" --base_model "$BASE_MODEL" \
  --eval_fraction "$EVAL_FRACTION" --epochs "$EPOCHS" --lr "$LR" --batch_size "$BATCH_SIZE" \
  --max_len "$MAX_LEN" --seed "$SEED" --params "$PARAMS"
echo "== eval"
timeout 60 "$PY" "$HERE/eval_pairwise.py" --data "$DATA" --model_dir "$OUTDIR" --base_model "$BASE_MODEL" \
  --output "$OUTDIR/eval.json"

echo "== summary"
"$PY" - "$OUTDIR" <<'PYEOF'
import json, sys, os
d = sys.argv[1]
m = json.load(open(os.path.join(d, "metrics.json")))
e = json.load(open(os.path.join(d, "eval.json")))
print(f"device: {m['device']}")
print(f"train: {m['train_pairs']} pairs, {m['epochs']} epochs, {m['steps']} steps in {m['seconds']} s; "
      f"tokens/s {m['tokens_per_s']:,.0f}; loss {m['train_loss_first']:.4f} (first epoch) -> {m['train_loss_last']:.4f} (last epoch)")
print(f"candidate (base + LoRA, DPO implicit reward): accuracy {e['accuracy']:.4f} +/- {e['standard_error']:.4f} on {e['eval_pairs']} eval pairs")
r = e["reference"]
print(f"untrained reference: accuracy {r['accuracy']:.4f} with {r['ties']} ties of {e['eval_pairs']} (ties as half: {r['accuracy_ties_as_half']:.4f})")
b = e["baselines"]
print(f"baselines: base log-likelihood {b['base_loglik']['accuracy']:.4f}, shorter response {b['shorter_response']['accuracy']:.4f}")
PYEOF
