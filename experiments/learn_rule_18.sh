#!/usr/bin/env bash
# Issue 18 from scratch: meta-train three rule families on tasks without notMNIST, tune the hand-made
# rules on notMNIST (tuning seed 100), then test everything on notMNIST seeds 5-9, which neither ever saw.
# Usage: experiments/learn_rule_18.sh [DATA] [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/notmnist}
OUT=${2:-runs/learn_rule_18}
SS=".venv/bin/synapse-sim"
S=scenarios

# 1. meta-training (never reads notMNIST): CMA-ES, 8 candidates per generation, one lifetime per task
$SS learn-rule momentum_search --budget 10000 --generations 6 --population 8 --out "$OUT/momentum_real"
$SS learn-rule tabular --budget 5000 --generations 10 --population 8 --out "$OUT/tabular"
# not run yet: learn-rule momentum_search_bit --budget 5000 --generations 6 --population 8 --out "$OUT/momentum_bit"
# (the shipped rule files learned_momentum_real and learned_tabular are these rule.toml files)

# 2. the hand-made rules, each tuned on notMNIST itself: one step-size grid of 4 values, seed 100,
#    10,000 loss evaluations, the value with the best mean held-out accuracy over the checks wins
.venv/bin/python experiments/tune_compare.py --data "$DATA" --evaluations 10000 --out "$OUT/tune_0hu" \
  $S/notmnist_0hu_keep_or_revert.toml:keep_or_revert.a=0.001,0.002,0.004,0.008 \
  $S/notmnist_0hu_spsa.toml:spsa.a=0.002,0.005,0.01,0.02 \
  "$S/notmnist_0hu_spsa.toml@spsa.broadcast=sign:spsa.a=0.0004,0.0008,0.0016,0.0032" \
  $S/notmnist_0hu_repeat_or_reverse.toml:synapse.alpha_s=0.0001,0.0003,0.001,0.003 \
  $S/notmnist_0hu.toml:synapse.alpha_s=0.0001,0.0003,0.001,0.003

# 3. the meta-test on seeds 5-9 (neither meta-training nor tuning saw them), each tuned rule at its chosen value
$SS compare "$S/notmnist_0hu_keep_or_revert.toml@rule=learned_momentum_real" \
  "$S/notmnist_0hu_keep_or_revert.toml@keep_or_revert.a=0.004" "$S/notmnist_0hu_spsa.toml@spsa.a=0.005" \
  "$S/notmnist_0hu_spsa.toml@spsa.broadcast=sign@spsa.a=0.0032" "$S/notmnist_0hu_repeat_or_reverse.toml@synapse.alpha_s=0.003" \
  "$S/notmnist_0hu.toml@synapse.alpha_s=0.003" \
  "$S/notmnist_0hu_node_perturbation.toml@node_perturbation.per_example=false@node_perturbation.eta=3" \
  --data "$DATA" --seed-list 5 6 7 8 9 --evaluations 10000 --check-every 500 --out "$OUT/0hu_10k"
$SS compare "$S/notmnist_0hu_keep_or_revert.toml@rule=learned_tabular" \
  --data "$DATA" --seed-list 5 6 7 8 9 --evaluations 10000 --check-every 500 --out "$OUT/0hu_10k_b"
$SS compare "$S/notmnist_0hu_keep_or_revert.toml@rule=learned_momentum_real" \
  --data "$DATA" --seed-list 5 6 7 8 9 --evaluations 40000 --check-every 500 --out "$OUT/0hu_40k"
# the issue's two rows still missing: keep-or-revert with the 1/5 success rule (k = 5/12; its start step tuned
# as above) and node perturbation with one scalar per example (eta = 0.1, issue 9's 0 HU tuning)
.venv/bin/python experiments/tune_compare.py --data "$DATA" --evaluations 10000 --out "$OUT/tune_0hu_one_fifth" \
  "$S/notmnist_0hu_keep_or_revert.toml@keep_or_revert.adapt_rate=0.4166666666666667:keep_or_revert.a=0.001,0.002,0.004,0.008"
$SS compare "$S/notmnist_0hu_keep_or_revert.toml@keep_or_revert.adapt_rate=0.4166666666666667@keep_or_revert.a=0.002" \
  "$S/notmnist_0hu_node_perturbation.toml" \
  --data "$DATA" --seed-list 5 6 7 8 9 --evaluations 10000 --check-every 500 --out "$OUT/0hu_10k_c" --processes 1
.venv/bin/python experiments/report_learn_rule.py "$OUT/0hu_10k" "$OUT/0hu_10k_b" "$OUT/0hu_10k_c" --out "$OUT/report_0hu"

# 4. 784-32-10: keep-or-revert's step tuned the same way at 32 HU (seed 100, 20,000 evaluations, issue 9's
#    32 HU tuning budget; SPSA's a = 0.005 comes from issue 9's), then the meta-test on seeds 5-9 at 100,000
.venv/bin/python experiments/tune_compare.py --data "$DATA" --evaluations 20000 --out "$OUT/tune_32hu" \
  $S/notmnist_32hu_keep_or_revert.toml:keep_or_revert.a=0.001,0.002,0.004,0.008
$SS compare "$S/notmnist_32hu_keep_or_revert.toml@rule=learned_momentum_real" \
  "$S/notmnist_32hu_keep_or_revert.toml@keep_or_revert.a=0.004" \
  --data "$DATA" --seed-list 5 6 7 8 9 --evaluations 100000 --check-every 500 --thresholds 0.8 0.85 0.88 0.9 \
  --out "$OUT/32hu_100k"
.venv/bin/python experiments/report_learn_rule.py "$OUT/32hu_100k" --out "$OUT/report_32hu" --thresholds 0.8 0.85 0.88 0.9 \
  --title "notMNIST 784-32-10: held-out accuracy per loss evaluation (seeds 5-9)"

# 5. the other tuned hand-made rules at 784-32-10, same seeds and budget: SPSA (a = 0.005) keeps issue 9's 32 HU
#    tuning by the same protocol; sign-SPSA's step tuned as in 4 (a = 0.0016 of 0.0008-0.0064). Run so far: SPSA
#    only (sign-SPSA and synaptic RL at alpha_s = 1e-3, halved at 60,000, were started and stopped for time:
#    add "$S/notmnist_32hu_spsa.toml@spsa.broadcast=sign@spsa.a=0.0016" and
#    "$S/notmnist_32hu.toml@synapse.alpha_s=0.001@synapse.alpha_s_schedule=[[60000, 0.0005]]" to the compare)
.venv/bin/python experiments/tune_compare.py --data "$DATA" --evaluations 20000 --out "$OUT/tune_32hu_sign" \
  "$S/notmnist_32hu_spsa.toml@spsa.broadcast=sign:spsa.a=0.0008,0.0016,0.0032,0.0064"
$SS compare "$S/notmnist_32hu_spsa.toml@spsa.a=0.005" \
  --data "$DATA" --seed-list 5 6 7 8 9 --evaluations 100000 --check-every 500 --thresholds 0.8 0.85 0.88 0.9 \
  --out "$OUT/32hu_100k_b" --processes 1  # reported with step 6's folder below

# 6. the learned tabular rule after its 10 generations (the shipped learned_tabular) on the meta-test seeds
$SS compare "$S/notmnist_0hu_keep_or_revert.toml@rule=learned_tabular" \
  --data "$DATA" --seed-list 5 6 7 8 9 --evaluations 10000 --check-every 500 --out "$OUT/0hu_10k_tabular"
$SS compare "$S/notmnist_32hu_keep_or_revert.toml@rule=learned_tabular" \
  --data "$DATA" --seed-list 5 6 7 8 9 --evaluations 100000 --check-every 500 --thresholds 0.8 0.85 0.88 0.9 \
  --out "$OUT/32hu_100k_tabular"
.venv/bin/python experiments/report_learn_rule.py "$OUT/32hu_100k" "$OUT/32hu_100k_b" "$OUT/32hu_100k_tabular" \
  --out "$OUT/report_32hu" --thresholds 0.8 0.85 0.88 0.9 --label learned_momentum "learned_momentum_real (real b)" \
  --label keep_or_revert.a=0.004 "keep-or-revert a=0.004 (1 bit)" --label spsa.a=0.005 "SPSA a=0.005 (real g)" \
  --label learned_tabular "learned_tabular (1 bit; 10 generations)" \
  --title "notMNIST 784-32-10: held-out accuracy per loss evaluation (seeds 5-9)"  # docs/learn_rule_32hu.png
