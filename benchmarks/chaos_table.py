"""A proxy of issue 16's held-out table, made here without a download or optional packages:
chaotic dynamical systems integrated with scipy, cut into windows, each window a row
of catch22-kind features (benchmarks/ts_features.py, 24 per coordinate) of its 3
coordinates: 72 columns with the heavy tails such tables have.  Label = the system
(a system with other parameters is another class, as in dysts' list).

Each system is integrated once (scipy's LSODA) from a fixed start; after a transient
it is sampled at ``--points-per-period`` points per dominant period (estimated from a
pilot run's spectrum, as dysts does with its stored periods), then cut into
``--windows`` windows of ``--length`` points.  Written as NPZ: ``summary`` [N, 72],
``summary/column_names``, ``labels`` [N], ``systems`` [S].

    python benchmarks/chaos_table.py --out benchmarks/out/chaos.npz     # 4,620 rows, ~6 min CPU
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ts_features import NAMES, series_features  # noqa: E402


def _lorenz(s, r, b):
    return lambda t, v: [s * (v[1] - v[0]), v[0] * (r - v[2]) - v[1], v[0] * v[1] - b * v[2]]


def _rossler(a, b, c):
    return lambda t, v: [-v[1] - v[2], v[0] + a * v[1], b + v[2] * (v[0] - c)]


def _chen(a, b, c):
    return lambda t, v: [a * (v[1] - v[0]), (c - a) * v[0] - v[0] * v[2] + c * v[1], v[0] * v[1] - b * v[2]]


def _lu(a, b, c):
    return lambda t, v: [a * (v[1] - v[0]), -v[0] * v[2] + c * v[1], v[0] * v[1] - b * v[2]]


def _thomas(b):
    return lambda t, v: [np.sin(v[1]) - b * v[0], np.sin(v[2]) - b * v[1], np.sin(v[0]) - b * v[2]]


def _duffing(delta, alpha, beta, gamma, omega):   # forced: the phase is the third coordinate
    return lambda t, v: [v[1], -delta * v[1] - alpha * v[0] - beta * v[0] ** 3 + gamma * np.cos(v[2]), omega]


def _vanderpol(mu, a, omega):
    return lambda t, v: [v[1], mu * (1 - v[0] ** 2) * v[1] - v[0] + a * np.sin(v[2]), omega]


def _halvorsen(a):
    return lambda t, v: [-a * v[0] - 4 * v[1] - 4 * v[2] - v[1] ** 2, -a * v[1] - 4 * v[2] - 4 * v[0] - v[2] ** 2,
                         -a * v[2] - 4 * v[0] - 4 * v[1] - v[0] ** 2]


def _aizawa(a=0.95, b=0.7, c=0.6, d=3.5, e=0.25, f=0.1):
    return lambda t, v: [(v[2] - b) * v[0] - d * v[1], d * v[0] + (v[2] - b) * v[1],
                         c + a * v[2] - v[2] ** 3 / 3 - (v[0] ** 2 + v[1] ** 2) * (1 + e * v[2])
                         + f * v[2] * v[0] ** 3]


def _rabinovich(a, g):
    return lambda t, v: [v[1] * (v[2] - 1 + v[0] ** 2) + g * v[0], v[0] * (3 * v[2] + 1 - v[0] ** 2) + g * v[1],
                         -2 * v[2] * (a + v[0] * v[1])]


def _chua(alpha, beta, m0=-8 / 7, m1=-5 / 7):
    def h(x):
        return m1 * x + 0.5 * (m0 - m1) * (abs(x + 1) - abs(x - 1))
    return lambda t, v: [alpha * (v[1] - v[0] - h(v[0])), v[0] - v[1] + v[2], -beta * v[1]]


def _arneodo(a, b, c):
    return lambda t, v: [v[1], v[2], -a * v[0] - b * v[1] - v[2] + c * v[0] ** 3]


def _sprott_a():
    return lambda t, v: [v[1], -v[0] + v[1] * v[2], 1 - v[1] ** 2]


def _sprott_b():
    return lambda t, v: [v[1] * v[2], v[0] - v[1], 1 - v[0] * v[1]]


def _sprott_d():
    return lambda t, v: [-v[1], v[0] + v[2], v[0] * v[2] + 3 * v[1] ** 2]


def _sprott_j():
    return lambda t, v: [2 * v[2], -2 * v[1] + v[2], -v[0] + v[1] + v[1] ** 2]


def _rucklidge(k, lam):
    return lambda t, v: [-k * v[0] + lam * v[1] - v[1] * v[2], v[0], -v[2] + v[1] ** 2]


def _shimizu(a, b):
    return lambda t, v: [v[1], v[0] - a * v[1] - v[0] * v[2], -b * v[2] + v[0] ** 2]


def _hindmarsh_rose(i_ext, r=0.006):     # a bursting neuron: spikes give heavy tails
    return lambda t, v: [v[1] - v[0] ** 3 + 3 * v[0] ** 2 - v[2] + i_ext, 1 - 5 * v[0] ** 2 - v[1],
                         r * (4 * (v[0] + 1.6) - v[2])]


def _dadras(a=3, b=2.7, c=1.7, d=2, e=9):
    return lambda t, v: [v[1] - a * v[0] + b * v[1] * v[2], c * v[1] - v[0] * v[2] + v[2], d * v[0] * v[1] - e * v[2]]


def _finance(a, b, c):
    return lambda t, v: [v[2] + (v[1] - a) * v[0], 1 - b * v[1] - v[0] ** 2, -v[0] - c * v[2]]


def _moore_spiegel(t_, r):
    return lambda t, v: [v[1], v[2], -v[2] - (t_ - r + r * v[0] ** 2) * v[1] - t_ * v[0]]


def _lorenz84(a=0.25, b=4.0, f=8.0, g=1.0):
    return lambda t, v: [-a * v[0] - v[1] ** 2 - v[2] ** 2 + a * f, -v[1] + v[0] * v[1] - b * v[0] * v[2] + g,
                         -v[2] + b * v[0] * v[1] + v[0] * v[2]]


def _genesio(a=0.44, b=1.1, c=1.0):
    return lambda t, v: [v[1], v[2], -c * v[0] - b * v[1] - a * v[2] + v[0] ** 2]


def _burke_shaw(s=10.0, v0=4.272):
    return lambda t, v: [-s * (v[0] + v[1]), -v[1] - s * v[0] * v[2], s * v[0] * v[1] + v0]


def _nose_hoover(a):
    return lambda t, v: [v[1], -v[0] + v[1] * v[2], a - v[1] ** 2]


SYSTEMS = {
    "lorenz": (_lorenz(10, 28, 8 / 3), [1, 1, 1]),
    "lorenz_rho45": (_lorenz(10, 45, 8 / 3), [1, 1, 1]),
    "lorenz_rho99": (_lorenz(10, 99.96, 8 / 3), [1, 1, 1]),
    "rossler": (_rossler(0.2, 0.2, 5.7), [1, 1, 1]),
    "rossler_c9": (_rossler(0.2, 0.2, 9.0), [1, 1, 1]),
    "rossler_c13": (_rossler(0.1, 0.1, 14.0), [1, 1, 1]),
    "chen": (_chen(35, 3, 28), [-10, 0, 37]),
    "lu": (_lu(36, 3, 20), [1, 1, 1]),
    "thomas": (_thomas(0.208186), [0.1, 0, -0.1]),
    "thomas_b018": (_thomas(0.18), [0.1, 0, -0.1]),
    "duffing": (_duffing(0.3, -1, 1, 0.5, 1.2), [0.1, 0, 0]),
    "duffing_ueda": (_duffing(0.05, 0, 1, 7.5, 1.0), [0.1, 0, 0]),
    "vanderpol_forced": (_vanderpol(8.53, 1.2, 0.63), [0.1, 0, 0]),
    "halvorsen": (_halvorsen(1.89), [-1.48, -1.51, 2.04]),
    "aizawa": (_aizawa(), [0.1, 0, 0]),
    "rabinovich_fabrikant": (_rabinovich(0.14, 0.1), [-1, 0, 0.5]),
    "chua": (_chua(15.6, 28.0), [0.7, 0, 0]),
    "arneodo": (_arneodo(-5.5, 3.5, -1.0), [0.2, 0.2, 0.2]),
    "sprott_a": (_sprott_a(), [0, 5, 0]),
    "sprott_b": (_sprott_b(), [0.05, 0.05, 0.05]),
    "sprott_d": (_sprott_d(), [0.1, 0.1, 0.1]),
    "sprott_j": (_sprott_j(), [2, 0, 0]),
    "rucklidge": (_rucklidge(2.0, 6.7), [1, 0, 4.5]),
    "shimizu_morioka": (_shimizu(0.75, 0.45), [0.1, 0, 0]),
    "hindmarsh_rose": (_hindmarsh_rose(3.25), [-1.3, -7.3, 3.4]),
    "hindmarsh_rose_i2": (_hindmarsh_rose(2.0), [-1.3, -7.3, 3.4]),
    "dadras": (_dadras(), [1.1, 2.1, -2.0]),
    "finance": (_finance(0.001, 0.2, 1.1), [0.1, 4, 0.5]),
    "moore_spiegel": (_moore_spiegel(6.0, 20.0), [0.1, 0, 0]),
    "lorenz84": (_lorenz84(), [1, 1, 1]),
    "genesio_tesi": (_genesio(), [0.1, 0.1, 0.1]),
    "burke_shaw": (_burke_shaw(), [0.6, 0, 0]),
    "nose_hoover": (_nose_hoover(1.0), [0, 5, 0]),
}


def _integrate(f, y0, t_end, dt) -> np.ndarray | None:
    t = np.arange(0.0, t_end, dt)
    sol = solve_ivp(f, (0.0, t[-1]), y0, method="LSODA", t_eval=t, rtol=1e-7, atol=1e-9)
    if not sol.success or not np.isfinite(sol.y).all() or np.abs(sol.y).max() > 1e6:
        return None
    return sol.y.T


def system_rows(name: str, windows: int, length: int, ppp: int) -> np.ndarray | None:
    f, y0 = SYSTEMS[name]
    pilot = _integrate(f, y0, 400.0, 0.01)
    if pilot is None:
        return None
    seg = pilot[len(pilot) // 2:]
    seg = (seg - seg.mean(axis=0)) / np.maximum(seg.std(axis=0), 1e-12)
    power = (np.abs(np.fft.rfft(seg, axis=0)) ** 2).sum(axis=1)     # all coordinates
    freqs = np.fft.rfftfreq(len(seg), 0.01)
    lowest = 20 * (freqs[1] - freqs[0])        # at least 20 periods in the pilot's half
    peak = freqs[freqs >= lowest][int(np.argmax(power[freqs >= lowest]))]
    dt = (1.0 / peak) / ppp
    transient = 50 * ppp
    traj = _integrate(f, pilot[-1], (windows * length + transient) * dt, dt)
    if traj is None:
        return None
    traj = traj[transient:transient + windows * length]
    if len(traj) < windows * length:
        return None
    return np.array([np.concatenate([series_features(traj[w * length:(w + 1) * length, k])
                                     for k in range(3)]) for w in range(windows)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--windows", type=int, default=140)
    ap.add_argument("--length", type=int, default=250)
    ap.add_argument("--points-per-period", type=int, default=25)
    ap.add_argument("--period-spread", type=float, default=2.0,
                    help="each system's sampling rate is points-per-period x 2^u, u uniform in "
                         "[-spread/2, spread] (seeded): dominant periods estimated imprecisely, as in "
                         "published system lists; it stretches the lag features' tails (0 = off)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    rows, labels, kept = [], [], []
    for name in SYSTEMS:
        t0 = time.perf_counter()
        ppp = int(round(args.points_per_period * 2 ** rng.uniform(-args.period_spread / 2, args.period_spread)))
        x = system_rows(name, args.windows, args.length, max(4, ppp))
        print(f"{name}: {'failed' if x is None else x.shape} {time.perf_counter() - t0:.1f} s", flush=True)
        if x is None:
            continue
        rows.append(x)
        labels.append(np.full(len(x), len(kept)))
        kept.append(name)
    x = np.concatenate(rows).astype(np.float32)
    names = np.array([f"x{k}_{n}" for k in range(3) for n in NAMES])
    np.savez(args.out, summary=x, labels=np.concatenate(labels), systems=np.array(kept),
             **{"summary/column_names": names})
    z = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1)
    print(f"{args.out}: {x.shape[0]} rows x {x.shape[1]} features, {len(kept)} systems; "
          f"|z| > 5: {100 * (np.abs(z) > 5).mean():.2f} % of entries; non-finite: {int((~np.isfinite(x)).sum())}")


if __name__ == "__main__":
    main()
