#!/usr/bin/env bash
# Experiment 011: was 400 stage-2 steps (schedule.stage2_min_steps, experiment 010) long enough?
# 400 against 800 on five blocks (posed and wild stills, the emotion head on the posed stills,
# the DISFA-like videos, which 800 lengthens from 6 to 12 stage-2 epochs, and AU intensity on
# those videos, added after the first four had run). Validation subjects decide; test subjects
# are scored once after.
# Usage: bash experiments/011-stage2-steps-800/queue.sh
# Runs land in logs/fit/multiruns/011-<block>-<setting>/seed<seed>/.
set -euo pipefail
declare -A settings=([s400]="schedule.stage2_min_steps=400" [s800]="schedule.stage2_min_steps=800")
run() {  # block seed setting overrides...
  local block=$1 seed=$2 setting=$3; shift 3
  local out="logs/fit/multiruns/011-${block}-${setting}/seed${seed}"
  [[ -f "$out/results/summary.json" ]] && return 0
  # shellcheck disable=SC2086
  python -m au.fit "$@" seed="$seed" ${settings[$setting]} logger=csv \
    experiment_name="011-${block}-${setting}" trainer.enable_progress_bar=false hydra.run.dir="$out"
}
for seed in 0 1 2; do
  for setting in s400 s800; do
    run posed "$seed" "$setting" data=synthetic_posed
    run wild "$seed" "$setting" data=synthetic_wild
    run emotion "$seed" "$setting" data=synthetic_posed task=emotion
    run videos "$seed" "$setting"
  done
done
for seed in 0 1 2; do
  for setting in s400 s800; do
    run intensity "$seed" "$setting" task=intensity
  done
done
