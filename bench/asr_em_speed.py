"""GMM-HMM EM iteration time: speechlang's kernels beside hmmlearn's GMMHMM on the same features.

    .venv/bin/python bench/asr_em_speed.py FEAT_DIR [--utts 200 --states 8 --mix 4 --iters 3]

Both train the same model: an ergodic HMM with --states states, each a diagonal GMM with --mix
components, by Baum-Welch on the first --utts utterances of a speechlang feature dir (one
sequence per utterance). speechlang runs in this process (forward-backward and statistics in
numba, one thread); hmmlearn runs in .venv-bench (or $HMMLEARN_PYTHON) as a
separate process on the same arrays. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HMMLEARN = r"""
import json, sys, time, numpy as np
from hmmlearn.hmm import GMMHMM
z = np.load(sys.argv[1]); x, lengths = z["x"], z["lengths"]
s, m, iters = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
model = GMMHMM(n_components=s, n_mix=m, covariance_type="diag", n_iter=1, init_params="stmcw",
               params="stmcw", random_state=0)
model.fit(x, lengths)  # initialization (k-means) + one iteration, not timed
model.init_params = ""
times = []
for _ in range(iters):
    t = time.perf_counter(); model.fit(x, lengths); times.append(time.perf_counter() - t)
print(json.dumps({"sec_per_iter": float(np.median(times)), "loglik": float(model.score(x, lengths) / len(x))}))
"""


def ours(xs, states, mix, iters):
    from speechlang.accel import set_threads
    from speechlang.asr.gmm import GMMSet, GMMStats, reestimate
    from speechlang.asr.hmm import Graph, forward_backward

    set_threads(1)
    x_all = np.concatenate(xs)
    mean, var = x_all.mean(0), x_all.var(0)
    rng = np.random.default_rng(0)
    g_n = states * mix
    gmm = GMMSet(np.full(g_n, 1.0 / mix), mean + rng.normal(size=(g_n, len(mean))) * np.sqrt(var) * 0.5,
                 np.tile(var, (g_n, 1)), np.arange(0, g_n + 1, mix, dtype=np.int32))
    af, at = np.meshgrid(np.arange(states), np.arange(states), indexing="ij")
    trans = np.full((states, states), 1.0 / states)
    z = np.zeros(states, np.int32)

    def one_iter(gmm, trans):
        g = Graph(np.arange(states, dtype=np.int32), z, z, z, z, z, z, af.ravel().astype(np.int64),
                  at.ravel().astype(np.int64), np.log(trans).ravel(), np.full(states, -np.log(states)),
                  np.zeros(states))
        st = GMMStats(gmm)
        occ = np.zeros((states, states))
        for x in xs:
            emit = gmm.loglik(x)
            gamma, _ = forward_backward(emit, g)
            t_idx, s_idx = np.nonzero(gamma > 1e-4)
            st.add(x, t_idx, s_idx, gamma[t_idx, s_idx])
            occ += gamma[:-1].T @ gamma[1:]  # transition counts (approximation: no xi)
        new = reestimate(st, 1e-3 * var)
        trans = occ / occ.sum(1, keepdims=True)
        return new, trans, st.loglik / st.frames

    gmm, trans, _ = one_iter(gmm, trans)  # warm-up (JIT)
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        gmm, trans, ll = one_iter(gmm, trans)
        times.append(time.perf_counter() - t)
    return {"sec_per_iter": float(np.median(times)), "loglik": float(ll)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("feat_dir")
    ap.add_argument("--utts", type=int, default=200)
    ap.add_argument("--states", type=int, default=8)
    ap.add_argument("--mix", type=int, default=4)
    ap.add_argument("--iters", type=int, default=3)
    a = ap.parse_args()
    from speechlang.asr.featfile import read_feats
    feats = read_feats(a.feat_dir)
    xs = [feats[u].astype(np.float64) for u in feats.utts()[:a.utts]]
    frames = sum(len(x) for x in xs)
    rec = {"utts": len(xs), "frames": frames, "dim": xs[0].shape[1], "states": a.states, "mix": a.mix}
    rec["speechlang"] = ours(xs, a.states, a.mix, a.iters)
    py = os.environ.get("HMMLEARN_PYTHON", ".venv-bench/bin/python")
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(f"{tmp}/x.npz", x=np.concatenate(xs), lengths=np.array([len(x) for x in xs]))
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        out = subprocess.run([py, "-c", HMMLEARN, f"{tmp}/x.npz", str(a.states), str(a.mix), str(a.iters)],
                             capture_output=True, text=True, env=env)
        if out.returncode != 0:
            sys.exit(f"hmmlearn failed: {out.stderr.strip().splitlines()[-1:]}")
        rec["hmmlearn"] = json.loads(out.stdout.strip().splitlines()[-1])
    rec["speedup"] = round(rec["hmmlearn"]["sec_per_iter"] / rec["speechlang"]["sec_per_iter"], 2)
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
