#!/usr/bin/env bash
# Reproduce the foundation issue's table: GRACE (20 random 10/10/80 splits) and DGI (public
# split, 10 seeds) on Cora and CiteSeer, each with its paper protocol and tuned configuration.
# Usage: benchmarks/reproduce_foundation.sh [OUTDIR]   (GRAPHSSL_MIRROR selects offline data;
#        GRAPHSSL overrides the command, e.g. GRAPHSSL="python -m graphssl.cli")
set -euo pipefail
out=${1:-benchmarks/results/foundation}
cmd=${GRAPHSSL:-graphssl}
mkdir -p "$out"
for spec in dgi:Cora dgi:CiteSeer grace:Cora grace:CiteSeer; do
  method=${spec%%:*}; dataset=${spec##*:}
  name=$(echo "${method}_${dataset}" | tr 'A-Z' 'a-z')
  $cmd pretrain --method "$method" --dataset "$dataset" --quiet --out "$out/$name.json" \
    2>&1 | tee "$out/$name.log"
done
