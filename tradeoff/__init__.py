"""Strength against compute: training curves now; ratings, sweeps and fits build on them."""
