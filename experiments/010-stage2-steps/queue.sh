#!/usr/bin/env bash
# Experiment 010: does a stage 2 of at least 400 optimizer steps (schedule.stage2_min_steps=400)
# help the small regimes, whose 6 stage-2 epochs hold few steps (posed stills: about 15 steps per
# epoch, wild stills: about 35)? The DISFA-like videos (69 steps per epoch) are unchanged by it.
# Validation subjects decide; test subjects are scored once after.
# Usage: bash experiments/010-stage2-steps/queue.sh
# Runs land in logs/fit/multiruns/010-<block>-<setting>/seed<seed>/.
set -euo pipefail
declare -A settings=([epochs]="schedule.stage2_min_steps=null" [steps]="schedule.stage2_min_steps=400")
run() {  # block seed setting overrides...
  local block=$1 seed=$2 setting=$3; shift 3
  local out="logs/fit/multiruns/010-${block}-${setting}/seed${seed}"
  [[ -f "$out/results/summary.json" ]] && return 0
  # shellcheck disable=SC2086
  python -m au.fit "$@" seed="$seed" ${settings[$setting]} logger=csv \
    experiment_name="010-${block}-${setting}" trainer.enable_progress_bar=false hydra.run.dir="$out"
}
for seed in 0 1; do
  for setting in epochs steps; do
    run posed "$seed" "$setting" data=synthetic_posed
    run wild "$seed" "$setting" data=synthetic_wild
    run emotion "$seed" "$setting" data=synthetic_posed task=emotion
  done
done
for setting in epochs steps; do
  run posed 2 "$setting" data=synthetic_posed
done
for setting in epochs steps; do
  run wild 2 "$setting" data=synthetic_wild
  run emotion 2 "$setting" data=synthetic_posed task=emotion
done
