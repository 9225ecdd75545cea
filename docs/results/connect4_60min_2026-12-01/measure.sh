#!/usr/bin/env bash
# Issue 13 measurements on the 60-minute run: strength against MCTS-1000, solver on and off,
# c_init, tactics; every output lands in this folder. Run from the repository root after
# `ponder train connect4 name=c4_solver budget.minutes=60`.
set -x
cd "$(dirname "$0")/../../.."
export NUMBA_CACHE_DIR=$PWD/.cache/numba PYTHONHASHSEED=0 RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 RAY_USAGE_STATS_ENABLED=0
out=docs/results/connect4_60min_2026-12-01
mkdir -p $out
P=.venv/bin/ponder
R=runs/c4_solver
$P match $R@200 mcts:1000 --games 400 --openings 2 --batch 50 --record $out/match_open2.jsonl > $out/match_open2.txt 2>&1
$P match $R@200 mcts:1000 --games 400 --openings 0 --batch 50 --record $out/match_open0.jsonl > $out/match_open0.txt 2>&1
$P match $R@200,puct.solve=false mcts:1000,uct.solve=false --games 400 --openings 2 --batch 50 --record $out/match_open2_nosolve.jsonl > $out/match_open2_nosolve.txt 2>&1
$P match $R@200 mcts:1000,uct.solve=false --games 400 --openings 2 --batch 50 --record $out/match_open2_vs_plain_mcts.jsonl > $out/match_open2_vs_plain_mcts.txt 2>&1
$P match $R@200,puct.c_init=2.5 mcts:1000 --games 400 --openings 2 --batch 50 --record $out/match_open2_cinit25.jsonl > $out/match_open2_cinit25.txt 2>&1
$P match $R@200 $R@200,puct.solve=false --games 200 --openings 2 --batch 50 --record $out/match_solve_vs_nosolve.jsonl > $out/match_solve_vs_nosolve.txt 2>&1
$P match $R@200 mcts:1000,uct.solve=false --games 400 --openings 0 --batch 50 --record $out/match_open0_vs_plain_mcts.jsonl > $out/match_open0_vs_plain_mcts.txt 2>&1
$P match $R@200 mcts:1000,uct.root_lookahead=0,uct.node_lookahead=0 --games 400 --openings 2 --batch 50 --record $out/match_open2_vs_openspiel_solver.jsonl > $out/match_open2_vs_openspiel_solver.txt 2>&1
$P match $R@200 mcts:1000,uct.root_lookahead=0,uct.node_lookahead=0 --games 400 --openings 0 --batch 50 --record $out/match_open0_vs_openspiel_solver.jsonl > $out/match_open0_vs_openspiel_solver.txt 2>&1
$P elo $out/*.jsonl --anchor mcts:1000=0 > $out/elo.txt 2>&1
$P tactics $R@16 $R@32 $R@64 $R@200 $R@800 $R@16,puct.solve=false $R@200,puct.solve=false $R@800,puct.solve=false mcts:200 mcts:800 mcts:200,uct.solve=false mcts:800,uct.solve=false --positions 200 --proven 20 --json $out/tactics.jsonl > $out/tactics.txt 2>&1
$P curve $R --output $out/strength.png > $out/curve.txt 2>&1
