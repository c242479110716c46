"""The Kubernetes manifests, rendered offline and checked against what the code reads.

Both overlays are rendered with the real kubectl (kustomize built in), validated against
the Kubernetes API schemas that kubernetes-validate ships (strict: unknown fields are
errors) for the versions in KUBERNETES_VERSIONS, and checked for what the README
promises: GPU requests, volumes for outboxes and evidence, probes on the routes the agent
serves, no secret in a ConfigMap, commands the CLI accepts and config paths that the
pods really have. Nothing is downloaded.
"""

from __future__ import annotations

import base64
import copy
import gzip
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.rendered import (
    GRIDWATCH_IMAGE,
    KUBE,
    REPO,
    Obj,
    by_prefix,
    containers,
    env_of,
    gridwatch_invocations,
    kubectl,
    materialize,
    one,
    parse_cli,
    pod_spec,
    rebase_config,
    render,
    render_dir,
    workloads,
)

KUBERNETES_VERSIONS = ("1.33.0", "1.37.0")  # oldest and newest we state support for
OVERLAYS = ("dev", "city")
CRD_KINDS = {"ServiceMonitor"}  # not in the Kubernetes schemas: checked below by hand
NODES = {"dev": 3, "city": 100}
CAMERAS_PER_NODE = {"dev": 8, "city": 2000}  # what each overlay is sized for (README)
PASSWORD_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_objects_validate_against_the_kubernetes_schemas(
    overlay: str, version: str
) -> None:
    import kubernetes_validate

    objs = render(overlay)
    checked = 0
    for obj in objs:
        if obj["kind"] in CRD_KINDS:
            continue
        kubernetes_validate.validate(obj, version, strict=True)
        checked += 1
    assert checked >= 12
    # The validation is strict indeed: a typo in a container is an error.
    broken = copy.deepcopy(one(objs, "StatefulSet", "edge"))
    pod_spec(broken)["containers"][0]["resoures"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, version, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_edge_statefulset(overlay: str) -> None:
    from edge_agent.ingest.frames import slot_bytes
    from edge_agent.probes import LIVENESS_PATH, READINESS_PATH
    from gridwatch.config import Settings

    objs = render(overlay)
    edge = one(objs, "StatefulSet", "edge")
    spec, (agent,) = pod_spec(edge), pod_spec(edge)["containers"]
    assert edge["spec"]["replicas"] == NODES[overlay]
    # The node list follows the replica count; the node id is the pod name.
    env = env_of(agent)
    assert env["GRIDWATCH_NODE_COUNT"]["value"] == str(NODES[overlay])
    assert env["GRIDWATCH_NODE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    res = agent["resources"]
    assert {"cpu", "memory"} <= set(res["requests"]) and "memory" in res["limits"]
    if overlay == "city":  # GPU nodes: one GPU each, scheduled only there, one agent a node
        assert res["requests"]["nvidia.com/gpu"] == res["limits"]["nvidia.com/gpu"] == 1
        assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
            "tolerations"
        ]
        (term,) = spec["affinity"]["podAntiAffinity"][
            "requiredDuringSchedulingIgnoredDuringExecution"
        ]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert term["labelSelector"]["matchLabels"] == edge["spec"]["selector"]["matchLabels"]
    else:  # CPU only
        assert "nvidia.com/gpu" not in str(res) and "nodeSelector" not in spec
    # The outbox and engines are on the pod's own volume, where the agent writes them.
    settings = Settings.model_validate(yaml.safe_load(main_config(objs)))
    mounts = {m["mountPath"]: m["name"] for m in agent["volumeMounts"]}
    (claim,) = edge["spec"]["volumeClaimTemplates"]
    assert mounts[str(settings.paths.data_dir)] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # /dev/shm in memory, room for one frame slot per camera (960-pixel 16:9 frames).
    shm = next(v for v in spec["volumes"] if v["name"] == mounts["/dev/shm"])["emptyDir"]
    side = settings.edge.ingest.analysis_max_side
    used = CAMERAS_PER_NODE[overlay] * (slot_bytes(side) * 9 // 16)
    assert shm["medium"] == "Memory" and quantity(shm["sizeLimit"]) >= used
    assert quantity(res["limits"]["memory"]) > quantity(shm["sizeLimit"])
    # Probes: the routes edge_agent/probes.py serves, on the port the agent listens on.
    (port,) = agent["ports"]
    assert port["containerPort"] == settings.edge.metrics_port
    for probe, path in [
        ("startupProbe", LIVENESS_PATH),
        ("livenessProbe", LIVENESS_PATH),
        ("readinessProbe", READINESS_PATH),
    ]:
        assert agent[probe]["httpGet"] == {"path": path, "port": port["name"]}


def quantity(text: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(text[: -len(suffix)]) * factor
    return int(text)


def main_config(objs: list[Obj]) -> str:
    return str(by_prefix(objs, "ConfigMap", "gridwatch-config-")["data"]["gridwatch.yaml"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_aggregator_web_database_and_job(overlay: str) -> None:
    from gridwatch.config import Settings

    objs = render(overlay)
    settings = Settings.model_validate(yaml.safe_load(main_config(objs)))
    agg = one(objs, "Deployment", "aggregator")
    assert agg["spec"]["replicas"] == 1 and agg["spec"]["strategy"] == {"type": "Recreate"}
    evidence = one(objs, "PersistentVolumeClaim", "evidence")
    for name, read_only in [("aggregator", False), ("web", True)]:
        workload = one(objs, "Deployment", name)
        (container,) = pod_spec(workload)["containers"]
        mount = next(
            m
            for m in container["volumeMounts"]
            if m["mountPath"] == str(settings.aggregator.evidence_dir)
        )
        volume = next(v for v in pod_spec(workload)["volumes"] if v["name"] == mount["name"])
        assert volume["persistentVolumeClaim"]["claimName"] == evidence["metadata"]["name"]
        assert mount.get("readOnly", False) is read_only
        assert container["readinessProbe"] and container["livenessProbe"]
    assert one(objs, "Deployment", "web")["spec"]["replicas"] >= 2
    if overlay == "city":
        assert evidence["spec"]["accessModes"] == ["ReadWriteMany"]  # web pods on any node
    pg = one(objs, "StatefulSet", "postgres")
    assert pg["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "pgdata"
    job = one(objs, "Job", "migrate")
    # (that the lines parse, with their files present, is checked in the test below)
    commands = [
        [w for w in line if w[0] not in "-/"][:2]
        for c in containers(job)
        for line in gridwatch_invocations(c)
    ]
    assert commands == [["db", "upgrade"], ["cameras", "import"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_ports_and_scraping(overlay: str) -> None:
    objs = render(overlay)
    agg = one(objs, "Service", "aggregator")
    ports = {p["name"]: p for p in agg["spec"]["ports"]}
    config = yaml.safe_load(main_config(objs))
    bind_port = int(config["aggregator"]["receiver"]["bind"].rsplit(":", 1)[1])
    assert ports["zmq"]["port"] == bind_port
    assert config["edge"]["delivery"]["aggregator"] == f"tcp://aggregator:{bind_port}"
    for name in ("aggregator", "edge"):
        service = one(objs, "Service", name)
        notes = service["metadata"]["annotations"]
        metrics = next(p for p in service["spec"]["ports"] if p["name"] == "metrics")
        assert notes["prometheus.io/scrape"] == "true"
        assert int(notes["prometheus.io/port"]) == metrics["port"]
    assert one(objs, "Service", "edge")["spec"]["clusterIP"] == "None"  # the pods' names
    monitors = [o for o in objs if o["kind"] == "ServiceMonitor"]
    if overlay != "city":
        assert not monitors  # no Prometheus operator CRDs assumed in dev
        return
    assert {m["metadata"]["name"] for m in monitors} == {"aggregator", "edge"}
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        selected = [
            s
            for s in objs
            if s["kind"] == "Service"
            and monitor["spec"]["selector"]["matchLabels"].items()
            <= s["metadata"].get("labels", {}).items()
        ]
        assert [s["metadata"]["name"] for s in selected] == [monitor["metadata"]["name"]]
        names = {p["name"] for p in selected[0]["spec"]["ports"]}
        assert {e["port"] for e in monitor["spec"]["endpoints"]} <= names


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_in_a_configmap(overlay: str) -> None:
    objs = render(overlay)
    for cm in (o for o in objs if o["kind"] == "ConfigMap"):
        for key, value in cm["data"].items():
            assert "secret-key" not in value, f"a CURVE secret key in {key}"
            assert not PASSWORD_URL.search(value), f"a URL with a password in {key}"
            assert not re.search(r"password|secret|registry\.csv", key, re.I), key
    secret_keys = set()
    for workload in workloads(objs):
        for container in containers(workload):
            for name, var in env_of(container).items():
                if name in {"GRIDWATCH_DB", "POSTGRES_PASSWORD"}:
                    assert "secretKeyRef" in var["valueFrom"], (workload["metadata"], name)
                assert not PASSWORD_URL.search(str(var.get("value", "")))
        for volume in pod_spec(workload).get("volumes", []):
            for source in volume.get("projected", {}).get("sources", []):
                for item in source.get("secret", {}).get("items", []):
                    secret_keys.add((workload["metadata"]["name"], item["key"]))
    # Each side mounts its own CURVE secret key, never the other side's.
    assert ("edge", "edge.key_secret") in secret_keys
    assert ("aggregator", "aggregator.key_secret") in secret_keys
    assert ("edge", "aggregator.key_secret") not in secret_keys
    assert ("aggregator", "edge.key_secret") not in secret_keys
    assert not any(w == "web" for w, _k in secret_keys)
    assert {w for w, k in secret_keys if k.startswith("camera_registry")} == {"migrate"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_containers_run_real_commands_and_find_their_files(
    overlay: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every gridwatch container: its command line parses with the real CLI, and every
    file its config names is there in the pod (a mounted ConfigMap key or Secret item),
    with contents that pass the real loaders."""
    objs = render(overlay)
    seen_commands = set()
    for workload in workloads(objs):
        for container in containers(workload):
            if not container["image"].startswith(GRIDWATCH_IMAGE + ":"):
                continue
            root = tmp_path / workload["metadata"]["name"] / container["name"]
            files = materialize(objs, workload, container, root)
            for written in re.findall(r"> (/\S+)", " ".join(container.get("args", []))):
                (root / written.lstrip("/")).write_text("")  # what its script writes first
                files[written] = "written by the container's script"
            for line in gridwatch_invocations(container):
                rebased = [str(root / a.lstrip("/")) if a.startswith("/") else a for a in line]
                command, params = parse_cli(rebased)
                seen_commands.add(" ".join(command))
                check_files(command, params, files, root, env_of(container), monkeypatch)
    assert seen_commands == {
        "edge run",
        "aggregator run",
        "web",
        "db upgrade",
        "cameras import",
    }


def check_files(
    command: list[str],
    params: dict[str, Any],
    files: dict[str, str],
    root: Path,
    env: dict[str, Obj],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aggregator.event_types import EventTypes
    from edge_agent.catalogue import load_catalogue
    from edge_agent.rules.config import load_rules
    from gridwatch.config import load_settings
    from gridwatch.grid.model import GridIndex
    from gridwatch.sharding import node_for_name

    config = Path(params["config_file"])
    assert files.get(in_pod(config, root), "").startswith("configmap:gridwatch-config"), config
    local = root / "gridwatch.local.yaml"
    local.write_text(rebase_config(config.read_text(), root))
    monkeypatch.delenv("GRIDWATCH_DATA_DIR", raising=False)  # not set in the pods
    for name in ("GRIDWATCH_NODE_COUNT", "GRIDWATCH_NODE_ID"):
        if name in env and "value" in env[name]:
            monkeypatch.setenv(name, env[name]["value"])
        else:
            monkeypatch.delenv(name, raising=False)
    settings = load_settings(local)  # nodes_file included: it must be mounted

    def there(path: Path | None, source: str = "") -> Path:
        assert path is not None
        rel = "/" + str(path.relative_to(root))
        assert rel in files and files[rel].startswith(source), (command, rel, files)
        return path

    if command == ["edge", "run"]:
        load_rules(there(settings.edge.rules_file, "configmap:"))
        load_catalogue(there(settings.edge.models_catalogue, "configmap:"))
        there(settings.edge.delivery.client_secret_key, "secret:gridwatch-curve/edge.key_secret")
        there(settings.edge.delivery.server_public_key, "secret:gridwatch-curve/aggregator.key")
        assert files["/" + str(settings.data_dir().relative_to(root))].startswith("pvc")
        nodes = settings.sharding.nodes
        assert node_for_name(f"edge-{len(nodes) - 1}", nodes) == nodes[-1].id
    elif command == ["aggregator", "run"]:
        EventTypes.load(there(settings.aggregator.event_types_file, "configmap:"))
        receiver = settings.aggregator.receiver
        there(receiver.server_secret_key, "secret:gridwatch-curve/aggregator.key_secret")
        assert receiver.authorized_keys is not None
        there(receiver.authorized_keys / "edge.key", "secret:gridwatch-curve/edge.key")
        assert settings.aggregator.evidence_dir is not None
        assert files[in_pod(settings.aggregator.evidence_dir, root)].startswith("persistent")
    elif command == ["web"]:
        EventTypes.load(there(settings.aggregator.event_types_file, "configmap:"))
        assert settings.aggregator.evidence_dir is not None
        assert files[in_pod(settings.aggregator.evidence_dir, root)].startswith("persistent")
    elif command == ["cameras", "import"]:
        GridIndex.load(there(settings.grid.file, "configmap:gridwatch-grid"))
        # The Job unpacks the registry Secret to the path it imports from.
        assert params["file"] == settings.registry.file
        assert files[in_pod(settings.registry.file, root)].startswith("written by")
        registry = "/etc/gridwatch/registry/camera_registry.csv.gz"
        assert files[registry] == "secret:gridwatch-registry/camera_registry.csv.gz"


def in_pod(path: Path, root: Path) -> str:
    return "/" + str(path.relative_to(root))


def test_city_node_list_matches_its_replicas(repo: Path) -> None:
    from gridwatch.config import NodesFile, load_model

    nodes = load_model(NodesFile, KUBE / "overlays/city/nodes.yaml").nodes
    edge = one(render("city"), "StatefulSet", "edge")
    assert len(nodes) == edge["spec"]["replicas"] == 100
    assert [n.id for n in nodes[:2]] == ["node-000", "node-001"]
    rendered = by_prefix(render("city"), "ConfigMap", "gridwatch-config-")["data"]["nodes.yaml"]
    assert rendered == (KUBE / "overlays/city/nodes.yaml").read_text()


def test_external_postgres_component_drops_the_in_cluster_database(tmp_path: Path) -> None:
    import kubernetes_validate

    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(KUBE / "overlays/city", tmp_path)],
                "components": [os.path.relpath(KUBE / "components/external-postgres", tmp_path)],
            }
        )
    )
    objs = render_dir(tmp_path)
    assert not [o for o in objs if o["metadata"]["name"] == "postgres"]
    assert one(objs, "Deployment", "aggregator")
    for obj in objs:
        if obj["kind"] not in CRD_KINDS:
            kubernetes_validate.validate(obj, KUBERNETES_VERSIONS[-1], strict=True)


def test_the_image_runs_gridwatch_as_the_pods_user() -> None:
    """The Dockerfile and the manifests agree: entrypoint, user, weights folder."""
    dockerfile = (REPO / "deploy/docker/Dockerfile").read_text()
    assert 'ENTRYPOINT ["gridwatch"]' in dockerfile
    assert "USER 10001:10001" in dockerfile
    assert "GRIDWATCH_WEIGHTS_DIR=/app/models/weights" in dockerfile
    assert "COPY models models" in dockerfile and "WORKDIR /app" in dockerfile
    for overlay in OVERLAYS:
        for workload in workloads(render(overlay)):
            if workload["metadata"]["name"] == "postgres":
                continue
            assert pod_spec(workload)["securityContext"]["runAsUser"] == 10001
            for container in containers(workload):
                assert container["image"] == f"{GRIDWATCH_IMAGE}:0.1.0"


def test_make_secrets_makes_every_secret_the_manifests_use(tmp_path: Path) -> None:
    from gridwatch.keys import load_pair, load_public

    env = {
        **os.environ,
        "KUBECTL": kubectl(),
        "GRIDWATCH": str(Path(sys.executable).with_name("gridwatch")),
        "PYTHONPATH": str(REPO),
    }
    registry = tmp_path / "registry.csv"
    registry.write_text("camera_id,name\nc1,rtsp://admin:pw@10.0.0.1/x\n", encoding="utf-8")
    done = subprocess.run(
        [str(KUBE / "make-secrets.sh"), "gridwatch-dev", "--registry", str(registry)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    made = {s["metadata"]["name"]: s for s in yaml.safe_load_all(done.stdout) if s}
    assert all(s["kind"] == "Secret" for s in made.values())
    assert {s["metadata"]["namespace"] for s in made.values()} == {"gridwatch-dev"}
    data = {
        name: {k: base64.b64decode(v) for k, v in s["data"].items()} for name, s in made.items()
    }
    # Every Secret key any rendered object refers to exists.
    for overlay in OVERLAYS:
        for name, key in secret_refs(render(overlay)):
            assert key in data[name], (overlay, name, key)
    # The keys are real CURVE certificates, a pair on each side.
    for side in ("aggregator", "edge"):
        (tmp_path / f"{side}.key_secret").write_bytes(data["gridwatch-curve"][f"{side}.key_secret"])
        (tmp_path / f"{side}.key").write_bytes(data["gridwatch-curve"][f"{side}.key"])
        pair = load_pair(tmp_path / f"{side}.key_secret")
        assert pair.public == load_public(tmp_path / f"{side}.key")
    db = data["gridwatch-db"]
    assert db["password"].decode() in db["url"].decode()
    assert db["url"].decode().endswith("@postgres:5432/gridwatch")
    unpacked = gzip.decompress(data["gridwatch-registry"]["camera_registry.csv.gz"])
    assert unpacked == registry.read_bytes()
    assert "pw@" not in done.stderr


def secret_refs(objs: list[Obj]) -> set[tuple[str, str]]:
    refs: set[tuple[str, str]] = set()
    for workload in workloads(objs):
        for container in containers(workload):
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs.add((ref["name"], ref["key"]))
        for volume in pod_spec(workload).get("volumes", []):
            for source in volume.get("projected", {}).get("sources", []):
                secret = source.get("secret")
                if secret:
                    refs |= {(secret["name"], i["key"]) for i in secret["items"]}
    return refs
