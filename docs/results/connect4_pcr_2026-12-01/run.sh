#!/usr/bin/env bash
# Issue 13: playout cap randomisation, do fast-search positions train the value head?
# Two arms of the Connect Four recipe trained at the same time on the same 2-core machine (so
# each had about one core for 30 minutes), identical but for selfplay.fast_search_values:
# a quarter of the moves searched with 64 simulations (policy targets), the rest with 16
# (KataGo's p = 0.25 and 600 / 100 ratio, scaled to the recipe's 32 simulations a move on
# average), resignation calibrated from the check games in both. Then each net at 200
# simulations against MCTS-1000 from 2 random plies, and the two nets against each other,
# 400 games each with paired openings. Run from the folder that holds runs/.
set -x
out=${OUT:-docs/results/connect4_pcr_2026-12-01}
P=${PONDER:-ponder}
mkdir -p $out
common="budget.minutes=30 arena.every_steps=0 search.simulations=64 selfplay.full_search_fraction=0.25 selfplay.fast_simulations=16 selfplay.resign_threshold=auto"
$P train connect4 name=c4_pcr_values $common selfplay.fast_search_values=true > $out/train_values.log 2>&1 &
$P train connect4 name=c4_pcr_novalues $common selfplay.fast_search_values=false > $out/train_novalues.log 2>&1 &
wait
for arm in values novalues; do
  $P match runs/c4_pcr_$arm@200 mcts:1000 --games 400 --openings 2 --batch 50 --record $out/match_$arm.jsonl > $out/match_$arm.txt 2>&1
done
$P match runs/c4_pcr_values@200 runs/c4_pcr_novalues@200 --games 400 --openings 2 --batch 50 --record $out/match_values_vs_novalues.jsonl > $out/match_values_vs_novalues.txt 2>&1
$P elo $out/*.jsonl --anchor mcts:1000=0 > $out/elo.txt 2>&1
