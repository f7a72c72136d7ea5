#!/usr/bin/env bash
# Experiment 006: run a list of (regime, setting, seed) jobs one after another.
# Usage: bash experiments/006-defaults-by-regime/queue.sh JOBS_FILE
#   each line of JOBS_FILE: REGIME SETTING SEED   (settings as in grid.sh / grid_emotion.sh)
# Runs land in logs/fit/multiruns/006-<regime>-<setting>/seed<seed>/, where collect.py reads them.
set -euo pipefail
declare -A settings=(
  [cosine]="schedule.ema_decay=null"
  [cosine_ema]="schedule.ema_decay=0.99 schedule.ema_warmup=true"
  [constant]="schedule.ema_decay=null schedule.stage2_lr_decay=none"
  [cosine_ema_nowarmup]="schedule.ema_decay=0.99 schedule.ema_warmup=false"
  [emotion_plain]="task=emotion schedule.ema_decay=null"
  [emotion_balanced_ls]="task=emotion schedule.ema_decay=null task.class_balanced=true task.label_smoothing=0.1"
  [emotion_plain_48px]="task=emotion schedule.ema_decay=null data.image_size=48"
)
while read -r regime setting seed; do
  [[ -z "$regime" || "$regime" == \#* ]] && continue
  out="logs/fit/multiruns/006-${regime}-${setting}/seed${seed}"
  [[ -f "$out/results/summary.json" ]] && continue  # done already
  # shellcheck disable=SC2086
  python -m au.fit data="$regime" seed="$seed" ${settings[$setting]} logger=csv \
    trainer.enable_progress_bar=false hydra.run.dir="$out"
done < "$1"
