#!/bin/sh
# Stands in for the GPU trainer and evaluator in tests (CI has no GPU): the job runner is what is tested, not
# training. It reads and writes what the real scripts do (a Parquet folder in, metrics.json out) and behaves as the
# test scripts it through marker files in --markers:
#   fail-next    exit 3 once (the file is removed first), as a crashing trainer
#   fail-always  exit 3 every time
#   hold         keep running, printing a progress line every 50 ms, until the file is removed
#   accuracy     the accuracy (0..1) the evaluator reports for the models trained while it holds that value
# Each start appends "<mode> <pid> <args...>" to <markers>/starts.log, so a test can count runs and find processes.
#
#   fake-trainer.sh tune --data DIR --output DIR --markers DIR [--params JSON]
#   fake-trainer.sh eval --data DIR --model DIR --output DIR --markers DIR
set -eu
mode=$1
shift
data=""; out=""; model=""; markers=""; params=""
while [ $# -gt 0 ]; do
  case $1 in
    --data) data=$2; shift 2 ;;
    --output) out=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --markers) markers=$2; shift 2 ;;
    --params) params=$2; shift 2 ;;
    *) echo "fake-trainer: unknown argument $1" >&2; exit 64 ;;
  esac
done
echo "$mode $$ $data|$out|$model|$params" >> "$markers/starts.log"
echo "fake $mode starting (pid $$, CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-unset})"
# A crash is reported on both streams: the worker logs stdout and stderr in arrival order, which is not fixed between
# the two, and the tests check the attempt's last line.
crash() { echo "simulated crash"; echo "simulated crash" >&2; exit 3; }
if [ -e "$markers/fail-always" ]; then crash; fi
if [ -e "$markers/fail-next" ]; then rm -f "$markers/fail-next"; crash; fi
i=0
while [ -e "$markers/hold" ]; do
  i=$((i + 1))
  echo "step $i"
  sleep 0.05
done
mkdir -p "$out"
files=$(find -L "$data" -name '*.parquet' | wc -l)
if [ "$mode" = tune ]; then
  cat "$markers/accuracy" 2>/dev/null > "$out/accuracy" || echo 0.8 > "$out/accuracy"
  echo "{\"train_pairs\": $((files * 10)), \"snapshot_files\": $files}" > "$out/metrics.json"
else
  accuracy=$(cat "$model/accuracy" 2>/dev/null || echo 0.5)
  echo "{\"accuracy\": $accuracy, \"standard_error\": 0.01, \"eval_pairs\": 400, \"snapshot_files\": $files}" > "$out/metrics.json"
fi
echo "fake $mode done"
