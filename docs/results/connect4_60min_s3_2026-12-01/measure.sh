#!/usr/bin/env bash
# Issue 13, the 60-minute Connect Four recipe trained again on today's code (commit ad520f7):
#   ponder train connect4 name=c4_60min_s3 budget.minutes=60
# then, from the folder that holds runs/ (RUN below), strength against MCTS-1000 (OpenSpiel's
# MCTSBot configuration: UCT c=2, one random rollout, solver on, no lookahead) from 2 random
# plies and from the empty board, 400 games each with paired openings, and the tactics set.
set -x
out=${OUT:-docs/results/connect4_60min_s3_2026-12-01}
P=${PONDER:-ponder}
R=${RUN:-runs/c4_60min_s3}
mkdir -p $out
$P match $R@200 mcts:1000 --games 400 --openings 2 --batch 50 --record $out/match_open2.jsonl > $out/match_open2.txt 2>&1
$P match $R@200 mcts:1000 --games 400 --openings 0 --batch 50 --record $out/match_open0.jsonl > $out/match_open0.txt 2>&1
$P elo $out/match_open2.jsonl $out/match_open0.jsonl --anchor mcts:1000=0 > $out/elo.txt 2>&1
$P tactics $R@2 $R@16 $R@200 $R@800 mcts:200 mcts:800 --positions 200 --proven 50 --json $out/tactics.jsonl > $out/tactics.txt 2>&1
$P curve $R --output $out/strength.png > $out/curve.txt 2>&1
$P match $R@800 mcts:1000 --games 400 --openings 2 --batch 50 --record $out/match_open2_net800.jsonl > $out/match_open2_net800.txt 2>&1
# The same net with PUCT instead of the run's Gumbel rule at test time (2026-12-01, commit 68bbe4c):
$P match $R@200:puct mcts:1000 --games 400 --openings 2 --batch 50 --record $out/match_open2_puct.jsonl > $out/match_open2_puct.txt 2>&1
$P match $R@200:puct mcts:1000 --games 400 --openings 0 --batch 50 --record $out/match_open0_puct.jsonl > $out/match_open0_puct.txt 2>&1
# Positions valued by the exact solver (2026-12-01, evening): 200 from random games at 12 plies
# or more where some move throws the value away and no one-move tactic decides, beside the
# 200 one-move tactics; the net with its Gumbel rule and with PUCT, and classic MCTS:
$P tactics $R@200 $R@800 $R@200:puct $R@800:puct mcts:200 mcts:800 mcts:1000 --positions 200 --proven 0 --solved 200 --solved-plies 12 --json $out/tactics_solved.jsonl > $out/tactics_solved.txt 2>&1
