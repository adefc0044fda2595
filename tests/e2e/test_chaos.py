"""A short crash loop (issue 14) on SQLite and PostgreSQL: `chaos.py`'s workload against a real
`writ serve`, SIGKILLed at random moments 5 times and restarted, with DESIGN section 5's
invariants, lost and duplicated changes checked after each restart and at the end, and the audit
chain verified. `scripts/chaos.sh N` runs the long loop; docs/reliability.md records a run of
1,000 iterations.

The seed is drawn at random (so the suite keeps exploring) and printed with any failure;
`WRIT_CHAOS_SEED` fixes it, and `scripts/chaos.sh 5 --seed S` replays the same schedule of kills
and choices (the interleaving with the server's own timing differs between runs).
"""

from __future__ import annotations

import os
import random

import pytest

from chaos import Chaos

ITERATIONS = 5


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_crash_loop(backend, tmp_path):
    seed = int(os.environ.get("WRIT_CHAOS_SEED") or random.SystemRandom().randrange(1, 2**31))
    summary = Chaos(backend, seed, tmp_path, verify_every=ITERATIONS, log=print).run(ITERATIONS)
    print("\n" + summary.text())
    assert summary.kills == ITERATIONS, summary.text()
    assert summary.ok, (
        f"crash loop failed on {backend} with seed {seed} "
        f"(replay: scripts/chaos.sh {ITERATIONS} --seed {seed}"
        f"{' --postgres $WRIT_TEST_POSTGRES_URL' if backend == 'postgres' else ''}):\n{summary.text()}")
