#!/usr/bin/env bash
# Recipe of the shipped models (docs/models.md), from nothing to src/herobm/models/data/*.pt.
# Measured on 2 CPU cores, 1 thread per training: corpus ~13 min, lipid membranes ~25-31 min,
# validation membranes ~35-38 min (17-19 min per system on one core); martini3-protein ~93 min beside
# ca-protein 4 x ~23-33 min (an ensemble of five seeds); the two martini3-lipids networks side by side
# 68 min, then both fine-tuned on the nanosecond membranes ~41 min side by side;
# the fifth ca-protein network ~23 min beside example-ligand ~7 min; the five ca-protein networks' second stage
# (experimental structures only, 30 epochs) ~6-7 min each, two side by side (docs/models.md).
# Needs RDKit for the ligand conformers and a GPU for the nanosecond membranes.
set -euo pipefail
W=${1:-work}
mkdir -p "$W"
herobm dataset corpus -o "$W/corpus" --peptides 60 --seed 0
python scripts/make_lipid_structures.py -o "$W/lipids"
# the lipid validation split: an independent run (other lipids converted, 16 ps equilibration)
python scripts/make_lipid_structures.py -o "$W/lipids-val" --seed 7 --equil-ps 16 --frames 2 --interval-ps 4
# nanosecond membranes for the lipid model's second stage: CHARMM36 MD, needs a GPU (make_lipid_structures.py
# takes CUDA when it works). Session 14 ran them in two batches of five side by side on one NVIDIA H200, ~6 min
# per batch (400-590 MD steps/s each); on this machine's CPU (~1.2 ps per minute per core) they would take days.
while read -r out args; do  # name, then the options of that membrane; all side by side
  python scripts/make_lipid_structures.py -o "$W/lipids-ns/$out" --interval-ps 100 $args &
done <<'RUNS'
train_pg21 --systems popg_pope --seed 21 --equil-ps 200 --frames 6
train_pg22 --systems popg_pope --seed 22 --equil-ps 200 --frames 8 --popg-rotamer random
train_ch21 --systems chl1_popc --seed 21 --equil-ps 200 --frames 5
val_pg7 --systems popg_pope --seed 7 --equil-ps 200 --frames 6
val_ch7 --systems chl1_popc --seed 7 --equil-ps 200 --frames 4
train_pg23 --systems popg_pope --seed 23 --equil-ps 150 --frames 5
train_pg24 --systems popg_pope --seed 24 --equil-ps 150 --frames 5 --popg-rotamer random
train_pg25 --systems popg_pope --seed 25 --equil-ps 150 --frames 5
train_ch22 --systems chl1_popc --seed 22 --equil-ps 150 --frames 4
train_ch23 --systems chl1_popc --seed 23 --equil-ps 150 --frames 4
RUNS
wait
python scripts/make_ligand_conformers.py -o "$W/ligand" --n 300
python scripts/build_model_datasets.py --corpus "$W/corpus" --lipids "$W/lipids" --lipids-val "$W/lipids-val" --ligand "$W/ligand" -o "$W/datasets"
N=$W/lipids-ns
python scripts/build_model_datasets.py --corpus "$W/corpus" --only martini3-lipids \
    --lipids "$N"/train_pg2{1,2,3,4,5} "$N"/train_ch2{1,2,3} --lipids-val "$N/val_pg7" "$N/val_ch7" -o "$W/datasets-ns"
train() {  # MODEL RUN [--set ...]: one training on 1 thread
  local m=$1 run=$2; shift 2
  herobm train configs/$m.yaml --set train.dataset="$W/datasets/$m" --set train.output="$W/runs/$run" "$@"
}
# two at a time on 2 cores: martini3-protein beside four of the five ca-protein networks (seeds 0-3,
# one after another); then the two martini3-lipids networks and their second stage; then the fifth
# ca-protein network beside example-ligand
train martini3-protein martini3-protein &
train ca-protein ca-protein && for s in 1 2 3; do train ca-protein ca-protein-seed$s --set train.seed=$s; done
wait
train martini3-lipids martini3-lipids &
train martini3-lipids martini3-lipids-seed1 --set train.seed=1
wait
# second stage: each lipid network fine-tuned on OpenMM's patches plus the nanosecond membranes (~41 min, side by
# side) at a quarter of the first stage's peak lr
for s in 0 1; do
  base=martini3-lipids; [[ $s == 1 ]] && base=martini3-lipids-seed1
  herobm train configs/martini3-lipids.yaml --set train.dataset="$W/datasets-ns/martini3-lipids" \
      --set train.output="$W/runs/martini3-lipids-ns$s" --set train.init_from="$W/runs/$base/best.pt" --set train.seed=$s \
      --set train.lr=5e-4 --set train.epochs=13 --set train.warmup_steps=50 &
done
wait
train ca-protein ca-protein-seed4 --set train.seed=4 &
train example-ligand example-ligand
wait
# the Cα model's second stage: each network fine-tuned on the experimental structures alone (datasets/ca-protein-xray,
# configs/ca-protein-xray.yaml: 30 epochs, ~6-7 min per network, two side by side)
for s in 0 1 2 3 4; do
  base=ca-protein; [[ $s != 0 ]] && base=ca-protein-seed$s
  train ca-protein-xray ca-protein-xray$s --set train.init_from="$W/runs/$base/best.pt" --set train.seed=$s &
  if [[ $s == 1 || $s == 3 ]]; then wait; fi  # two at a time
done
wait
declare -A DESC=(  # what `herobm models` says of each
  [martini3-protein]="Martini 3 proteins (martinize2 / herobm map CG) -> heavy atoms (mapping set 'martini3'); the default model"
  [ca-protein]="Cα traces -> all heavy atoms of proteins (mapping set 'ca'); an ensemble of 5 networks (seeds 0-4), each fine-tuned on experimental structures, outputs averaged; backmap relaxes the backbone (Cα held) by default"
  [martini3-lipids]="Martini 3 lipids and cholesterol -> heavy atoms (mapping set 'martini3'); an ensemble of 2 networks (seeds 0, 1), outputs averaged"
  [example-ligand]="Example ligand: (S)-ibuprofen (residue IBP, mapping set 'example'), trained on 91 RDKit/MMFF94 conformers")
for m in martini3-protein ca-protein martini3-lipids example-ligand; do
  extra=()  # ca-protein: 5 networks (after their second stage) averaged; no model asks for backbone optimisation
  run=$m data="$W/datasets/$m" hw="2 CPU cores"
  if [[ $m == ca-protein ]]; then
    run=ca-protein-xray0  # bead types: of the first stage's dataset (data), which has them all
    for s in 1 2 3 4; do extra+=(--member "$W/runs/ca-protein-xray$s/best.pt"); done
  fi
  [[ $m == martini3-lipids ]] && run=martini3-lipids-ns0 data="$W/datasets-ns/$m" \
      hw="2 CPU cores (training); the second stage's nanosecond membranes simulated on a GPU" \
      extra=(--member "$W/runs/martini3-lipids-ns1/best.pt")  # 2 networks (after two stages) averaged
  python scripts/ship_model.py $m "$W/runs/$run/best.pt" --dataset "$data" --hardware "$hw" --description "${DESC[$m]}" \
      --recipe "scripts/train_shipped_models.sh; configs/$m.yaml" "${extra[@]}"
done
