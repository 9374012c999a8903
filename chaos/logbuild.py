"""Log lines of a run: everyday messages, errors from failing requests, failing dependency calls.

Volumes are bounded: everyday lines follow each service's ``log_rate_per_min``
scaled by traffic; failed requests are logged at a sampled rate (services
rate-limit their error logging), capped per service, cause and sample.
Fault-specific bursts (OOM messages, "too many clients", ...) come from the
fault library through the state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chaos.faults import host_of
from chaos.propagation import Golden, sub_rng
from chaos.state import ComponentState, LogItem, SimState, cluster_ip

# how a caller reports a failed call, by the caller's language (or by the dependency's kind)
_DEP_FAIL = {
    "go": "failed to call {dep}: {error}",
    "node": "request to {dep} failed: {error}",
    "python": "error calling {dep}: {error}",
    "java": "call to {dep} failed: io.grpc.StatusRuntimeException: UNAVAILABLE: {error}",
    "csharp": "Call to {dep} failed: {error}",
}
_DEP_FAIL_BY_KIND = {
    "Database": "query on {dep} failed: {error}",
    "Cache": "cache {dep} unavailable: {error}",
    "Queue": "publish to {dep} failed: {error}",
}
_ENTRY_ERROR = "request {method} {path} failed: internal error (status=500)"
_GENERIC_ERROR = {
    "go": "rpc error: code = Internal desc = internal error handling request",
    "node": "Error handling request: internal error",
    "python": "Internal Server Error: unexpected error while handling request",
    "java": "Request processing failed; nested exception is java.lang.RuntimeException",
    "csharp": "Request failed with status 500",
    "postgres": 'canceling statement due to statement timeout (table "{table}")',
    "redis": "Client id={count} addr={ip}:{port} closed for overcoming of output buffer limits.",
    "rabbitmq": "closing AMQP connection {ip}:{port} -> 10.3.0.21:5672: client unexpectedly closed TCP connection",
}
_PORTS = {"Service": "8080", "Database": "5432", "Cache": "6379", "Queue": "5672"}

# a caller noticing a slow dependency
_SLOW_CALL = {
    "go": "slow call to {dep}: took {elapsed_ms}ms",
    "node": "{dep} responded in {elapsed_ms}ms (slow)",
    "python": "call to {dep} took {elapsed_ms}ms",
    "java": "Slow downstream call to {dep} ({elapsed_ms} ms)",
    "csharp": "Call to {dep} completed in {elapsed_ms}ms (slow)",
}
_SLOW_CALL_BY_KIND = {
    "Database": "slow query on {dep}: {elapsed_ms}ms",
    "Cache": "slow {dep} command: {elapsed_ms}ms",
    "Queue": "publish to {dep} took {elapsed_ms}ms",
}

# unrelated warnings and errors every real system has: (languages or None for all, level, template)
_NOISE: tuple[tuple[frozenset[str] | None, str, str], ...] = (
    (None, "warning", "failed to export spans to otel-collector.monitoring:4317: context deadline exceeded"),
    (frozenset({"go"}), "warning", "http: TLS handshake error from {ip}:{port}: EOF"),
    (None, "warning", "connection reset by peer while reading request body from {ip}:{port}"),
    (None, "error", "failed to refresh feature flags from flagd: unexpected EOF (using cached flags)"),
    (None, "warning", "slow DNS lookup for otel-collector.monitoring.svc.cluster.local took {slow_ms}ms"),
)


@dataclass(frozen=True)
class LogConfig:
    """Bounds on log volume."""

    scale: float = 1.0  # multiplies every everyday rate
    error_sample: float = 0.01  # share of failed requests that leave a log line
    max_error_lines_per_sample: int = 4  # per component and cause, per metric step
    noise_scale: float = 1.0


def _interval(st: SimState, i: int, rng: np.random.Generator, k: int, not_before: float = 0.0) -> np.ndarray:
    """``k`` instants inside the interval sample ``i`` summarises, (t-step, t], not before ``not_before``."""
    hi = float(st.t[i])
    lo = max(hi - st.step_s, not_before, 0.0)
    if hi <= lo:
        return np.empty(0)
    return np.sort(rng.uniform(lo, hi, k))


def _times(st: SimState, r: np.random.Generator, counts: np.ndarray, not_before: float = 0.0) -> list[float]:
    """Instants for ``counts[i]`` lines in each sample's interval."""
    out: list[float] = []
    for i in np.flatnonzero(counts):
        if i == 0:
            continue  # sample 0 summarises the time before the window
        out.extend(float(x) for x in _interval(st, int(i), r, int(counts[i]), not_before))
    return out


def build_logs(
    st: SimState, golden: dict[str, Golden], traffic: np.ndarray, seed: int, cfg: LogConfig
) -> list[LogItem]:
    """Everyday, error and dependency-failure lines for every component (fault bursts are already in ``st.logs``)."""
    env = st.env
    items: list[LogItem] = []
    cap = cfg.max_error_lines_per_sample
    for svc in env.services:
        name = svc.name
        c, g = st.components[name], golden[name]
        r = sub_rng(seed, "logs", name)
        serving = traffic * c.traffic * (1.0 - c.unreach)
        if c.down is not None:
            serving = np.where(c.down, 0.0, serving)
        requests = np.maximum(g.rps, 0.0) * st.step_s * cfg.error_sample

        def add(times: list[float], level: str, template: str, ctx: dict[str, str], comp: ComponentState = c) -> None:
            for ts in times:
                items.append(LogItem(ts, comp.name, level, template, dict(ctx), pod=st.pick_pod(comp, ts)))

        # everyday lines, scaled by the traffic the component serves
        if svc.logs:
            weights = np.array([tpl.weight for tpl in svc.logs])
            per_sample = svc.log_rate_per_min * st.step_s / 60.0 * cfg.scale
            times = _times(st, r, r.poisson(per_sample * serving))
            picks = r.choice(len(weights), size=len(times), p=weights / weights.sum())
            for ts, k in zip(times, picks, strict=True):
                everyday = svc.logs[int(k)]
                items.append(
                    LogItem(ts, name, everyday.level, everyday.text, {"service": name}, pod=st.pick_pod(c, ts))
                )
        generic = _ENTRY_ERROR if name == env.entrypoint else _GENERIC_ERROR.get(svc.language, _GENERIC_ERROR["go"])
        # background errors at the baseline rate (generic messages)
        add(_times(st, r, np.minimum(cap, r.poisson(g.base_err * requests))), "error", generic, {})
        # the component's own fault errors
        own = np.where(g.own_err > 1e-4, g.own_err, 0.0)
        if own.any():
            templates = c.error_templates or [("error", generic)]
            times = _times(st, r, np.minimum(cap, r.poisson(own * requests)), st.onset_s)
            for ts in times:
                level, text = templates[int(r.integers(len(templates)))]
                items.append(LogItem(ts, name, level, text, dict(c.error_context), pod=st.pick_pod(c, ts)))
        # failed calls to dependencies, described the way the dependency fails
        for dep in svc.depends_on:
            dc = st.components[dep.name]
            dep_kind = env.service(dep.name).kind
            line = _DEP_FAIL_BY_KIND.get(dep_kind) or _DEP_FAIL.get(svc.language, _DEP_FAIL["go"])
            ctx = {
                "dep": dep.name,
                "dep_host": host_of(env, dep.name),
                "dep_ip": cluster_ip(env, dep.name),
                "dep_port": _PORTS[dep_kind],
                "timeout_ms": f"{dep.timeout_ms:.0f}",
                **dc.error_context,
            }
            # a caller cannot notice before the failure has travelled one hop
            noticed = st.onset_s + min(g.lag_steps[dep.name] * st.step_s, st.hop_delay_s)
            for share, err_tpl in zip(
                g.dep_fail[dep.name], (dc.fail_error, dc.fail_unreach, dc.fail_timeout), strict=True
            ):
                share = np.where(share > 1e-4, share, 0.0)
                if share.any():
                    times = _times(st, r, np.minimum(cap, r.poisson(share * requests)), noticed)
                    add(times, "error", line.replace("{error}", err_tpl), ctx)
            # slow (but successful) calls get a warning now and then
            seen = g.dep_p50[dep.name]
            dep_spec = env.service(dep.name)
            slow = (seen > max(250.0, 3 * dep_spec.latency_ms.p99)) & (1 - g.dep_fail[dep.name][1] / dep.weight > 0.5)
            if slow.any():
                slow_tpl = _SLOW_CALL_BY_KIND.get(dep_kind) or _SLOW_CALL.get(svc.language, _SLOW_CALL["go"])
                counts = np.where(slow, np.minimum(2, r.poisson(1.5 * np.sqrt(dep.weight), st.n)), 0)
                for i in np.flatnonzero(counts):
                    for ts in _interval(st, int(i), r, int(counts[i]), noticed):
                        elapsed = f"{min(seen[i] * r.uniform(0.9, 1.4), dep.timeout_ms):.0f}"
                        items.append(
                            LogItem(
                                float(ts),
                                name,
                                "warning",
                                slow_tpl,
                                {**ctx, "elapsed_ms": elapsed},
                                pod=st.pick_pod(c, float(ts)),
                            )
                        )
        # unrelated noise, a handful per hour per service
        if svc.kind == "Service" and cfg.noise_scale > 0:
            k = int(r.poisson(cfg.noise_scale * 2.0 * st.end_s / 3600.0))
            noise = [(lv, tpl) for langs, lv, tpl in _NOISE if langs is None or svc.language in langs]
            for ts in np.sort(r.uniform(0, st.end_s, k)):
                level, text = noise[int(r.integers(len(noise)))]
                items.append(LogItem(float(ts), name, level, text, {}, pod=st.pick_pod(c, float(ts))))
    return items
