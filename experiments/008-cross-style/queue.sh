#!/usr/bin/env bash
# Experiment 008: does style randomization in training (data.augment.style) help a model trained
# on one rendering style read another? Train on the DISFA-like videos (RGB, 128 px renders) with
# style 0 and 0.5, then score each checkpoint on the posed stills (64 px gray, lab conditions) and
# the wild stills (48 px gray, all conditions): their validation subjects decide, their test
# subjects are scored once after. Usage: bash experiments/008-cross-style/queue.sh
# Runs land in logs/fit/multiruns/008-<setting>/seed<seed>/, evaluations in its evaluation/<regime>_<split>/.
set -euo pipefail
declare -A settings=([plain]="+data.augment.style=0.0" [style]="+data.augment.style=0.5")
for seed in 0 1; do
  for setting in plain style; do
    out="logs/fit/multiruns/008-${setting}/seed${seed}"
    if [[ ! -f "$out/results/summary.json" ]]; then
      # shellcheck disable=SC2086
      python -m au.fit data=synthetic seed="$seed" ${settings[$setting]} logger=csv \
        experiment_name="008-${setting}" trainer.enable_progress_bar=false hydra.run.dir="$out"
    fi
    for regime in synthetic_posed synthetic_wild; do
      for split in val test; do
        target="$out/evaluation/${regime}_${split}"
        [[ -f "$target/summary.json" ]] && continue
        python -m au.evaluate ckpt_path="$out/checkpoints/best.ckpt" data="$regime" \
          split="$split" plots=false hydra.run.dir="$target"
      done
    done
  done
done
