#!/usr/bin/env bash
# The rule comparison of the README, from scratch: tune every rule with the same budget on
# tuning seed 100, then compare on seeds 0-2. Usage: experiments/compare_rules.sh [DATA] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/notmnist}
OUT=${2:-runs/compare_rules}
PY=.venv/bin/python
S=scenarios

# 1. tuning: one step-size grid per rule, seed 100, the same budget of loss evaluations
$PY experiments/tune_compare.py --data "$DATA" --evaluations 10000 --out "$OUT/tune_0hu" \
  $S/notmnist_0hu.toml:synapse.alpha_s=0.0001,0.0003,0.001,0.003 \
  $S/notmnist_0hu_spsa.toml:spsa.a=0.002,0.005,0.01,0.02 \
  $S/notmnist_0hu_node_perturbation.toml:node_perturbation.eta=0.1,0.3,1,3 \
  "$S/notmnist_0hu_node_perturbation.toml@node_perturbation.per_example=false:node_perturbation.eta=0.1,0.3,1,3" \
  $S/notmnist_0hu_gd.toml:gradient.learning_rate=0.03,0.1,0.3,1
$PY experiments/tune_compare.py --data "$DATA" --evaluations 20000 --out "$OUT/tune_32hu" \
  $S/notmnist_32hu.toml:synapse.alpha_s=0.0001,0.0003,0.001 \
  $S/notmnist_32hu_spsa.toml:spsa.a=0.002,0.005,0.01 \
  $S/notmnist_32hu_node_perturbation.toml:node_perturbation.eta=0.1,0.3,1 \
  $S/notmnist_32hu_gd.toml:gradient.learning_rate=0.03,0.1,0.3
