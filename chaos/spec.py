"""The simulated environment: nodes, services and their dependencies, as a YAML spec.

``load_environment("boutique")`` reads ``chaos/environments/boutique.yaml``;
``EnvironmentSpec.topology()`` gives the static-topology dict Sherlog's topology
source ingests. Validation names what is wrong: unknown dependency or node names,
dependency cycles, duplicate names, a queue consumer that does not depend on its
queue, a log template with an unknown placeholder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from chaos.logtemplates import LOG_FORMATS, RANDOM_FIELDS, template_fields
from core.errors import InvalidPayload, NotFound
from core.model import EntityKind, entity_id, explain_validation

# the C loader is ~10x faster; fall back to the pure-Python one where libyaml is missing
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
ENV_DIR = Path(__file__).resolve().parent / "environments"
DEFAULT_ENVIRONMENT = "boutique"

ComponentKind = Literal["Service", "Database", "Cache", "Queue"]
COMPONENT_KINDS: tuple[str, ...] = ("Service", "Database", "Cache", "Queue")
_MIB = 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrafficSpec(_Strict):
    """Daily traffic shape at the entry point (requests/s at the daily mean)."""

    base_rps: float = Field(120.0, gt=0)
    diurnal_amplitude: float = Field(0.35, ge=0, lt=1, description="relative swing of the daily sine")
    peak_hour: float = Field(14.0, ge=0, lt=24, description="UTC hour of the daily peak")
    weekend_factor: float = Field(0.7, gt=0, le=2)
    noise: float = Field(0.04, ge=0, lt=0.5, description="std-dev of the AR(1) multiplicative noise")


class NodeSpec(_Strict):
    """A Kubernetes node."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    cpu_cores: float = Field(8.0, gt=0)
    memory_bytes: int = Field(32 * 1024 * _MIB, gt=0)
    disk_used_ratio: float = Field(0.55, ge=0, lt=0.9, description="baseline root filesystem usage")


class Dependency(_Strict):
    """One edge: this component calls / needs ``name``.

    ``weight`` is the share of this component's requests that need the dependency
    and fail or slow down with it (1 = every request, 0.05 = a cosmetic widget).
    """

    name: str
    weight: float = Field(0.5, gt=0, le=1)
    timeout_ms: float = Field(3000.0, gt=0)


class LatencySpec(_Strict):
    """Baseline latency percentiles in milliseconds."""

    p50: float = Field(gt=0)
    p99: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> LatencySpec:
        if self.p99 < self.p50:
            raise ValueError(f"p99 ({self.p99}) must be >= p50 ({self.p50})")
        return self


class ResourceSpec(_Strict):
    """Per-pod resources: baseline usage and limits."""

    cpu_base: float = Field(0.15, gt=0, description="cores used at mean traffic")
    cpu_limit: float = Field(1.0, gt=0)
    memory_base_mib: float = Field(200.0, gt=0)
    memory_limit_mib: float = Field(512.0, gt=0)

    @model_validator(mode="after")
    def _fits(self) -> ResourceSpec:
        if self.cpu_base >= self.cpu_limit:
            raise ValueError(f"cpu_base ({self.cpu_base}) must be below cpu_limit ({self.cpu_limit})")
        if self.memory_base_mib >= self.memory_limit_mib:
            raise ValueError(
                f"memory_base_mib ({self.memory_base_mib}) must be below memory_limit_mib ({self.memory_limit_mib})"
            )
        return self


class LogTemplate(_Strict):
    """An everyday log message of a service."""

    level: Literal["debug", "info", "warning", "error", "critical"] = "info"
    text: str = Field(min_length=1)
    weight: float = Field(1.0, gt=0)

    @field_validator("text")
    @classmethod
    def _known_fields(cls, v: str) -> str:
        unknown = sorted(template_fields(v) - set(RANDOM_FIELDS) - {"service"})
        if unknown:
            raise ValueError(
                f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)} in {v!r}; "
                f"known: service, {', '.join(sorted(RANDOM_FIELDS))}"
            )
        return v


class DatabaseSpec(_Strict):
    """Database-specific baseline."""

    engine: str = "postgres"
    max_connections: int = Field(100, ge=2)
    baseline_connections: int = Field(25, ge=1)

    @model_validator(mode="after")
    def _below_max(self) -> DatabaseSpec:
        if self.baseline_connections >= self.max_connections:
            raise ValueError("baseline_connections must be below max_connections")
        return self


class QueueSpec(_Strict):
    """Queue-specific baseline; ``consumers`` must depend on the queue."""

    engine: str = "rabbitmq"
    consumers: list[str] = Field(default_factory=list)
    baseline_depth: float = Field(10.0, ge=0)
    publish_rate: float = Field(5.0, gt=0, description="messages/s at mean traffic")


class CacheSpec(_Strict):
    """Cache-specific baseline."""

    engine: str = "redis"
    hit_ratio: float = Field(0.92, gt=0, lt=1)


class ServiceSpec(_Strict):
    """A component of the environment: a Service, Database, Cache or Queue."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    kind: ComponentKind = "Service"
    language: str = Field("go", description="picks language-specific fault messages (go, python, java, ...)")
    log_format: str = "json"
    version: str = "v1.0.0"
    replicas: int = Field(1, ge=1, le=20)
    runs_on: list[str] = Field(min_length=1)
    depends_on: list[Dependency] = Field(default_factory=list)
    traffic_share: float = Field(gt=0, le=5, description="requests/s as a share of the entry point's traffic")
    latency_ms: LatencySpec
    error_ratio: float = Field(0.002, ge=0, lt=0.2)
    slo_p99_ms: float | None = Field(None, gt=0, description="HighLatencyP99 threshold; default 4x baseline p99")
    resources: ResourceSpec = Field(default_factory=ResourceSpec)
    log_rate_per_min: float = Field(3.0, ge=0)
    logs: list[LogTemplate] = Field(default_factory=list)
    db: DatabaseSpec | None = None
    queue: QueueSpec | None = None
    cache: CacheSpec | None = None

    @field_validator("depends_on", mode="before")
    @classmethod
    def _names_or_maps(cls, v: Any) -> Any:
        # `depends_on: [checkout, {name: ad, weight: 0.05}]`: bare names get the default weight
        if isinstance(v, list):
            return [{"name": d} if isinstance(d, str) else d for d in v]
        return v

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, v: str) -> str:
        if v not in LOG_FORMATS:
            raise ValueError(f"unknown log_format {v!r} (known: {', '.join(LOG_FORMATS)})")
        return v

    @model_validator(mode="before")
    @classmethod
    def _default_kind_section(cls, data: Any) -> Any:
        # a Database/Queue/Cache without its section gets the section's defaults
        if isinstance(data, dict):
            attr = {"Database": "db", "Queue": "queue", "Cache": "cache"}.get(str(data.get("kind", "")))
            if attr and data.get(attr) is None:
                data = {**data, attr: {}}
        return data

    @model_validator(mode="after")
    def _kind_sections(self) -> ServiceSpec:
        for kind, attr in (("Database", "db"), ("Queue", "queue"), ("Cache", "cache")):
            if getattr(self, attr) is not None and self.kind != kind:
                raise ValueError(f"'{attr}:' is only allowed on kind {kind}, not {self.kind}")
        return self

    @property
    def stateful(self) -> bool:
        """Databases, caches and queues run as StatefulSets (pods named ``<name>-0``)."""
        return self.kind != "Service"

    @property
    def p99_threshold_ms(self) -> float:
        return self.slo_p99_ms if self.slo_p99_ms is not None else 4.0 * self.latency_ms.p99

    def dependency_names(self) -> list[str]:
        return [d.name for d in self.depends_on]


class EnvironmentSpec(_Strict):
    """A whole simulated environment."""

    name: str = Field(min_length=1)
    description: str = ""
    cluster: str = Field("sim", min_length=1)
    namespace: str = Field(min_length=1)
    entrypoint: str = Field(description="the service users hit (receives traffic_share x base_rps)")
    traffic: TrafficSpec = Field(default_factory=TrafficSpec)
    nodes: list[NodeSpec] = Field(min_length=1)
    services: list[ServiceSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> EnvironmentSpec:
        problems: list[str] = []
        node_names = [n.name for n in self.nodes]
        names = [s.name for s in self.services]
        for dup in sorted({n for n in node_names if node_names.count(n) > 1}):
            problems.append(f"node '{dup}' is defined more than once")
        for dup in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"service '{dup}' is defined more than once")
        for clash in sorted(set(names) & set(node_names)):
            problems.append(f"'{clash}' is both a node and a service name")
        known, known_nodes = set(names), set(node_names)
        for s in self.services:
            for n in s.runs_on:
                if n not in known_nodes:
                    problems.append(
                        f"service '{s.name}' runs on unknown node '{n}' (nodes: {', '.join(sorted(known_nodes))})"
                    )
            deps = s.dependency_names()
            for d in sorted({d for d in deps if deps.count(d) > 1}):
                problems.append(f"service '{s.name}' lists dependency '{d}' more than once")
            for d in deps:
                if d == s.name:
                    problems.append(f"service '{s.name}' depends on itself")
                elif d not in known:
                    problems.append(
                        f"service '{s.name}' depends on unknown service '{d}' (known: {', '.join(sorted(known))})"
                    )
            if s.queue is not None:
                for c in s.queue.consumers:
                    consumer = next((x for x in self.services if x.name == c), None)
                    if consumer is None:
                        problems.append(f"queue '{s.name}' lists unknown consumer '{c}'")
                    elif s.name not in consumer.dependency_names():
                        problems.append(f"queue '{s.name}' consumer '{c}' must list '{s.name}' in depends_on")
        if self.entrypoint not in known:
            problems.append(f"entrypoint '{self.entrypoint}' is not a service of this environment")
        if not problems:
            cycle = _find_cycle({s.name: s.dependency_names() for s in self.services})
            if cycle:
                problems.append("dependency cycle: " + " -> ".join(cycle))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -------------------------------------------------------------------- lookups

    def service(self, name: str) -> ServiceSpec:
        """The component named ``name``; NotFound lists the known names."""
        for s in self.services:
            if s.name == name:
                return s
        raise NotFound(
            f"environment '{self.name}' has no service '{name}'",
            hint=f"known: {', '.join(s.name for s in self.services)}",
        )

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise NotFound(
            f"environment '{self.name}' has no node '{name}'",
            hint=f"known: {', '.join(n.name for n in self.nodes)}",
        )

    def has_node(self, name: str) -> bool:
        return any(n.name == name for n in self.nodes)

    def has_service(self, name: str) -> bool:
        return any(s.name == name for s in self.services)

    def callers(self, name: str) -> list[str]:
        """Components that call / need ``name`` directly."""
        return [s.name for s in self.services if name in s.dependency_names()]

    def ancestors(self, name: str) -> dict[str, int]:
        """Every component that (transitively) depends on ``name``, with its distance in hops."""
        dist: dict[str, int] = {}
        frontier = [name]
        hops = 0
        while frontier:
            hops += 1
            nxt: list[str] = []
            for cur in frontier:
                for c in self.callers(cur):
                    if c not in dist and c != name:
                        dist[c] = hops
                        nxt.append(c)
            frontier = nxt
        return dist

    def descendants(self, name: str) -> set[str]:
        """Every component ``name`` (transitively) depends on."""
        seen: set[str] = set()
        stack = list(self.service(name).dependency_names())
        while stack:
            cur = stack.pop()
            if cur not in seen:
                seen.add(cur)
                stack.extend(self.service(cur).dependency_names())
        return seen

    def services_on(self, node: str) -> list[str]:
        return [s.name for s in self.services if node in s.runs_on]

    def topo_order(self) -> list[str]:
        """Dependencies before their callers (leaves first); stable by declaration order."""
        order: list[str] = []
        done: set[str] = set()

        def visit(n: str) -> None:
            if n in done:
                return
            done.add(n)
            for d in self.service(n).dependency_names():
                visit(d)
            order.append(n)

        for s in self.services:
            visit(s.name)
        return order

    def entity_kind(self, name: str) -> str:
        """``Node`` for a node name, else the component's kind (Service, Database, Cache, Queue)."""
        if self.has_node(name):
            return "Node"
        return self.service(name).kind

    def entity_id(self, name: str) -> str:
        """Stable graph id in core's scheme, e.g. ``database:sim/boutique/orders-db``, ``node:sim/node-3``."""
        if self.has_node(name):
            return entity_id(EntityKind.NODE, self.cluster, name)
        return entity_id(EntityKind(self.service(name).kind), self.cluster, self.namespace, name)

    # -------------------------------------------------------------------- topology

    def topology(self) -> dict[str, Any]:
        """The environment in Sherlog's static-topology format."""
        services: list[dict[str, Any]] = []
        for s in self.services:
            item: dict[str, Any] = {"name": s.name, "kind": s.kind}
            if s.depends_on:
                item["depends_on"] = s.dependency_names()
            item["runs_on"] = list(s.runs_on)
            item["replicas"] = s.replicas
            services.append(item)
        return {
            "cluster": self.cluster,
            "namespace": self.namespace,
            "nodes": [{"name": n.name} for n in self.nodes],
            "services": services,
        }

    def iter_components(self) -> Iterator[ServiceSpec]:
        yield from self.services

    @classmethod
    def parse(cls, data: Any, *, source: str = "environment") -> EnvironmentSpec:
        """Validate a mapping (e.g. parsed YAML), raising InvalidPayload listing every problem."""
        if not isinstance(data, dict):
            raise InvalidPayload(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
        try:
            return cls.model_validate(data)
        except ValidationError as e:
            raise InvalidPayload(
                f"{source}: invalid environment: " + "; ".join(explain_validation(e)),
                hint="see chaos/environments/boutique.yaml for a complete example",
            ) from e


def _find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A dependency cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1 = on stack, 2 = done
    stack: list[str] = []

    def dfs(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for d in graph.get(n, []):
            if state.get(d) == 1:
                return [*stack[stack.index(d) :], d]
            if d not in state:
                found = dfs(d)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in graph:
        if n not in state:
            found = dfs(n)
            if found:
                return found
    return None


def environment_path(name_or_path: str | Path) -> Path:
    """Resolve an environment name (``boutique``) or a YAML path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        return p
    return ENV_DIR / f"{name_or_path}.yaml"


def list_environments() -> list[str]:
    return sorted(p.stem for p in ENV_DIR.glob("*.yaml") if not p.name.endswith(".topology.yaml"))


def topology_path(name: str) -> Path:
    """Where the environment's static topology is kept beside its spec (``<name>.topology.yaml``)."""
    return ENV_DIR / f"{name}.topology.yaml"


def load_environment(name_or_path: str | Path = DEFAULT_ENVIRONMENT) -> EnvironmentSpec:
    """Load and validate an environment by name or path."""
    path = environment_path(name_or_path)
    if not path.is_file():
        raise NotFound(
            f"environment '{name_or_path}' not found ({path})",
            hint=f"known environments: {', '.join(list_environments())}",
        )
    try:
        data = yaml.load(path.read_text(), Loader=_LOADER)
    except yaml.YAMLError as e:
        raise InvalidPayload(f"{path}: not valid YAML: {e}") from e
    return EnvironmentSpec.parse(data, source=str(path))


def write_topology(env: EnvironmentSpec, path: Path) -> Path:
    """Write the environment's static topology as YAML."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(env.topology(), sort_keys=False))
    return path
