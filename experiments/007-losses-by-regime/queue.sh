#!/usr/bin/env bash
# Experiment 007: the loss comparison (BCE, P·R as eq. (6) writes it, P·R averaged per AU, LSEP)
# and the stage-2 rate (cosine vs constant) on the three synthetic regimes, at the defaults of
# experiment 006. Runs a list of (regime, setting, seed) jobs one after another.
# Usage: bash experiments/007-losses-by-regime/queue.sh experiments/007-losses-by-regime/jobs.txt
#   each line of the jobs file: REGIME SETTING SEED
# Runs land in logs/fit/multiruns/007-<regime>-<setting>/seed<seed>/, where collect.py reads them.
set -euo pipefail
declare -A settings=(
  [bce]="experiment=bce"
  [pr]="experiment=pr"
  [pr_macro]="experiment=pr model.loss.average=macro experiment_name=pr_macro"
  [lsep]="experiment=lsep"
  [constant]="schedule.stage2_lr_decay=none experiment_name=bce_constant"
)
while read -r regime setting seed; do
  [[ -z "$regime" || "$regime" == \#* ]] && continue
  out="logs/fit/multiruns/007-${regime}-${setting}/seed${seed}"
  [[ -f "$out/results/summary.json" ]] && continue  # done already
  # shellcheck disable=SC2086
  python -m au.fit data="$regime" seed="$seed" ${settings[$setting]} logger=csv \
    trainer.enable_progress_bar=false hydra.run.dir="$out"
done < "$1"
