"""The live Kubernetes API through the official `kubernetes` client.

Objects are converted with `ApiClient.sanitize_for_serialization` to the
JSON shape `kubectl -o json` prints and go through the same mapping
(`core.sources.k8s.from_kubernetes`), so a dump and a live cluster give
identical graphs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.errors import BackendError, BackendUnavailable
from core.sources.common import Topology
from core.sources.k8s import from_kubernetes


def fetch_kubernetes_items(api_client: Any = None, *, page_size: int = 500) -> list[dict[str, Any]]:
    """List nodes, pods, services, deployments, replica sets and events in all
    namespaces with the official client and return them as `kubectl -o json` items.

    `api_client` is a `kubernetes.client.ApiClient` (configure it first, e.g. with
    `kubernetes.config.load_kube_config()`); None builds one from the default configuration.
    """
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError

    api = api_client if api_client is not None else k8s.ApiClient()
    core, apps = k8s.CoreV1Api(api), k8s.AppsV1Api(api)
    listers: list[tuple[str, str, Callable[..., Any]]] = [
        ("Node", "v1", core.list_node),
        ("Service", "v1", core.list_service_for_all_namespaces),
        ("Pod", "v1", core.list_pod_for_all_namespaces),
        ("Deployment", "apps/v1", apps.list_deployment_for_all_namespaces),
        ("ReplicaSet", "apps/v1", apps.list_replica_set_for_all_namespaces),
        ("Event", "v1", core.list_event_for_all_namespaces),
    ]
    out: list[dict[str, Any]] = []
    for kind, api_version, lister in listers:
        token: str | None = None
        while True:
            try:
                resp = lister(limit=page_size, _continue=token) if token else lister(limit=page_size)
            except ApiException as e:
                raise BackendError(
                    f"kubernetes API refused to list {kind}s: HTTP {e.status} {e.reason}",
                    backend="kubernetes",
                    hint="check the kubeconfig context and RBAC (list on nodes, pods, services, deployments, "
                    "replicasets, events)",
                ) from e
            except ValueError as e:  # the client's models reject an object (pydantic ValidationError)
                raise BackendError(
                    f"kubernetes API returned {kind}s the client cannot read: {str(e)[:300]}",
                    backend="kubernetes",
                    hint="is the API server version supported by the installed kubernetes client?",
                ) from e
            except HTTPError as e:
                raise BackendUnavailable(
                    f"cannot reach the kubernetes API at {api.configuration.host}: {e}",
                    backend="kubernetes",
                    hint="is the cluster up and the kubeconfig pointing at it?",
                ) from e
            for obj in api.sanitize_for_serialization(resp.items) or []:
                # list responses leave kind/apiVersion off their items; kubectl fills them in
                obj["kind"], obj["apiVersion"] = kind, api_version
                out.append(obj)
            meta = resp.metadata
            token = getattr(meta, "var_continue", None) or getattr(meta, "_continue", None) if meta else None
            if not token:
                break
    return out


def from_kubernetes_api(api_client: Any = None, *, cluster: str = "", page_size: int = 500) -> Topology:
    """The live cluster through the official client, mapped exactly like a `kubectl -o json` dump."""
    return from_kubernetes(fetch_kubernetes_items(api_client, page_size=page_size), cluster=cluster)
