#!/usr/bin/env bash
# Experiment 009: which rendering style gives a detector that reads both renderings: the flat
# renderer, relief shading (data.synthetic.shading=relief: a face height map lit in 3D) or a
# per-frame blend of the two (mixed)? Train on the DISFA-like videos in each shading, then score
# each checkpoint on the videos, the posed stills and the wild stills of the flat AND the relief
# renderer (same subjects, labels and nuisances; only the shading differs): validation subjects
# decide, test subjects are scored once after.
# Usage: bash experiments/009-relief-shading/queue.sh [SHADING ...]   (default: flat relief)
# Runs land in logs/fit/multiruns/009-<shading>/seed<seed>/, evaluations in its
# evaluation/<data>-<shading>_<split>/.
set -euo pipefail
if [[ $# -gt 0 ]]; then trained=("$@"); else trained=(flat relief); fi
for seed in 0 1; do
  for shading in "${trained[@]}"; do
    out="logs/fit/multiruns/009-${shading}/seed${seed}"
    if [[ ! -f "$out/results/summary.json" ]]; then
      python -m au.fit data=synthetic data.synthetic.shading="$shading" seed="$seed" logger=csv \
        experiment_name="009-${shading}" trainer.enable_progress_bar=false hydra.run.dir="$out"
    fi
    for data in synthetic synthetic_posed synthetic_wild; do
      for target in flat relief; do
        for split in val test; do
          [[ "$data" == synthetic && "$target" == "$shading" ]] && continue  # the fit's own
          dest="$out/evaluation/${data}-${target}_${split}"
          [[ -f "$dest/summary.json" ]] && continue
          python -m au.evaluate ckpt_path="$out/checkpoints/best.ckpt" data="$data" \
            data.synthetic.shading="$target" split="$split" plots=false hydra.run.dir="$dest"
        done
      done
    done
  done
done
