#!/usr/bin/env bash
# Model-size sweep on one GPU (docs/models.md, "GPU sweep"): several trainings side by side,
# each stopped by train.time_budget_min (the cosine LR horizon shrinks to the epochs that fit).
#
#   scripts/gpu_sweep.sh DATASETS RUNS [MINUTES]
#
# DATASETS holds ca-protein/ and martini3-lipids/ (scripts/build_model_datasets.py; the lipid
# one with its validation membranes); RUNS gets one folder per run (best.pt, last.pt,
# metrics.csv, log); EXTRA adds overrides to every run (a smoke test: EXTRA="train.max_train_frames=2"),
# ONLY="name ..." runs those alone; RUNS_FILE names the run list (default: scripts/gpu_sweep_runs.txt,
# the session-6 sweep; lines "name|recipe|overrides", # comments).
# Every run selects its best.pt on its validation split, never on adk/YiiP.
set -uo pipefail
D=${1:?datasets folder}; R=${2:?runs folder}; MIN=${3:-7}
LIST=${RUNS_FILE:-$(dirname "$0")/gpu_sweep_runs.txt}
[[ -f $LIST ]] || { echo "no run list $LIST" >&2; exit 2; }
mkdir -p "$R"
mapfile -t RUNS < <(grep -v '^[[:space:]]*\(#\|$\)' "$LIST")
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
