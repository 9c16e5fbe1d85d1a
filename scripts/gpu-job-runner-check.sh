#!/usr/bin/env bash
# GPU check of the job runner: runs pipelines/gpu.yaml (DPO LoRA trainer + pairwise evaluator) THROUGH the real
# `feedbackloop serve --role all` (orchestrator + one GPU worker in one process, in-memory bus, SQLite store), not by
# calling the Python scripts directly. Made for a borrowed GPU machine without dotnet and without network:
#
#   .gpu-carry/ (git-ignored, carried beside the working tree)
#     feedbackloop-linux-x64.tar.xz        self-contained `dotnet publish -r linux-x64` of src/FeedbackLoop.Cli
#     datasets/demo/preference-pairs/      the demo's preference pairs (Parquet), >= gpu.yaml's min_new_pairs
#     MANIFEST.txt                         source commit, sha256 of the archive, how both were made
#
#   bash scripts/gpu-job-runner-check.sh
#
# Steps: CUDA check (exit 3 without it) -> unpack the CLI into $GPU_CHECK_WORK -> fresh data folder with the dataset
# -> serve --role all --gpus 1 --pipeline pipelines/gpu.yaml --poll-datasets 2s -> poll `jobs list` until the run is
# decided (deadline) -> `models approve` when the candidate passed the gate (gpu.yaml has require_signoff) -> models
# list/show, jobs list/show/logs -> SIGTERM serve and check it exits 0 -> last line: VERDICT: PASS|FAIL ...
#
# Writes into $OUT (at most 8 files): summary.log (everything printed), nvidia-smi.txt (at start), tune-metrics.json,
# eval-metrics.json (the candidate's), eval-report.json (what the gate read), registry.db (consistent copy),
# serve.log (serve's stdout+stderr), job-logs.txt (every attempt's full log).
#
# Environment (defaults in brackets):
#   OUT                          result folder [/tmp/feedbackloop-gpu-check-out]
#   GPU_CHECK_CARRY              the carry folder [<repo>/.gpu-carry]
#   GPU_CHECK_WORK               scratch folder, emptied first [/tmp/feedbackloop-gpu-check]
#   GPU_CHECK_PIPELINE           pipelines file [<repo>/pipelines/gpu.yaml]
#   GPU_CHECK_RUN_DEADLINE_S     seconds from serve's ready line until the run must be decided [300]
#   GPU_CHECK_START_DEADLINE_S   seconds from ready until the tuning job must exist [60]
#   GPU_CHECK_POLL_S             pause between polls [2]
#   GPU_CHECK_WAIT_FOR_RETRIES   1: keep waiting when an attempt fails (gpu.yaml retries after 1m, 2m); 0: stop at the
#                                first failed attempt, to save device time [0]
#   GPU_CHECK_SKIP_CUDA_CHECK    1: skip the CUDA/nvidia-smi checks and accept device "cpu" (local test with stand-in
#                                trainers only; never on the GPU machine) [0]
set -Eeuo pipefail
export PYTHONUNBUFFERED=1 NO_COLOR=1 DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
unset FEEDBACKLOOP_RABBITMQ FEEDBACKLOOP_RABBITMQ_PASSWORD # in memory: --role all alone

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-/tmp/feedbackloop-gpu-check-out}"
CARRY="${GPU_CHECK_CARRY:-$ROOT/.gpu-carry}"
WORK="${GPU_CHECK_WORK:-/tmp/feedbackloop-gpu-check}"
PIPELINE="${GPU_CHECK_PIPELINE:-$ROOT/pipelines/gpu.yaml}"
RUN_DEADLINE_S="${GPU_CHECK_RUN_DEADLINE_S:-300}"
START_DEADLINE_S="${GPU_CHECK_START_DEADLINE_S:-60}"
POLL_S="${GPU_CHECK_POLL_S:-2}"
WAIT_FOR_RETRIES="${GPU_CHECK_WAIT_FOR_RETRIES:-0}"
SKIP_CUDA="${GPU_CHECK_SKIP_CUDA_CHECK:-0}"
APP=demo
LOG_TAIL=40

CLI_DIR="$WORK/cli"
CLI="$CLI_DIR/feedbackloop"
DATA="$WORK/data"
REG="$WORK/registry.db"
SERVE_LOG="$WORK/serve.log"
SERVE_PID=""
SERVE_RC=""
VERDICT_DETAIL=""
FAIL_REASON=""
VERSION=""
RUN_ID=""
CUDA_SEEN=""          # CUDA_VISIBLE_DEVICES read from the running trainer's environment
EXPECTED_CUDA=""      # what the worker's slot 0 must hand out

case "$WORK" in /|/tmp|"$ROOT"|"") echo "GPU_CHECK_WORK=$WORK: refusing to empty that folder" >&2; exit 2 ;; esac
# A fresh scratch folder first, so nothing from an earlier run can end up in $OUT.
rm -rf "$WORK"
mkdir -p "$OUT" "$WORK"
# Everything printed goes to $OUT/summary.log as well.
exec > >(tee "$OUT/summary.log") 2>&1
TEE_PID=$!

section() { printf '\n===== [%s +%ss] %s =====\n' "$(date -u +%H:%M:%S)" "$SECONDS" "$*"; }
note() { printf '[%s +%ss] %s\n' "$(date -u +%H:%M:%S)" "$SECONDS" "$*"; }
fail() { FAIL_REASON="$*"; note "FAILED: $*"; exit 1; }
fl() { "$CLI" "$@"; }
# The registry is passed explicitly everywhere (the commands' default is demo-out/registry.db).
fl_jobs() { local sub=$1; shift; "$CLI" jobs "$sub" "$@" --registry "$REG"; }
fl_models() { local sub=$1; shift; "$CLI" models "$sub" "$@" --registry "$REG"; }
serve_alive() { [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; }

trap 'note "error: line $LINENO: \`$BASH_COMMAND\` exited $?"' ERR

# ---------------------------------------------------------------------------------------------------------------------
# Stopping serve: SIGTERM, then up to 90 s for its graceful stop (it kills running jobs and stops the bus), then SIGKILL.
# ---------------------------------------------------------------------------------------------------------------------
stop_serve() {
  serve_alive || return 0
  note "sending SIGTERM to serve (pid $SERVE_PID)"
  kill -TERM "$SERVE_PID" 2>/dev/null || true
  local until=$((SECONDS + 90))
  while serve_alive && [ "$SECONDS" -lt "$until" ]; do sleep 0.2; done
  if serve_alive; then
    note "serve did not stop within 90 s of SIGTERM: SIGKILL"
    kill -KILL "$SERVE_PID" 2>/dev/null || true
  fi
  set +e
  wait "$SERVE_PID" 2>/dev/null
  SERVE_RC=$?
  set -e
  note "serve exited with code $SERVE_RC"
}

# ---------------------------------------------------------------------------------------------------------------------
# Results into $OUT (idempotent; runs on success and on failure). At most 8 files.
# ---------------------------------------------------------------------------------------------------------------------
collect_out() {
  [ -f "$SERVE_LOG" ] && cp -f "$SERVE_LOG" "$OUT/serve.log"
  if [ -d "$DATA/models" ]; then
    local tune eval report
    tune=$(find "$DATA/models" -path '*/tune-*/metrics.json' 2>/dev/null | sort | tail -1)
    eval=$(find "$DATA/models" -path '*/eval-*/candidate/metrics.json' 2>/dev/null | sort | tail -1)
    report=$(find "$DATA/models" -path '*/eval-*/eval-report.json' 2>/dev/null | sort | tail -1)
    [ -n "$tune" ] && cp -f "$tune" "$OUT/tune-metrics.json"
    [ -n "$eval" ] && cp -f "$eval" "$OUT/eval-metrics.json"
    [ -n "$report" ] && cp -f "$report" "$OUT/eval-report.json"
  fi
  if [ -d "$DATA/worker" ]; then
    find "$DATA/worker" -type f -name '*.log' 2>/dev/null | sort | while read -r f; do
      printf '\n######## %s\n' "$f"
      cat "$f"
    done > "$OUT/job-logs.txt" || true
  fi
  if [ -f "$REG" ]; then
    # A consistent single file (the store is in WAL mode): SQLite's online backup, else a plain copy.
    rm -f "$OUT/registry.db"
    python3 - "$REG" "$OUT/registry.db" <<'PY' 2>/dev/null || cp -f "$REG" "$OUT/registry.db"
import sqlite3, sys
src = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.close(); src.close()
PY
  fi
  return 0
}

diagnostics() {
  section "diagnostics (failure)"
  if [ -f "$SERVE_LOG" ]; then
    echo "--- serve.log (last 80 lines)"
    tail -n 80 "$SERVE_LOG" || true
  fi
  if [ -x "$CLI" ] && [ -f "$REG" ]; then
    echo "--- jobs list"
    fl_jobs list --app "$APP" || true
    local ids
    ids=$(fl_jobs list --app "$APP" --json 2>/dev/null | python3 -c 'import json,sys; [print(j["job"]) for j in json.load(sys.stdin)]' 2>/dev/null || true)
    for id in $ids; do
      echo "--- jobs show $id"
      fl_jobs show "$id" || true
      echo "--- jobs logs $id --tail $LOG_TAIL"
      fl_jobs logs "$id" --tail "$LOG_TAIL" || true
    done
    echo "--- models list"
    fl_models list --app "$APP" || true
  fi
  if command -v nvidia-smi >/dev/null 2>&1; then
    echo "--- nvidia-smi"
    nvidia-smi || true
  fi
}

on_exit() {
  local rc=$?
  trap - ERR
  set +e
  if [ "$rc" -ne 0 ]; then
    [ -n "$FAIL_REASON" ] || FAIL_REASON="the script stopped with exit code $rc (see the error line above)"
    diagnostics
  fi
  stop_serve
  collect_out
  section "results in $OUT"
  ls -l "$OUT"
  echo
  if [ "$rc" -eq 0 ]; then
    echo "VERDICT: PASS - $VERDICT_DETAIL"
  else
    echo "VERDICT: FAIL - $FAIL_REASON"
  fi
  # Let tee write the last line before the command ends.
  exec 1>&- 2>&-
  wait "$TEE_PID" 2>/dev/null
  exit "$rc"
}
trap on_exit EXIT

# ---------------------------------------------------------------------------------------------------------------------
section "gpu-job-runner-check: $(date -u +%Y-%m-%dT%H:%M:%SZ) on ${HOSTNAME:-$(cat /proc/sys/kernel/hostname)}"
# ---------------------------------------------------------------------------------------------------------------------
note "repo: $ROOT (commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
note "carry: $CARRY; work: $WORK; out: $OUT; pipeline: $PIPELINE"
note "deadlines: run decided within ${RUN_DEADLINE_S}s of ready, tuning job created within ${START_DEADLINE_S}s; wait for retries: $WAIT_FOR_RETRIES"
note "CUDA_VISIBLE_DEVICES in this shell: ${CUDA_VISIBLE_DEVICES-unset}"
[ -f "$PIPELINE" ] || fail "no pipelines file at $PIPELINE"
[ -f "$CARRY/MANIFEST.txt" ] || fail "no $CARRY/MANIFEST.txt: carry the .gpu-carry folder (run's carry [\".gpu-carry\"])"
cat "$CARRY/MANIFEST.txt"

# ---------------------------------------------------------------------------------------------------------------------
section "GPU and Python"
# ---------------------------------------------------------------------------------------------------------------------
if command -v nvidia-smi >/dev/null 2>&1; then
  { nvidia-smi; echo; nvidia-smi --query-gpu=index,name,uuid,memory.total,driver_version --format=csv; } > "$OUT/nvidia-smi.txt" 2>&1 || true
  cat "$OUT/nvidia-smi.txt"
elif [ "$SKIP_CUDA" = 1 ]; then
  echo "nvidia-smi not found (GPU_CHECK_SKIP_CUDA_CHECK=1: local test, going on)" | tee "$OUT/nvidia-smi.txt"
else
  echo "nvidia-smi not found" > "$OUT/nvidia-smi.txt"
  FAIL_REASON="nvidia-smi not found: no NVIDIA GPU here"
  note "$FAIL_REASON"
  exit 3
fi
if [ "$SKIP_CUDA" = 1 ]; then
  note "GPU_CHECK_SKIP_CUDA_CHECK=1: CUDA check skipped (local test with stand-in trainers)"
  python3 -c 'import platform; print("python", platform.python_version())'
else
  if ! python3 - <<'PY'
import sys, platform
import torch, transformers, peft, pyarrow, accelerate
try:
    import tokenizers
    tv = tokenizers.__version__
except ImportError:
    tv = "not installed (byte tokenizer)"
print(f"python {platform.python_version()}; torch {torch.__version__} (CUDA {torch.version.cuda}); transformers {transformers.__version__}; "
      f"peft {peft.__version__}; pyarrow {pyarrow.__version__}; accelerate {accelerate.__version__}; tokenizers {tv}")
assert torch.cuda.is_available(), "torch sees no CUDA device"
print(f"cuda devices: {torch.cuda.device_count()}; device 0: {torch.cuda.get_device_name(0)}; bf16 supported: {torch.cuda.is_bf16_supported()}")
PY
  then
    FAIL_REASON="CUDA is not available to python3/torch (or torch/transformers/peft/pyarrow/accelerate is missing): see above"
    note "$FAIL_REASON"
    exit 3
  fi
fi
python3 "$ROOT/pipelines/trainers/dpo_lora.py" --self_test

# ---------------------------------------------------------------------------------------------------------------------
section "unpack the CLI (self-contained linux-x64) and the dataset"
# ---------------------------------------------------------------------------------------------------------------------
ARCHIVE="$CARRY/feedbackloop-linux-x64.tar.xz"
[ -f "$ARCHIVE" ] || fail "no $ARCHIVE"
want=$(sed -n 's/^cli_sha256=//p' "$CARRY/MANIFEST.txt")
got=$(sha256sum "$ARCHIVE" | cut -d' ' -f1)
[ "$want" = "$got" ] || fail "$ARCHIVE: sha256 $got, MANIFEST.txt says $want (truncated carry?)"
note "archive $(stat -c %s "$ARCHIVE") bytes, sha256 ok"
mkdir -p "$CLI_DIR" "$DATA/datasets/$APP"
if command -v xz >/dev/null 2>&1; then
  tar -C "$CLI_DIR" -xJf "$ARCHIVE"
else
  note "no xz here: unpacking with python3's tarfile"
  python3 - "$ARCHIVE" "$CLI_DIR" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "r:xz") as t:
    t.extractall(sys.argv[2], **({"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}))
PY
fi
[ -x "$CLI" ] || fail "the archive holds no executable feedbackloop"
note "unpacked: $(du -sh "$CLI_DIR" | cut -f1) in $CLI_DIR; $(fl --version 2>&1 | head -1)"
cp -r "$CARRY/datasets/$APP/preference-pairs" "$DATA/datasets/$APP/"
note "dataset: $(find "$DATA/datasets/$APP/preference-pairs" -name '*.parquet' | wc -l) Parquet files in $DATA/datasets/$APP/preference-pairs ($(sed -n 's/^dataset_pairs=//p' "$CARRY/MANIFEST.txt") pairs per MANIFEST.txt)"

# ---------------------------------------------------------------------------------------------------------------------
section "start: feedbackloop serve --role all --gpus 1 (embedded: in-memory bus, SQLite)"
# ---------------------------------------------------------------------------------------------------------------------
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then EXPECTED_CUDA="${CUDA_VISIBLE_DEVICES%%,*}"; else EXPECTED_CUDA=0; fi
SERVE_CMD=("$CLI" serve --role all --gpus 1 --pipeline "$PIPELINE" --data "$DATA" --registry "$REG" --poll-datasets 2s --verbose)
note "command: ${SERVE_CMD[*]}"
"${SERVE_CMD[@]}" > "$SERVE_LOG" 2>&1 &
SERVE_PID=$!
READY_AT=""
until=$((SECONDS + 60))
while [ "$SECONDS" -lt "$until" ]; do
  if grep -q '^ready ' "$SERVE_LOG" 2>/dev/null; then READY_AT=$SECONDS; break; fi
  serve_alive || break
  sleep 0.2
done
if [ -z "$READY_AT" ]; then
  cat "$SERVE_LOG" || true
  serve_alive && fail "serve printed no ready line within 60 s" || fail "serve exited before it was ready (log above)"
fi
note "serve (pid $SERVE_PID): $(grep -m1 '^ready ' "$SERVE_LOG")"
note "the dataset poll (every 2 s) announces app '$APP'; the run starts once >= min_new_pairs (gpu.yaml: 500) pairs are new"

# ---------------------------------------------------------------------------------------------------------------------
section "wait for the run: tune job -> eval job -> gate"
# ---------------------------------------------------------------------------------------------------------------------
# Reads `jobs list --json` (and, once the eval job succeeded, `models list --json`) and prints one line:
#   WAIT <human summary> | DECIDED <version> <passed:true|false> <human> | FAILED <why> | NOJOBS
cat > "$WORK/poll.py" <<'PY'
import json, sys
jobs = json.load(open(sys.argv[1]))
mode = sys.argv[2]
models = json.load(open(sys.argv[3])) if len(sys.argv) > 3 else None
if not jobs:
    print("NOJOBS"); sys.exit()
parts, failed = [], None
for j in sorted(jobs, key=lambda j: j["job"]):
    last = j["attempts"][-1] if j["attempts"] else {}
    s = f'{j["job"]}: {j["state"]} (attempt {j["attempt"]}/{j["max_attempts"]}'
    if last.get("worker"):
        s += f', {last["worker"]} slot {last.get("slot")}'
    s += ")"
    if last.get("progress") and j["state"] in ("running", "offered"):
        s += f' | {last["progress"][:110]}'
    parts.append(s)
    if j["state"] in ("failed", "cancelled"):
        failed = failed or f'job {j["job"]} {j["state"]}: {j.get("reason")}'
    for a in j["attempts"]:
        if a["state"] in ("failed", "timed_out", "lost", "cancelled") and mode == "stop-at-first-failure":
            failed = failed or f'attempt {a["attempt"]} of {j["job"]} {a["state"]}: {a.get("reason")} (exit {a.get("exit_code")})'
human = "; ".join(parts)
if failed:
    print(f"FAILED {failed} || {human}"); sys.exit()
if models is not None:
    for m in models.get("models", []):
        d = m.get("decision")
        if d is not None:
            print(f'DECIDED {m["version"]} {"true" if d["passed"] else "false"} {m["status"]}: {d["reason"]}'); sys.exit()
print(f"WAIT {human}")
PY
mode=stop-at-first-failure
[ "$WAIT_FOR_RETRIES" = 1 ] && mode=keep-waiting
run_deadline=$((READY_AT + RUN_DEADLINE_S))
start_deadline=$((READY_AT + START_DEADLINE_S))
last_line=""; last_print=0; bad_polls=0; gpu_apps_shown=""
result=""
while :; do
  serve_alive || fail "serve exited while the run was in progress (see serve.log)"
  if ! fl_jobs list --app "$APP" --json > "$WORK/jobs.json" 2> "$WORK/poll.err"; then
    bad_polls=$((bad_polls + 1))
    note "jobs list failed (poll error $bad_polls): $(head -c 300 "$WORK/poll.err")"
    [ "$bad_polls" -lt 10 ] || fail "jobs list failed 10 times"
    sleep "$POLL_S"; continue
  fi
  args=("$WORK/jobs.json" "$mode")
  if python3 -c 'import json,sys; sys.exit(0 if any(j["kind"]=="eval" and j["state"]=="succeeded" for j in json.load(open(sys.argv[1]))) else 1)' "$WORK/jobs.json"; then
    fl_models list --app "$APP" --json > "$WORK/models.json" 2>> "$WORK/poll.err" && args+=("$WORK/models.json")
  fi
  line=$(python3 "$WORK/poll.py" "${args[@]}")
  case "$line" in
    DECIDED*|FAILED*) result=$line; break ;;
    NOJOBS)
      [ "$SECONDS" -lt "$start_deadline" ] || fail "no tuning job within ${START_DEADLINE_S}s of ready: did the poll see >= min_new_pairs pairs under $DATA/datasets/$APP/preference-pairs? (serve.log)"
      line="WAIT no job yet" ;;
  esac
  # While a trainer runs: the GPU slot's environment, as the trainer process sees it, and the GPU's load.
  gpu=""
  if serve_alive; then
    for p in /proc/[0-9]*; do
      ppid=$(sed -E 's/^.*\) [A-Za-z] ([0-9]+) .*$/\1/' "$p/stat" 2>/dev/null) || continue
      [ "$ppid" = "$SERVE_PID" ] || continue
      cmd=$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null | cut -c1-160) || continue
      cvd=$(tr '\0' '\n' < "$p/environ" 2>/dev/null | sed -n 's/^CUDA_VISIBLE_DEVICES=//p') || true
      key="${p#/proc/}"
      if [[ "$cmd" == *python3* ]] && [[ " $gpu_apps_shown " != *" $key "* ]]; then
        gpu_apps_shown="$gpu_apps_shown $key"
        note "job process pid $key: CUDA_VISIBLE_DEVICES=${cvd:-<empty>}: $cmd"
        [[ "$cmd" == *dpo_lora.py* ]] && CUDA_SEEN="$cvd"
      fi
    done
  fi
  if command -v nvidia-smi >/dev/null 2>&1; then
    gpu=" | gpu $(nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null | head -1) | apps: $(nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader 2>/dev/null | tr '\n' ';')"
  fi
  if [ "$line" != "$last_line" ] || [ $((SECONDS - last_print)) -ge 20 ]; then
    note "${line#WAIT }$gpu"
    last_line=$line; last_print=$SECONDS
  fi
  [ "$SECONDS" -lt "$run_deadline" ] || fail "the run was not decided within ${RUN_DEADLINE_S}s of ready (last: ${line#WAIT })"
  sleep "$POLL_S"
done
if [[ "$result" == DECIDED* ]]; then note "$result"; fi
case "$result" in
  FAILED*)
    why=${result#FAILED }
    note "jobs: ${why#* || }"
    fail "${why%% || *}" ;;
esac
read -r _ VERSION PASSED _ <<< "$result"
DECISION="${result#DECIDED "$VERSION" "$PASSED" }"
note "run decided $((SECONDS - READY_AT)) s after ready: candidate $VERSION, gate passed: $PASSED"

# The decision is recorded just before the run is marked completed: wait for that too (a few seconds at most).
until=$((SECONDS + 30)); run_line=""
while [ "$SECONDS" -lt "$until" ]; do
  run_line=$(fl_models show "$VERSION" 2>/dev/null | grep -E '^ *run ' || true)
  if grep -qE '\((completed|failed)' <<< "$run_line"; then break; fi
  sleep 1
done
note "run: $(sed -E 's/^ *run +//; s/ +$//' <<< "$run_line") ..."
grep -q '(completed' <<< "$run_line" || fail "the run of $VERSION is not completed 30 s after its decision: $run_line"
RUN_ID=$(python3 -c 'import json,sys; print(" ".join(sorted({j["run"] for j in json.load(open(sys.argv[1]))})))' "$WORK/jobs.json")

# ---------------------------------------------------------------------------------------------------------------------
section "sign-off (gpu.yaml: gate.require_signoff: true)"
# ---------------------------------------------------------------------------------------------------------------------
fl_models list --app "$APP"
if [ "$PASSED" = true ]; then
  python3 -c 'import json,sys; m=[m for m in json.load(open(sys.argv[1]))["models"] if m["version"]==sys.argv[2]][0]; sys.exit(0 if m["status"]=="awaiting_signoff" else 1)' "$WORK/models.json" "$VERSION" \
    || fail "$VERSION passed the gate but is not awaiting_signoff (require_signoff: true)"
  note "feedbackloop models approve $VERSION"
  fl_models approve "$VERSION" --by gpu-job-runner-check --note "GPU job-runner check on ${HOSTNAME:-$(cat /proc/sys/kernel/hostname)}"
  fl_models list --app "$APP" --json > "$WORK/models.json"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); m=[m for m in d["models"] if m["version"]==sys.argv[2]][0]; print("after approve: status", m["status"], "current", d["current"]); sys.exit(0 if m["status"]=="promoted" and d["current"]==sys.argv[2] else 1)' "$WORK/models.json" "$VERSION" \
    || fail "after approve, $VERSION is not the promoted current model"
else
  fail "candidate $VERSION was rejected by the gate with no incumbent to beat: $DECISION"
fi

# ---------------------------------------------------------------------------------------------------------------------
section "models list / models show $VERSION"
# ---------------------------------------------------------------------------------------------------------------------
fl_models list --app "$APP"
fl_models show "$VERSION"

# ---------------------------------------------------------------------------------------------------------------------
section "jobs list / jobs show / jobs logs"
# ---------------------------------------------------------------------------------------------------------------------
fl_jobs list --app "$APP"
fl_jobs list --app "$APP" --json > "$WORK/jobs.json"
python3 - "$WORK/jobs.json" > "$WORK/attempts.txt" <<'PY'
import json, sys
for j in sorted(json.load(open(sys.argv[1])), key=lambda j: j["job"]):
    for a in j["attempts"]:
        print(j["job"], a["attempt"], "1" if a.get("log") else "0")
PY
for id in $(cut -d' ' -f1 "$WORK/attempts.txt" | sort -u); do
  echo; echo "--- jobs show $id"
  fl_jobs show "$id"
  while read -r jid n haslog; do
    [ "$jid" = "$id" ] && [ "$haslog" = 1 ] || continue
    echo; echo "--- jobs logs $id --attempt $n --tail $LOG_TAIL"
    fl_jobs logs "$id" --attempt "$n" --tail "$LOG_TAIL"
  done < "$WORK/attempts.txt"
done

# ---------------------------------------------------------------------------------------------------------------------
section "stop serve (SIGTERM) and check its exit code"
# ---------------------------------------------------------------------------------------------------------------------
stop_serve
[ "$SERVE_RC" = 0 ] || fail "serve exited $SERVE_RC after SIGTERM (expected 0)"
SERVE_PID=""

# ---------------------------------------------------------------------------------------------------------------------
section "metrics and checks"
# ---------------------------------------------------------------------------------------------------------------------
collect_out
for f in tune-metrics.json eval-metrics.json eval-report.json; do
  [ -f "$OUT/$f" ] || fail "no $f was written"
  echo "--- $f"; cat "$OUT/$f"; echo
done
summary=$(python3 - "$OUT/tune-metrics.json" "$OUT/eval-metrics.json" "$WORK/jobs.json" "$SKIP_CUDA" <<'PY'
import json, sys
from datetime import datetime
t = json.load(open(sys.argv[1])); e = json.load(open(sys.argv[2])); jobs = json.load(open(sys.argv[3])); skip = sys.argv[4] == "1"
problems = []
for name, m in (("tune", t), ("eval", e)):
    if not skip and str(m.get("device", "cpu")).lower() == "cpu":
        problems.append(f"{name} ran on {m.get('device', 'an unknown device')}, not on a GPU")
for k in ("accuracy", "standard_error", "eval_pairs"):
    if k not in e:
        problems.append(f"eval metrics lack {k}")
def secs(a):
    try:
        return (datetime.fromisoformat(a["ended_at"]) - datetime.fromisoformat(a["started_at"])).total_seconds()
    except Exception:
        return float("nan")
times = []
for j in sorted(jobs, key=lambda j: j["job"]):
    ok = [a for a in j["attempts"] if a["state"] == "succeeded"]
    if ok:
        times.append(f'{j["kind"]} {secs(ok[-1]):.0f} s (attempt {ok[-1]["attempt"]} of {len(j["attempts"])})')
line = (f'device {t.get("device")}; train {t.get("train_pairs")} pairs, {t.get("epochs")} epochs in {t.get("seconds")} s '
        f'({t.get("tokens_per_s")} tokens/s), loss {t.get("train_loss_first")} -> {t.get("train_loss_last")}; '
        f'candidate accuracy {e.get("accuracy")} +/- {e.get("standard_error")} on {e.get("eval_pairs")} eval pairs; '
        f'job times: {", ".join(times)}')
print(("PROBLEM " + "; ".join(problems)) if problems else "OK " + line)
PY
)
note "${summary}"
case "$summary" in PROBLEM*) fail "${summary#PROBLEM }" ;; esac
if [ -n "$CUDA_SEEN" ]; then
  note "trainer's CUDA_VISIBLE_DEVICES: $CUDA_SEEN (worker slot 0 should hand out $EXPECTED_CUDA)"
  [ "$CUDA_SEEN" = "$EXPECTED_CUDA" ] || fail "the trainer ran with CUDA_VISIBLE_DEVICES=$CUDA_SEEN, expected $EXPECTED_CUDA"
  cuda_note="CUDA_VISIBLE_DEVICES=$CUDA_SEEN"
else
  note "the trainer process was not caught running, so its CUDA_VISIBLE_DEVICES was not read"
  cuda_note="CUDA_VISIBLE_DEVICES not observed"
fi

VERDICT_DETAIL="run $RUN_ID completed through serve (orchestrator + GPU worker); ${summary#OK }; $VERSION passed the gate, approved and promoted; $cuda_note; serve exited 0 on SIGTERM; total ${SECONDS}s"
