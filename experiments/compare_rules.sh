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

# 2. the comparison on seeds 0-2, each rule at the value its tuning chose (tune_*/tuning.md);
#    synaptic RL and gradient descent keep their Table 1 scenario files and get the value by @key=value
.venv/bin/synapse-sim compare \
  "$S/notmnist_0hu.toml@synapse.alpha_s=0.003" \
  $S/notmnist_0hu_spsa.toml \
  $S/notmnist_0hu_node_perturbation.toml \
  "$S/notmnist_0hu_node_perturbation.toml@node_perturbation.per_example=false@node_perturbation.eta=3" \
  "$S/notmnist_0hu_gd.toml@gradient.learning_rate=0.03" \
  --data "$DATA" --seeds 3 --evaluations 10000 --out "$OUT/0hu"
.venv/bin/synapse-sim compare \
  "$S/notmnist_32hu.toml@synapse.alpha_s=0.001@synapse.alpha_s_schedule=[[60000, 0.0005]]" \
  $S/notmnist_32hu_spsa.toml \
  $S/notmnist_32hu_node_perturbation.toml \
  $S/notmnist_32hu_gd.toml \
  --data "$DATA" --seeds 3 --evaluations 100000 --out "$OUT/32hu"
.venv/bin/synapse-sim compare $S/decision_boundary_adaptive.toml $S/decision_boundary_spsa.toml \
  $S/decision_boundary_node_perturbation.toml --seeds 5 --evaluations 10000 --check-every 100 --thresholds 0.9 0.95 \
  --out "$OUT/boundary"

# 3. 32 HU, a second tuning round (docs/results.md, "A second round: the minibatch regime"): every rule that
#    draws minibatches tries redrawing every 100 and every 5,000 steps at its round-1 step size; SPSA and
#    node perturbation chose 100, synaptic RL 5,000; then the comparison again with those choices
$PY experiments/tune_compare.py --data "$DATA" --evaluations 20000 --out "$OUT/tune_32hu_batch" \
  "$S/notmnist_32hu.toml@synapse.alpha_s=0.001@synapse.alpha_s_schedule=[[60000, 0.0005]]:task.batch_interval=100,5000" \
  "$S/notmnist_32hu_spsa.toml@spsa.a=0.005:task.batch_interval=100,5000" \
  "$S/notmnist_32hu_node_perturbation.toml@node_perturbation.eta=0.3:task.batch_interval=100,5000"
.venv/bin/synapse-sim compare \
  "$S/notmnist_32hu.toml@synapse.alpha_s=0.001@synapse.alpha_s_schedule=[[60000, 0.0005]]" \
  "$S/notmnist_32hu_spsa.toml@task.batch_interval=100" \
  "$S/notmnist_32hu_node_perturbation.toml@task.batch_interval=100" \
  $S/notmnist_32hu_gd.toml \
  --data "$DATA" --seeds 3 --evaluations 100000 --thresholds 0.85 0.88 0.89 0.9 --out "$OUT/32hu_batch"

# 4. 32 HU, a third round: a tenfold step cut at half the tuning budget, or none (docs/results.md, "A third
#    round: a step cut"); SPSA and synaptic RL chose none, node perturbation the cut
$PY experiments/tune_compare.py --data "$DATA" --evaluations 20000 --out "$OUT/tune_32hu_cut" \
  "$S/notmnist_32hu.toml@synapse.alpha_s=0.001:synapse.alpha_s_schedule=[[60000, 0.0005]],[[10000, 0.0001]]" \
  "$S/notmnist_32hu_spsa.toml@spsa.a=0.005@task.batch_interval=100:spsa.a_schedule=[],[[5001, 0.0005]]" \
  "$S/notmnist_32hu_node_perturbation.toml@node_perturbation.eta=0.3@task.batch_interval=100:node_perturbation.eta_schedule=[],[[5001, 0.03]]"
