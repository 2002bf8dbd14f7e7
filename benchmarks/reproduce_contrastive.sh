#!/usr/bin/env bash
# Reproduction cells of the contrastive-methods issue, cheapest first, each with the shipped
# (paper) configuration and protocol. Usage: benchmarks/reproduce_contrastive.sh [OUTDIR]
# (GRAPHSSL_MIRROR selects offline data; GRAPHSSL overrides the command).
set -euo pipefail
out=${1:-benchmarks/results/contrastive}
cmd=${GRAPHSSL:-graphssl}
mkdir -p "$out"
for spec in graphcl:MUTAG infograph:MUTAG mvgrl-graph:MUTAG cca-ssg:Cora graphcl:IMDB-BINARY \
            infograph:IMDB-BINARY mvgrl-graph:IMDB-BINARY cca-ssg:CiteSeer mvgrl:Cora \
            graphcl:PROTEINS mvgrl-graph:IMDB-MULTI \
            infograph:PROTEINS mvgrl:CiteSeer graphcl:IMDB-MULTI infograph:IMDB-MULTI \
            graphcl:NCI1 infograph:NCI1 bgrl:Cora bgrl:CiteSeer cca-ssg:Amazon-Photo \
            gca:Amazon-Photo bgrl:Amazon-Photo; do
  method=${spec%%:*}; dataset=${spec##*:}
  name=$(echo "${method}_${dataset}" | tr 'A-Z' 'a-z')
  $cmd pretrain --method "$method" --dataset "$dataset" --quiet --out "$out/$name.json" \
    2>&1 | tee "$out/$name.log"
done
