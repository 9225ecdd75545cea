"""bench/soak.py's analysis: per-minute tables from logged series, and growth after warm-up."""

from __future__ import annotations

import numpy as np

from bench.soak import growth, per_minute


def test_each_minute_takes_its_last_value_and_growth_compares_end_to_warmup():
    # a worker logged every 20 s for 5 minutes: 1.0 GB, rising to 1.05 after the first minute
    series = {
        "rss_gb_worker": [(t, 1.0 if t < 60 else 1.0 + 0.0002 * t) for t in range(0, 300, 20)],
        "object_store_gb": [(t, 0.1) for t in range(0, 300, 60)],
    }
    minutes, table = per_minute(series)
    assert minutes.tolist() == [0, 1, 2, 3, 4]
    np.testing.assert_allclose(table["rss_gb_worker"], [1.0, 1.0 + 0.0002 * 100,
                                                        1.0 + 0.0002 * 160, 1.0 + 0.0002 * 220,
                                                        1.0 + 0.0002 * 280])  # fmt: skip
    assert table["object_store_gb"].tolist() == [0.1] * 5
    assert growth(table["rss_gb_worker"], warmup=0.2) == table["rss_gb_worker"][-1] / 1.02
    assert np.isnan(growth(np.array([1.0]), 0.2))
