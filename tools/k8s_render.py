"""Render a kustomization (deploy/k8s/overlays/ENV) without kustomize, for the subset
of kustomize the manifests use, so that CI can validate what ``kubectl apply -k``
would send (tests/test_k8s_manifests.py). Anything outside the subset is refused
rather than ignored:

- ``resources``: YAML files, or folders holding a ``kustomization.yaml``;
- ``namespace``: set on every resource;
- ``images``: ``name`` replaced by ``newName``:``newTag`` in every pod template;
- ``configMapGenerator``: ``envs`` files and ``literals``, with
  ``generatorOptions.disableNameSuffixHash: true`` only (no name rewriting needed);
- ``patches``: ``path`` to strategic-merge patches of a resource of the same kind and
  name (maps merge; lists of maps with a ``name`` merge by name, as containers and
  volumes do; other lists are replaced).

``python tools/k8s_render.py deploy/k8s/overlays/prod`` prints the rendered YAML."""

import copy
import sys
from pathlib import Path

import yaml

SUPPORTED = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "images",
    "configMapGenerator",
    "generatorOptions",
    "patches",
}


class RenderError(ValueError):
    pass


def render(folder: Path) -> list[dict]:
    """The resources of the kustomization in ``folder``, in order."""
    folder = Path(folder)
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unsupported = set(spec) - SUPPORTED
    if unsupported:
        raise RenderError(f"{folder}: unsupported fields {sorted(unsupported)}")
    resources = []
    for entry in spec.get("resources", []):
        path = folder / entry
        if path.is_dir():
            resources += render(path)
        else:
            resources += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    resources += _generated(folder, spec)
    for patch in spec.get("patches", []):
        if set(patch) != {"path"}:
            raise RenderError(f"{folder}: only patches by path are supported")
        for doc in yaml.safe_load_all((folder / patch["path"]).read_text()):
            if doc:
                _apply(resources, doc)
    for image in spec.get("images", []):
        for resource in resources:
            _set_image(resource, image)
    if "namespace" in spec:
        for resource in resources:
            resource.setdefault("metadata", {})["namespace"] = spec["namespace"]
    return resources


def _generated(folder: Path, spec: dict) -> list[dict]:
    generators = spec.get("configMapGenerator", [])
    if generators and spec.get("generatorOptions") != {"disableNameSuffixHash": True}:
        raise RenderError(f"{folder}: generated names need disableNameSuffixHash")
    maps = []
    for generator in generators:
        if set(generator) - {"name", "envs", "literals"}:
            raise RenderError(f"{folder}: unsupported configMapGenerator fields")
        data = {}
        for env_file in generator.get("envs", []):
            data.update(env_file_read(folder / env_file))
        for literal in generator.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        maps.append(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": generator["name"]},
                "data": data,
            }
        )
    return maps


def env_file_read(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (``#`` comments and blank lines skipped), as kustomize
    reads an ``envs`` file."""
    data = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            if not sep:
                raise RenderError(f"{path}: not NAME=value: {line!r}")
            data[key] = value
    return data


def _apply(resources: list[dict], patch: dict) -> None:
    key = (patch["kind"], patch["metadata"]["name"])
    for resource in resources:
        if (resource["kind"], resource["metadata"]["name"]) == key:
            merged = _merge(resource, patch)
            resource.clear()
            resource.update(merged)
            return
    raise RenderError(f"patch for {key}: no such resource")


def _merge(base, patch):
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            merged[key] = _merge(base[key], value) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _named(base + patch):
        merged = [copy.deepcopy(item) for item in base]
        for item in patch:
            for i, existing in enumerate(merged):
                if existing["name"] == item["name"]:
                    merged[i] = _merge(existing, item)
                    break
            else:
                merged.append(item)
        return merged
    return copy.deepcopy(patch)


def _named(items: list) -> bool:
    return bool(items) and all(isinstance(i, dict) and "name" in i for i in items)


def _set_image(resource: dict, image: dict) -> None:
    pod = resource.get("spec", {}).get("template", {}).get("spec", {})
    for container in pod.get("containers", []) + pod.get("initContainers", []):
        name = container["image"].split("@")[0].rsplit(":", 1)[0]
        if name == image["name"]:
            container["image"] = f"{image.get('newName', name)}:{image['newTag']}"


if __name__ == "__main__":
    print(yaml.safe_dump_all(render(Path(sys.argv[1])), sort_keys=False), end="")
