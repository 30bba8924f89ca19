"""deploy/k8s/ (docs/DEPLOY.md, "A course on many machines (Kubernetes)") checked against the app, without a
cluster: the Deployment asks the port the Dockerfile exposes and Streamlit serves, probes the health path
the Dockerfile's HEALTHCHECK asks, runs the image's CMD and sets only settings the app reads; the
Service, Ingress, HorizontalPodAutoscaler and the class store's database point at each other by the names
and ports the other objects give; every object lives in one namespace. When kubectl is installed, its
built-in kustomize builds the folder too (no cluster needed)."""

from __future__ import annotations

import base64
import functools
import json
import re
import shutil
import subprocess
import tomllib
from urllib.parse import urlsplit

import pytest
import yaml

from devtools import ROOT
from devtools.dockerfile import dockerfile, dockerfile_instructions

K8S = ROOT / "deploy" / "k8s"
GUIDE = ROOT / "docs" / "DEPLOY.md"
CLASS_DB = "NOISE_LAB_CLASS_DB"  # read by classroom/store.py (DESIGN.md, ClassStore)
KUBECTL = shutil.which("kubectl")


@functools.cache
def manifests() -> tuple[tuple[str, dict], ...]:
    """(file name, object) for every object in deploy/k8s/*.yaml except the kustomization."""
    found = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                assert isinstance(doc, dict) and {"apiVersion", "kind", "metadata"} <= doc.keys(), \
                    f"deploy/k8s/{path.name}: every document needs apiVersion, kind and metadata"
                found.append((path.name, doc))
    assert found, "no manifests in deploy/k8s/"
    return tuple(found)


def the(kind: str, component: str | None = None) -> dict:
    """The one object of this kind (of this app.kubernetes.io/component when given)."""
    hits = [doc for _, doc in manifests() if doc["kind"] == kind and (
        component is None or labels_of(doc).get("app.kubernetes.io/component") == component)]
    what = f"{kind} ({component})" if component else kind
    assert len(hits) == 1, f"expected one {what} in deploy/k8s/, found {len(hits)}"
    return hits[0]


def labels_of(doc: dict) -> dict:
    """The labels of the pods an object runs, or the object's own labels."""
    template = doc.get("spec", {}).get("template")
    return (template or doc)["metadata"].get("labels") or {}


def app() -> dict:
    return the("Deployment")


def app_container() -> dict:
    containers = app()["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"the Deployment runs {len(containers)} containers; one Streamlit server per pod"
    return containers[0]


def app_service() -> dict:
    """The Service whose selector picks the Deployment's pods."""
    pods = labels_of(app())
    hits = [doc for _, doc in manifests() if doc["kind"] == "Service" and doc["spec"].get("selector")
            and doc["spec"]["selector"].items() <= pods.items()]
    assert len(hits) == 1, f"expected one Service selecting the Deployment's pods {pods}, found {len(hits)}"
    return hits[0]


def named(kind: str, name: str) -> dict:
    hits = [doc for _, doc in manifests() if doc["kind"] == kind and doc["metadata"]["name"] == name]
    assert hits, f"no {kind} named {name!r} in deploy/k8s/"
    return hits[0]


def streamlit_port() -> int:
    from streamlit import config

    return int(tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text()).get("server", {}).get(
        "port", config._config_options_template["server.port"].default_val))


def health_path() -> str:
    """The path the Dockerfile's HEALTHCHECK asks for."""
    match = re.search(r"http://127\.0\.0\.1:\d+(/[^'\" ]*)", dockerfile("HEALTHCHECK"))
    assert match, "the Dockerfile's HEALTHCHECK asks no http://127.0.0.1:PORT/path URL"
    return match.group(1)


def container_port(port: int | str) -> int:
    """A port of the app's container, by number or by name."""
    ports = app_container().get("ports", [])
    for p in ports:
        if port in (p["containerPort"], p.get("name")):
            return p["containerPort"]
    raise AssertionError(f"port {port!r} is not one of the app container's ports {ports}")


def shipped_code() -> str:
    """The Python the image contains: what the Dockerfile's COPY instructions take from the repository."""
    sources = [s for k, v in dockerfile_instructions() if k == "COPY" for s in v.split()[:-1]]
    files = []
    for source in sources:
        path = ROOT / source
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.suffix == ".py" else []
    assert files, "the Dockerfile copies no Python files"
    return "\n".join(p.read_text() for p in files)


def env_of(container: dict) -> dict[str, dict]:
    return {e["name"]: e for e in container.get("env", [])}


def cpu_cores(quantity) -> float:
    text = str(quantity)
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def mebibytes(quantity) -> float:
    units = {"Ki": 2**-10, "Mi": 1, "Gi": 2**10, "K": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]i?)?", str(quantity))
    assert match, f"memory quantity {quantity!r} not understood"
    return float(match.group(1)) * (units[match.group(2)] if match.group(2) else 2**-20)


def secret_value(name: str, key: str) -> str:
    secret = named("Secret", name)
    if key in (secret.get("stringData") or {}):
        return str(secret["stringData"][key])
    assert key in (secret.get("data") or {}), f"Secret {name!r} has no key {key!r} (keys: " \
        f"{sorted({**(secret.get('data') or {}), **(secret.get('stringData') or {})})})"
    return base64.b64decode(secret["data"][key]).decode()


def test_kustomization_lists_every_manifest_and_all_share_one_namespace():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    on_disk = sorted(p.name for p in K8S.glob("*.y*ml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk, f"kustomization.yaml lists {sorted(listed)}; deploy/k8s/ holds {on_disk}"
    names = [(doc["kind"], doc["metadata"]["name"]) for _, doc in manifests()]
    assert len(names) == len(set(names)), f"an object is defined twice: {names}"
    namespaces = {doc["metadata"].get("namespace") for _, doc in manifests() if doc["kind"] != "Namespace"}
    assert len(namespaces) == 1, f"the objects name different namespaces: {namespaces}"
    (namespace,) = namespaces
    if "namespace" in kustomization:
        assert namespace in (None, kustomization["namespace"]), \
            f"the objects' namespace {namespace!r} differs from kustomization.yaml's {kustomization['namespace']!r}"
        namespace = kustomization["namespace"]
    created = [doc["metadata"]["name"] for _, doc in manifests() if doc["kind"] == "Namespace"]
    assert created in ([], [namespace]), f"Namespace objects {created}, but the objects live in {namespace!r}"


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_builds_the_kustomization():
    built = subprocess.run([KUBECTL, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    objects = sorted((d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(built.stdout) if d)
    assert objects == sorted((d["kind"], d["metadata"]["name"]) for _, d in manifests())


def test_container_port_is_the_port_the_image_exposes_and_streamlit_serves():
    port = streamlit_port()
    assert dockerfile("EXPOSE") == str(port), f"Dockerfile EXPOSE {dockerfile('EXPOSE')}, Streamlit serves {port}"
    ports = [p["containerPort"] for p in app_container().get("ports", [])]
    assert ports == [port], f"the app container declares ports {ports}; Streamlit serves {port}"


def test_probes_ask_the_health_path_of_the_dockerfile_healthcheck():
    container, path = app_container(), health_path()
    assert path == "/_stcore/health"
    for kind in ("readinessProbe", "livenessProbe"):
        assert kind in container, f"the app container has no {kind}"
        get = container[kind].get("httpGet")
        assert get, f"{kind} is not an httpGet probe of Streamlit's health endpoint"
        assert get["path"] == path, f"{kind} asks {get['path']!r}; the Dockerfile's HEALTHCHECK asks {path!r}"
        port = container_port(get["port"])
        assert port == streamlit_port(), f"{kind} asks port {get['port']!r} ({port}); the app serves {streamlit_port()}"
    # Liveness gives a starting server at least the Dockerfile's start period before it can be restarted.
    live = container["livenessProbe"]
    start = int(re.search(r"--start-period=(\d+)s", dockerfile("HEALTHCHECK")).group(1))
    grace = live.get("initialDelaySeconds", 0) + live.get("periodSeconds", 10) * live.get("failureThreshold", 3)
    assert grace >= start, f"liveness may restart a pod after {grace} s; the image may take {start} s to start"


def test_container_runs_the_images_command_as_its_user():
    container = app_container()
    cmd = json.loads(dockerfile("CMD"))
    assert not any(k == "ENTRYPOINT" for k, _ in dockerfile_instructions())
    run = container.get("command", []) + container.get("args", [])
    assert run in ([], cmd), f"the container runs {run}; the image's CMD is {cmd} (leave command and args out)"
    runs = " ".join(v for k, v in dockerfile_instructions() if k == "RUN")
    uid = int(re.search(r"useradd .*--uid (\d+)", runs).group(1))
    security = app()["spec"]["template"]["spec"].get("securityContext", {})
    assert security.get("runAsUser") in (None, uid), f"pods run as uid {security['runAsUser']}; the image's is {uid}"


def app_code() -> str:
    """The app's Python in the repository: the entry point, its packages and the class store."""
    files = [ROOT / "app.py", *[p for d in ("pages", "ui", "server", "explainers", "classroom")
                                for p in sorted((ROOT / d).rglob("*.py"))]]
    return "\n".join(p.read_text() for p in files if p.exists())


def test_deployment_sets_only_settings_the_app_reads():
    env = env_of(app_container())
    code = app_code()
    for name in env:
        if not re.search(rf"\b{name}\b", code):
            pytest.fail(f"deploy/k8s/deployment.yaml sets {name}, which the app never reads (app.py, pages/, ui/, "
                        "server/, explainers/, classroom/)")
    from explainers.device import TRAIN_SLOTS_RANGE

    limit = cpu_cores(app_container()["resources"]["limits"]["cpu"])
    threads = int(env["NOISE_LAB_THREADS"]["value"])
    assert 1 <= threads <= limit, f"NOISE_LAB_THREADS={threads} torch threads in a pod limited to {limit} cores"
    # os.cpu_count() in a pod is the node's count, so the default number of training slots would be wrong.
    slots = int(env["NOISE_LAB_TRAIN_SLOTS"]["value"])
    assert TRAIN_SLOTS_RANGE[0] <= slots <= max(1, limit), f"NOISE_LAB_TRAIN_SLOTS={slots} in a {limit}-core pod"


def test_image_ships_the_class_store_once_the_app_uses_it():
    """The Deployment hands the class store a postgresql:// URL; the image must then hold classroom/ and psycopg."""
    store = ROOT / "classroom" / "store.py"
    assert store.exists() and CLASS_DB in store.read_text(), f"classroom/store.py, which reads {CLASS_DB}, is missing"
    shipped = shipped_code()
    if not re.search(r"^\s*(from|import)\s+classroom\b", shipped, flags=re.M):
        pytest.skip("no code in the image imports classroom/ yet; once it does, the Dockerfile must COPY classroom/ "
                    "and requirements.txt name psycopg for the postgresql:// URL of deploy/k8s/")
    assert CLASS_DB in shipped, "the app imports classroom/, but the Dockerfile does not COPY classroom/ into the image"
    requirements = (ROOT / "requirements.txt").read_text()
    assert re.search(r"^psycopg", requirements, flags=re.M), \
        "deploy/k8s/ gives the class store a postgresql:// URL, but requirements.txt (the image's) has no psycopg"


def test_secrets_referenced_by_pods_exist_and_the_class_db_url_names_the_database():
    pods = [doc for _, doc in manifests() if "template" in doc.get("spec", {})]
    for doc in pods:
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for e in container.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secret_value(ref["name"], ref["key"])  # fails naming the missing Secret or key
    # The database URL comes from a Secret, never a literal in the Deployment (its password would show).
    ref = env_of(app_container())[CLASS_DB].get("valueFrom", {}).get("secretKeyRef")
    assert ref, f"{CLASS_DB} is not taken from a Secret (valueFrom.secretKeyRef)"
    url = urlsplit(secret_value(ref["name"], ref["key"]))
    assert url.scheme == "postgresql", f"{CLASS_DB} is {url.scheme}://...; many pods need one shared PostgreSQL"
    # The shipped database: the URL's host, port and credentials are the StatefulSet's.
    db = the("StatefulSet")
    service = named("Service", db["spec"]["serviceName"])
    assert service["spec"]["selector"].items() <= labels_of(db).items(), "the database Service does not select its pods"
    host, namespace = service["metadata"]["name"], service["metadata"].get("namespace")
    assert url.hostname in (host, f"{host}.{namespace}", f"{host}.{namespace}.svc.cluster.local"), \
        f"{CLASS_DB} names host {url.hostname!r}; the database Service is {host!r}"
    assert url.port in [p["port"] for p in service["spec"]["ports"]], f"{CLASS_DB} names port {url.port}"
    db_env = env_of(db["spec"]["template"]["spec"]["containers"][0])

    def db_setting(name: str) -> str:
        ref = db_env[name]["valueFrom"]["secretKeyRef"]
        return secret_value(ref["name"], ref["key"])

    assert (url.username, url.password, url.path.lstrip("/")) == (
        db_setting("POSTGRES_USER"), db_setting("POSTGRES_PASSWORD"), db_setting("POSTGRES_DB")), \
        f"{CLASS_DB}'s user, password or database differ from the ones the database starts with"
    mount = db["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"]
    assert db_env["PGDATA"]["value"].startswith(mount + "/"), "PGDATA is not a folder of the database's volume"
    assert [c["metadata"]["name"] for c in db["spec"]["volumeClaimTemplates"]] == [
        db["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["name"]]


def test_service_reaches_the_app_pods_and_only_them():
    deployment, service = app(), app_service()
    pods = labels_of(deployment)
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pods.items(), \
        "the Deployment's selector does not match its own pod labels"
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"
    for _, other in manifests():
        if other is not deployment and "template" in other.get("spec", {}):
            assert not service["spec"]["selector"].items() <= labels_of(other).items(), \
                f"the app Service also selects the pods of {other['kind']} {other['metadata']['name']}"
    targets = [container_port(p.get("targetPort", p["port"])) for p in service["spec"]["ports"]]
    assert targets == [streamlit_port()], f"the Service targets ports {targets}; the app serves {streamlit_port()}"


def test_ingress_routes_to_the_service_with_sticky_sessions_and_long_websocket_timeouts():
    ingress, service = the("Ingress"), app_service()
    notes = ingress["metadata"].get("annotations", {})
    prefix = "nginx.ingress.kubernetes.io/"
    assert notes.get(prefix + "affinity") == "cookie", "no cookie affinity: a student's requests would reach many pods"
    assert notes.get(prefix + "session-cookie-name"), "the affinity cookie has no name"
    assert notes.get(prefix + "affinity-mode", "balanced") == "persistent", \
        "affinity-mode balanced moves students to a pod the HPA adds, ending their sessions"
    for kind in ("proxy-read-timeout", "proxy-send-timeout"):
        seconds = int(notes.get(prefix + kind, 60))  # ingress-nginx's default
        assert seconds >= 3600, f"{kind} {seconds} s cuts a WebSocket that stays quiet longer"
    backends = [p["backend"]["service"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert backends, "the Ingress routes nothing"
    for backend in backends:
        assert backend["name"] == service["metadata"]["name"], f"the Ingress routes to {backend['name']!r}"
        port = backend["port"].get("number", backend["port"].get("name"))
        offered = [p["port"] for p in service["spec"]["ports"]] + [p.get("name") for p in service["spec"]["ports"]]
        assert port in offered, \
            f"the Ingress routes to port {port!r}, which the Service does not offer"
    paths = [p["path"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert "/" in paths, f"the Ingress routes only {paths}; the app needs /, /_stcore/stream, /app/static/, /media/"


def test_autoscaler_scales_the_app_deployment_on_cpu():
    hpa, deployment = the("HorizontalPodAutoscaler"), app()
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        deployment["apiVersion"], deployment["kind"], deployment["metadata"]["name"]), f"the HPA scales {target}"
    assert 1 <= hpa["spec"].get("minReplicas", 1) <= hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    goal = metric["resource"]["target"]
    assert goal["type"] == "Utilization" and 0 < goal["averageUtilization"] <= 100, f"CPU target {goal}"
    assert "replicas" not in deployment["spec"], "a replica count in the Deployment resets the HPA's on every apply"


def test_app_pods_have_cpu_and_memory_requests_and_limits():
    resources = app_container().get("resources", {})
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    assert {"cpu", "memory"} <= requests.keys(), f"requests {requests}: the HPA's utilization needs a CPU request"
    assert {"cpu", "memory"} <= limits.keys(), f"limits {limits}: one pod must not take the node's cores or memory"
    assert cpu_cores(requests["cpu"]) <= cpu_cores(limits["cpu"])
    assert mebibytes(requests["memory"]) <= mebibytes(limits["memory"])
    # Above the peak the load test measured with 100 sessions on one server (docs/DEPLOY.md: 849 MB).
    assert mebibytes(limits["memory"]) * 2**20 / 1e6 >= 849, f"memory limit {limits['memory']} < measured peak"


def test_guide_explains_the_kubernetes_deployment():
    guide = GUIDE.read_text()
    assert "## A course on many machines (Kubernetes)" in guide
    section = guide.split("## A course on many machines (Kubernetes)", 1)[1].split("\n## ", 1)[0]
    assert "kubectl apply -k deploy/k8s" in section and "docker build" in section
    for path in sorted(K8S.glob("*.yaml")):
        assert f"deploy/k8s/{path.name}" in section or path.name in section, f"the guide does not mention {path.name}"
    # The sizing arithmetic: interactions per second per core = 1 / CPU seconds per interaction, worked out right.
    (cpu_s, per_s), = re.findall(r"1 / (0\.\d+) ≈ (\d+(?:\.\d+)?) interactions per second", section)
    assert float(per_s) == pytest.approx(1 / float(cpu_s), rel=0.05)
