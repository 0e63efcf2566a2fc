#!/usr/bin/env bash
# Model-size sweep on one GPU (docs/models.md, "GPU sweep"): several trainings side by side,
# each stopped by train.time_budget_min (the cosine LR horizon shrinks to the epochs that fit).
#
#   scripts/gpu_sweep.sh DATASETS RUNS [MINUTES]
#
# DATASETS holds ca-protein/ and martini3-lipids/ (scripts/build_model_datasets.py; the lipid
# one with its validation membranes); RUNS gets one folder per run (best.pt, last.pt,
# metrics.csv, log); EXTRA adds overrides to every run (a smoke test: EXTRA="train.max_train_frames=2"),
# ONLY="name ..." runs those alone.
# Every run selects its best.pt on its validation split, never on adk/YiiP.
set -uo pipefail
D=${1:?datasets folder}; R=${2:?runs folder}; MIN=${3:-7}
mkdir -p "$R"
# name | recipe | overrides (model size; epochs is a ceiling, the budget decides)
RUNS=(
  "ca_w32|ca-protein|model.mul=32 model.latent_dim=128 model.num_layers=3 train.epochs=150"
  "ca_l2|ca-protein|model.lmax=2 model.num_layers=3 train.epochs=150"
  "ca_w32l2|ca-protein|model.mul=32 model.latent_dim=128 model.lmax=2 train.epochs=150"
  "lip_base|martini3-lipids|train.epochs=400"
  "lip_w32|martini3-lipids|model.mul=32 model.latent_dim=128 train.epochs=400"
  "lip_l2|martini3-lipids|model.lmax=2 train.epochs=400"
  "lip_w32c10|martini3-lipids|model.mul=32 model.latent_dim=128 model.cutoff=10.0 train.epochs=400"
)
pids=()
for spec in "${RUNS[@]}"; do
  IFS='|' read -r name recipe overrides <<<"$spec"
  [[ -n ${ONLY:-} && " $ONLY " != *" $name "* ]] && continue
  sets=(--set "train.dataset=$D/$recipe" --set "train.output=$R/$name" --set "train.time_budget_min=$MIN"
        --set train.num_threads=2 --set train.progress=false)
  for o in $overrides ${EXTRA:-}; do sets+=(--set "$o"); done
  mkdir -p "$R/$name"
  herobm train "configs/$recipe.yaml" --device auto "${sets[@]}" >"$R/$name/log" 2>&1 &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=$((fail + 1)); done
for spec in "${RUNS[@]}"; do
  name=${spec%%|*}
  [[ -d $R/$name ]] || continue
  echo "== $name: $(tail -n 4 "$R/$name/log" | tr '\n' ' ')"
done
echo "runs failed: $fail of ${#pids[@]}"
