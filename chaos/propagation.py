"""Golden signals per component, with faults propagated to callers along dependencies.

Components are processed leaves first. A caller inherits a dependency's *excess*
latency and failures one hop later (``hop_delay_s`` plus a seeded per-edge jitter,
at least one sample) and attenuated by the edge weight: the share of the caller's
requests that need the dependency. Calls fail when the dependency returns
errors, cannot be reached, or answers slower than the caller's timeout (the
latency is taken as log-normal between p50 and p99). Latency a caller inherits is
capped at its timeout for that dependency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from chaos.state import SimState, stable_hash

_Z99 = 2.326


@dataclass
class Golden:
    """A component's golden signals and where its failures come from."""

    name: str
    rps: np.ndarray
    err: np.ndarray  # total error ratio
    base_err: np.ndarray
    p50: np.ndarray
    p99: np.ndarray
    ex50: np.ndarray  # latency above baseline (ms), noiseless
    ex99: np.ndarray
    err_excess: np.ndarray  # error ratio caused by faults (own or inherited), noiseless
    own_err: np.ndarray
    # dependency → (returned errors, unreachable, timed out): shares of *this* component's requests that fail
    dep_fail: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)
    lag_steps: dict[str, int] = field(default_factory=dict)
    # dependency → its p50 latency (ms) as this component sees it, one hop later
    dep_p50: dict[str, np.ndarray] = field(default_factory=dict)
    up: np.ndarray = field(default_factory=lambda: np.ones(0))


def sub_rng(seed: int, *parts: object) -> np.random.Generator:
    """An independent, stable random stream per (seed, purpose, entity)."""
    return np.random.default_rng([seed & 0xFFFFFFFF, stable_hash(*parts) & 0xFFFFFFFF])


def shift(x: np.ndarray, steps: int) -> np.ndarray:
    """``x`` delayed by ``steps`` samples (the first values repeat the initial one)."""
    if steps <= 0:
        return x
    return np.concatenate([np.full(steps, x[0]), x[:-steps]])


def _norm_cdf(z: np.ndarray) -> np.ndarray:
    # tanh approximation of the standard normal CDF (error < 2e-4), avoids importing scipy
    return 0.5 * (1.0 + np.tanh(0.7978845608 * (z + 0.044715 * z**3)))


def timeout_share(p50: np.ndarray, p99: np.ndarray, timeout_ms: float) -> np.ndarray:
    """Share of calls slower than ``timeout_ms`` if latency is log-normal with these percentiles."""
    m = np.maximum(p50, 1e-3)
    sigma = np.maximum(np.log(np.maximum(p99, m * 1.01) / m) / _Z99, 0.05)
    return 1.0 - _norm_cdf((math.log(timeout_ms) - np.log(m)) / sigma)


def propagate(st: SimState, traffic: np.ndarray, seed: int) -> dict[str, Golden]:
    """Golden signals for every component, leaves first."""
    env = st.env
    out: dict[str, Golden] = {}
    n = st.n
    for name in env.topo_order():
        c = st.components[name]
        spec = c.spec
        r = sub_rng(seed, "golden", name)
        b50, b99 = spec.latency_ms.p50, spec.latency_ms.p99
        own50 = b50 * (c.lat_mult - 1.0) + c.lat_add
        own99 = b99 * (c.lat_mult - 1.0) * 1.3 + c.lat_add * 1.5
        dep50 = np.zeros(n)
        dep99 = np.zeros(n)
        survive = np.ones(n)
        dep_fail: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        lags: dict[str, int] = {}
        seen50: dict[str, np.ndarray] = {}
        for dep in spec.depends_on:
            d = out[dep.name]
            jitter = (stable_hash(seed, name, dep.name, "hop") % 1000) / 1000.0 * 15.0
            lag = max(1, round((st.hop_delay_s + jitter) / st.step_s))
            lags[dep.name] = lag
            ex50 = shift(d.ex50, lag)
            ex99 = shift(d.ex99, lag)
            dep_spec = env.service(dep.name)
            lat50 = dep_spec.latency_ms.p50 + ex50
            lat99 = dep_spec.latency_ms.p99 + ex99
            seen50[dep.name] = lat50
            dep50 += dep.weight * np.minimum(ex50, dep.timeout_ms)
            # a tail: even a small share of slow calls shows in the caller's p99
            dep99 += math.sqrt(dep.weight) * np.minimum(ex99, dep.timeout_ms)
            unreach = shift(st.components[dep.name].unreach, lag)
            errs = shift(d.err_excess, lag) * (1.0 - unreach)
            tmo = timeout_share(lat50, lat99, dep.timeout_ms) - timeout_share(
                np.array([dep_spec.latency_ms.p50]), np.array([dep_spec.latency_ms.p99]), dep.timeout_ms
            )
            tmo = np.clip(tmo, 0.0, 1.0) * (1.0 - unreach) * (1.0 - errs)
            parts = (dep.weight * errs, dep.weight * unreach, dep.weight * tmo)
            dep_fail[dep.name] = parts
            survive *= 1.0 - np.clip(parts[0] + parts[1] + parts[2], 0.0, 1.0)
        ex50_total = own50 + dep50
        ex99_total = own99 + dep99
        err_excess = 1.0 - (1.0 - c.err) * survive
        # noise: small multiplicative jitter, a touch of load sensitivity, rare GC-like tail spikes
        load = traffic * c.traffic
        n50 = np.exp(r.normal(0, 0.05, n)) * (0.9 + 0.1 * load)
        n99 = np.exp(r.normal(0, 0.09, n)) * (0.85 + 0.15 * load)
        spikes = r.random(n) < 0.01
        n99 = np.where(spikes, n99 * r.uniform(1.3, 1.8, n), n99)
        p50 = b50 * n50 + ex50_total
        p99 = np.maximum(b99 * n99 + ex99_total, p50 * 1.2)
        base_err = np.clip(spec.error_ratio * r.gamma(4.0, 0.25, n), 0, 0.5)
        err = 1.0 - (1.0 - base_err) * (1.0 - err_excess)
        rps = spec.traffic_share * env.traffic.base_rps * load * (1.0 - c.unreach) * np.exp(r.normal(0, 0.03, n))
        up = np.where(c.down, 0.0, 1.0) if c.down is not None else np.ones(n)
        out[name] = Golden(
            name=name,
            rps=rps,
            err=err,
            base_err=base_err,
            p50=p50,
            p99=p99,
            ex50=ex50_total,
            ex99=ex99_total,
            err_excess=err_excess,
            own_err=c.err,
            dep_fail=dep_fail,
            lag_steps=lags,
            dep_p50=seen50,
            up=up,
        )
    return out
