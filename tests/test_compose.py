"""deploy/compose.yaml and deploy/compose-nginx.conf (docs/DEPLOY.md, "Several replicas with Docker Compose")
checked against the app and each other, without a Docker engine: the replicas build the repository's
Dockerfile, listen on the port it exposes, publish no host port and set only settings the app reads; the
class store's URL names the Compose database with its own user, password and database; nginx's upstream
is exactly the replicas on the app's port, sticky, with the WebSocket upgrade and long timeouts on
/_stcore/stream, and nginx publishes a host port to the port it listens on. Where nginx is installed, it
validates the configuration (`nginx -t`); where the `docker compose` plugin is installed, it checks the
file (`docker compose config -q`, no engine needed)."""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from devtools import ROOT
from devtools.dockerfile import dockerfile

COMPOSE = ROOT / "deploy" / "compose.yaml"
NGINX_CONF = ROOT / "deploy" / "compose-nginx.conf"
DOCKERFILE = ROOT / "Dockerfile"
GUIDE = ROOT / "docs" / "DEPLOY.md"
CLASS_DB = "NOISE_LAB_CLASS_DB"  # read by classroom/store.py (DESIGN.md, ClassStore)
PG_DATA = "/var/lib/postgresql/data"  # where the official postgres image keeps its data
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)),
                                      None)
DOCKER = shutil.which("docker")
C, N = "deploy/compose.yaml", "deploy/compose-nginx.conf"  # for messages


# --- deploy/compose.yaml ---------------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value, env: dict[str, str]):
    """Compose's variable interpolation of every string in `value`, with `env` as the only environment:
    $$ is a literal $, ${VAR:-default} / ${VAR-default} fall back to the default, ${VAR} / $VAR to ""."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, default = m.group(1) or m.group(4), m.group(2), m.group(3) or ""
        if op in (":?", "?"):
            assert name in env, f"{C}: ${{{name}{op}...}} must be set; the shipped file should have a default"
            return env[name]
        if op == ":-":
            return env.get(name) or default
        if op == "-":
            return env.get(name, default)
        if op in (":+", "+"):
            return default if (env.get(name) if op == ":+" else name in env) else ""
        return env.get(name, "")

    return _VARIABLE.sub(one, value)


@functools.cache
def raw_compose() -> dict:
    doc = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(doc, dict) and isinstance(doc.get("services"), dict), f"{C} has no services"
    return doc


def variables() -> list[str]:
    """Every variable the file takes from the environment."""
    return sorted({m.group(1) or m.group(4) for m in _VARIABLE.finditer(COMPOSE.read_text()) if m.group(0) != "$$"})


def compose(env: dict[str, str] | None = None) -> dict:
    """The file as Compose reads it: its defaults (env None) or with `env` set."""
    return interpolate(raw_compose(), env or {})


def environments() -> list[dict[str, str]]:
    """The shipped defaults, and every variable set to a value of its own (the file must stay consistent)."""
    return [{}, {name: f"probe-{name.lower().replace('_', '-')}" for name in variables()}]


def services(doc: dict | None = None) -> dict[str, dict]:
    return (doc or compose())["services"]


def builds_the_repository_image(service: dict) -> bool:
    build = service.get("build")
    if build is None:
        return False
    context, dockerfile = (build, "Dockerfile") if isinstance(build, str) else (
        build.get("context", "."), build.get("dockerfile", "Dockerfile"))
    return ((COMPOSE.parent / context).resolve() / dockerfile).resolve() == DOCKERFILE.resolve()


def app_services(doc: dict | None = None) -> dict[str, dict]:
    """The Noise Lab replicas: the services built from the repository's Dockerfile."""
    apps = {name: s for name, s in services(doc).items() if builds_the_repository_image(s)}
    assert len(apps) >= 2, f"{C} builds {len(apps)} services from the repository's Dockerfile; replicas need 2 or more"
    return apps


def service_of_image(repository: str, doc: dict | None = None) -> tuple[str, dict]:
    """The one service running the official image `repository` (nginx, postgres)."""
    official = {repository, f"library/{repository}", f"docker.io/library/{repository}"}
    hits = [(name, s) for name, s in services(doc).items()
            if str(s.get("image", "")).rsplit(":", 1)[0].split("@")[0] in official]
    assert len(hits) == 1, f"{C}: expected one service of the official {repository} image, found {[n for n, _ in hits]}"
    return hits[0]


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: None if v is None else str(v) for k, v in env.items()}


def depends_on(service: dict) -> dict[str, dict]:
    deps = service.get("depends_on") or {}
    return {d: {"condition": "service_started"} for d in deps} if isinstance(deps, list) else deps


def exposed(service: dict) -> list[int]:
    return [int(str(p).split("/")[0]) for p in service.get("expose", [])]


# --- the Dockerfile and the app ----------------------------------------------------------------------------

def app_port() -> int:
    """The port the image exposes, which must be the one Streamlit serves."""
    from streamlit import config

    port = int(tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text()).get("server", {}).get(
        "port", config._config_options_template["server.port"].default_val))
    assert dockerfile("EXPOSE") == str(port), f"Dockerfile EXPOSE {dockerfile('EXPOSE')}, Streamlit serves {port}"
    return port


def health_path() -> str:
    """The path the Dockerfile's HEALTHCHECK asks for."""
    match = re.search(r"http://127\.0\.0\.1:\d+(/[^'\" ]*)", dockerfile("HEALTHCHECK"))
    assert match, "the Dockerfile's HEALTHCHECK asks no http://127.0.0.1:PORT/path URL"
    return match.group(1)


def app_code() -> str:
    """The app's Python in the repository: the entry point, its packages and the class store."""
    files = [ROOT / "app.py", *[p for d in ("pages", "ui", "server", "explainers", "classroom")
                                for p in sorted((ROOT / d).rglob("*.py"))]]
    return "\n".join(p.read_text() for p in files if p.exists())


# --- deploy/compose-nginx.conf -----------------------------------------------------------------------------

_TOKEN = re.compile(r"""#[^\n]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[{};]|[^\s{};"'#][^\s{};]*""")


def parse_nginx(text: str) -> list[tuple]:
    """nginx's configuration as a tree of (name, args, block or None), quotes removed."""
    stack: list[list] = [[]]
    words: list[str] = []
    for token in _TOKEN.findall(text):
        if token.startswith("#"):
            continue
        if token == ";":
            assert words, f"{N}: an empty directive"
            stack[-1].append((words[0], words[1:], None))
            words = []
        elif token == "{":
            assert words, f"{N}: a block without a name"
            block: list = []
            stack[-1].append((words[0], words[1:], block))
            stack.append(block)
            words = []
        elif token == "}":
            assert not words, f"{N}: {' '.join(words)!r} before '}}' lacks its ';'"
            assert len(stack) > 1, f"{N}: a '}}' closes no block"
            stack.pop()
        else:
            words.append(token[1:-1] if token[:1] in "\"'" and token[-1:] == token[:1] else token)
    assert len(stack) == 1 and not words, f"{N}: unbalanced braces or a directive without ';'"
    return stack[0]


@functools.cache
def nginx_tree() -> tuple:
    tree = parse_nginx(NGINX_CONF.read_text())
    https = [b for name, _, b in tree if name == "http"]
    # A fragment (as mounted into conf.d/) is the inside of http {}.
    return tuple(https[0] if https else tree)


def blocks(tree, name: str) -> list[tuple[list[str], list]]:
    return [(args, b) for n, args, b in tree if n == name and b is not None]


def directives(tree, name: str) -> list[list[str]]:
    return [args for n, args, b in tree if n == name and b is None]


def the_server() -> list:
    servers = blocks(nginx_tree(), "server")
    assert len(servers) == 1, f"{N} has {len(servers)} server blocks; expected one"
    return servers[0][1]


def location_for(path: str) -> tuple[str, list]:
    """The location nginx picks for `path`: an exact match, else the longest matching prefix."""
    exact, prefixes = None, []
    for args, block in blocks(the_server(), "location"):
        if args[0] == "=" and args[1] == path:
            exact = (" ".join(args), block)
        elif args[0] in ("^~",) and path.startswith(args[1]):
            prefixes.append((args[1], " ".join(args), block))
        elif args[0] not in ("=", "~", "~*", "^~", "@") and path.startswith(args[0]):
            prefixes.append((args[0], " ".join(args), block))
    if exact:
        return exact
    assert prefixes, f"{N}: no location serves {path}"
    _, name, block = max(prefixes, key=lambda p: len(p[0]))
    return name, block


def effective(chain: list[list], name: str) -> list[list[str]]:
    """The `name` directives in force at the innermost block of chain (http, server, location): nginx
    inherits a directive from the outer level only when the inner one has none of it."""
    for level in reversed(chain):
        found = directives(level, name)
        if found:
            return found
    return []


def seconds(value: str) -> float:
    units = {"ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000, "y": 31536000, "": 1}
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|M|y|)", value)
    assert parts and "".join(n + u for n, u in parts) == value, f"{N}: time {value!r} not understood"
    return sum(int(n) * units[u] for n, u in parts)


def upstream(name: str) -> list:
    hits = [b for args, b in blocks(nginx_tree(), "upstream") if args == [name]]
    assert len(hits) == 1, f"{N}: proxy_pass names upstream {name!r}, which is defined {len(hits)} times"
    return hits[0]


def proxied_upstreams() -> set[str]:
    names = set()
    for args, block in blocks(the_server(), "location"):
        for (target,) in directives(block, "proxy_pass"):
            match = re.fullmatch(r"https?://([^/:$]+)/?", target)
            assert match, f"{N}: location {' '.join(args)} proxies to {target!r}, not to an upstream by name"
            names.add(match.group(1))
    assert names, f"{N} proxies nothing"
    return names


def listen_ports() -> set[int]:
    ports = set()
    for args in directives(the_server(), "listen"):
        match = re.search(r"(\d+)$", args[0])
        ports.add(int(match.group(1)) if match else 80)
    return ports or {80}


# --- the tests ---------------------------------------------------------------------------------------------

def test_compose_file_is_the_compose_spec_without_version():
    doc = raw_compose()
    assert "version" not in doc, f"{C} has a `version:` key, which the Compose spec made obsolete"
    known = {"name", "services", "volumes", "networks", "configs", "secrets", "include"}
    unknown = [k for k in doc if k not in known and not k.startswith("x-")]
    assert not unknown, f"{C}: unknown top-level keys {unknown}"
    for name, service in services().items():
        assert isinstance(service, dict) and ("image" in service or "build" in service), \
            f"{C}: service {name} has neither image nor build"


def docker_compose_works() -> bool:
    if DOCKER is None:
        return False
    return subprocess.run([DOCKER, "compose", "version"], capture_output=True, timeout=30).returncode == 0


@pytest.mark.skipif(not docker_compose_works(), reason="docker with the compose plugin is not installed")
def test_docker_compose_accepts_the_file():
    checked = subprocess.run([DOCKER, "compose", "-f", str(COMPOSE), "config", "-q"], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
    assert checked.returncode == 0, f"docker compose -f {C} config -q: {checked.stderr}"


def test_replicas_run_the_image_on_its_port_with_its_health_check_and_no_host_port():
    port, path = app_port(), health_path()
    cmd = dockerfile("CMD")
    for name, service in app_services().items():
        assert "ports" not in service, f"{C}: {name} publishes host ports {service['ports']}; " \
            "replicas are reached through nginx, and fixed host ports keep them from scaling"
        assert exposed(service) in ([], [port]), \
            f"{C}: {name} exposes {exposed(service)}; the Dockerfile EXPOSEs {port}"
        for key in ("command", "entrypoint"):
            assert key not in service, f"{C}: {name} sets {key}; the image's CMD {cmd} serves port {port}"
        check = service.get("healthcheck")
        if check is not None:  # otherwise the Dockerfile's HEALTHCHECK applies
            assert not check.get("disable"), f"{C}: {name} disables the health check nginx waits for"
            test = " ".join(check["test"]) if isinstance(check.get("test"), list) else str(check.get("test", ""))
            assert f":{port}{path}" in test, \
                f"{C}: {name}'s healthcheck {test!r} does not ask port {port} and path {path} (the Dockerfile's)"


def test_replicas_set_only_settings_the_app_reads():
    code = app_code()
    for name, service in app_services().items():
        env = env_of(service)
        for var in env:
            if not re.search(rf"\b{re.escape(var)}\b", code):
                pytest.fail(f"{C}: {name} sets {var}, which the app never reads (app.py, pages/, ui/, server/, "
                            "explainers/, classroom/)")
        assert env.get("NOISE_LAB_THREADS") == "1", \
            f"{C}: {name} sets NOISE_LAB_THREADS={env.get('NOISE_LAB_THREADS')!r}; one torch thread per replica"
        assert env.get(CLASS_DB), f"{C}: {name} sets no {CLASS_DB}; the replicas would each keep their own SQLite file"
        if "cpus" in service:
            assert float(service["cpus"]) >= int(env["NOISE_LAB_THREADS"]), f"{C}: {name} has cpus {service['cpus']}"


@pytest.mark.parametrize("env", environments(), ids=["defaults", "variables-set"])
def test_class_store_url_names_the_compose_database(env):
    doc = compose(env)
    db_name, db = service_of_image("postgres", doc)
    db_env = env_of(db)
    port = int(db_env.get("PGPORT") or 5432)
    for name, service in app_services(doc).items():
        url = urlsplit(env_of(service)[CLASS_DB])
        assert url.scheme in ("postgresql", "postgres"), \
            f"{C}: {name}'s {CLASS_DB} is {url.scheme}://...; replicas need one shared PostgreSQL"
        hosts = {db_name, db.get("hostname"), db.get("container_name")} - {None}
        assert url.hostname in hosts, \
            f"{C}: {name}'s {CLASS_DB} names host {url.hostname!r}; the database is {db_name!r}"
        assert url.port == port, f"{C}: {name}'s {CLASS_DB} names port {url.port}; PostgreSQL listens on {port}"
        assert exposed(db) in ([], [port]), f"{C}: {db_name} exposes {exposed(db)}; PostgreSQL listens on {port}"
        theirs = (db_env.get("POSTGRES_USER") or "postgres", db_env.get("POSTGRES_PASSWORD"),
                  db_env.get("POSTGRES_DB") or db_env.get("POSTGRES_USER") or "postgres")
        ours = (url.username, url.password, url.path.lstrip("/"))
        assert ours == theirs, f"{C}: {name}'s {CLASS_DB} has user, password, database {ours}; {db_name} " \
            f"starts with POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB {theirs} (environment {env or 'defaults'})"
        assert depends_on(service).get(db_name, {}).get("condition") == "service_healthy", \
            f"{C}: {name} does not depend on {db_name} with condition service_healthy"


def test_database_keeps_its_data_in_a_named_volume_and_reports_health():
    doc = compose()
    name, db = service_of_image("postgres", doc)
    assert db["image"] == "postgres:16", f"{C}: {name} runs {db['image']}; deploy/k8s/ runs postgres:16"
    assert "ports" not in db, f"{C}: {name} publishes {db['ports']} on the host; only the replicas need it"
    mounts = [v if isinstance(v, str) else f"{v.get('source')}:{v.get('target')}" for v in db.get("volumes", [])]
    data = [m.split(":")[0] for m in mounts if m.split(":")[1:2] == [PG_DATA]]
    assert data, f"{C}: {name} mounts nothing at {PG_DATA}; the class store would vanish with the container"
    assert data[0] in (doc.get("volumes") or {}), f"{C}: {name} keeps its data in {data[0]!r}, not a named volume"
    test = db.get("healthcheck", {}).get("test")
    test = " ".join(test) if isinstance(test, list) else str(test)
    assert "pg_isready" in test, f"{C}: {name}'s healthcheck {test!r} does not run pg_isready"


def test_nginx_upstream_is_exactly_the_replicas_on_the_app_port():
    port = app_port()
    apps = sorted(app_services())
    (name,) = proxied_upstreams()
    block = upstream(name)
    servers = sorted(args[0] for args in directives(block, "server"))
    expected = sorted(f"{app}:{port}" for app in apps)
    assert servers == expected, f"{N}: upstream {name} lists {servers}; {C}'s replicas are {expected}"
    assert directives(block, "hash") or directives(block, "ip_hash"), \
        f"{N}: upstream {name} has no hash or ip_hash: a student's requests would reach several replicas"
    for (key, *_) in directives(block, "hash"):
        assert "$request_id" not in key, f"{N}: hash {key} changes on every request; it must be per browser"
    # Sticky: the cookie the key comes from is the one the server sets.
    for (var, *_) in directives(block, "hash"):
        source = next((args[0] for args, _ in blocks(nginx_tree(), "map") if args[1] == var), var)
        cookie = re.fullmatch(r"\$cookie_(\w+)", source)
        if cookie:
            sets = [a for a in directives(the_server(), "add_header") if a[0].lower() == "set-cookie"]
            assert any(a[1].startswith(f"{cookie.group(1)}={var};") for a in sets), \
                f"{N}: the sticky key comes from cookie {cookie.group(1)}, which no add_header Set-Cookie sets to {var}"


def test_nginx_service_mounts_the_config_depends_on_the_replicas_and_publishes_a_port():
    name, nginx = service_of_image("nginx", compose())
    mounts = [v if isinstance(v, str) else f"{v.get('source')}:{v.get('target')}{':ro' if v.get('read_only') else ''}"
              for v in nginx.get("volumes", [])]
    ours = [m for m in mounts if (COMPOSE.parent / m.split(":")[0]).resolve() == NGINX_CONF.resolve()]
    assert ours, f"{C}: {name} does not mount {N}"
    source, target, *mode = ours[0].split(":")
    assert target in ("/etc/nginx/nginx.conf", "/etc/nginx/conf.d/default.conf"), f"{C}: {N} is mounted at {target}"
    assert (target == "/etc/nginx/nginx.conf") == bool(blocks(parse_nginx(NGINX_CONF.read_text()), "http")), \
        f"{C}: {N} mounted at {target}: a whole configuration goes to nginx.conf, an http fragment to conf.d/"
    assert mode and "ro" in mode[0].split(","), f"{C}: {name} mounts {N} writable; mount it read-only (:ro)"
    missing = set(app_services()) - set(depends_on(nginx))
    assert not missing, f"{C}: {name} does not depend on {sorted(missing)}; nginx resolves their names when it starts"
    published = []
    for p in nginx.get("ports", []):
        if isinstance(p, dict):
            published.append((p.get("published"), int(p["target"])))
        else:
            parts = str(p).split("/")[0].split(":")
            published.append((parts[-2] if len(parts) > 1 else None, int(parts[-1])))
    hosted = [(host, target) for host, target in published if host]
    assert hosted, f"{C}: {name} publishes no host port ({nginx.get('ports')}); students could not reach it"
    for host, target in hosted:
        assert target in listen_ports(), f"{C}: {name} publishes {host}:{target}; {N} listens on {listen_ports()}"


def test_nginx_upgrades_the_websocket_with_long_timeouts_and_passes_the_health_check():
    http, server = list(nginx_tree()), the_server()
    where, block = location_for("/_stcore/stream")
    chain = [http, server, block]
    assert directives(block, "proxy_pass") or effective(chain, "proxy_pass"), f"{N}: location {where} proxies nothing"
    headers = {args[0].lower(): args[1] for args in effective(chain, "proxy_set_header")}
    assert headers.get("upgrade") == "$http_upgrade", \
        f"{N}: location {where} sends Upgrade {headers.get('upgrade')!r}; the WebSocket needs $http_upgrade"
    connection = headers.get("connection")
    if connection != "upgrade":
        maps = {args[1]: {key: value[0] if value else "" for key, value, _ in b}
                for args, b in blocks(nginx_tree(), "map") if args[0] == "$http_upgrade"}
        assert connection in maps, f"{N}: location {where} sends Connection {connection!r}, " \
            "neither \"upgrade\" nor a map of $http_upgrade"
        assert maps[connection].get("default") == "upgrade", \
            f"{N}: map $http_upgrade {connection} does not give \"upgrade\" for a WebSocket handshake"
    (version,) = effective(chain, "proxy_http_version") or [["1.0"]]
    assert version == ["1.1"], f"{N}: location {where} proxies with HTTP/{version[0]}; WebSocket needs 1.1"
    for kind in ("proxy_read_timeout", "proxy_send_timeout"):
        (value,) = effective(chain, kind) or [["60s"]]
        assert seconds(value[0]) >= 3600, f"{N}: {kind} {value[0]} at location {where} cuts a quiet WebSocket"
    # Streamlit's health check reaches a replica at the Dockerfile's path.
    where, block = location_for(health_path())
    assert effective([http, server, block], "proxy_pass"), f"{N}: {health_path()} (location {where}) is not proxied"


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")
def test_nginx_config_is_valid():
    """nginx -t on a copy whose upstream names are 127.0.0.1 (nginx resolves names when it loads, and
    app1, app2 exist only on the Compose network)."""
    text = NGINX_CONF.read_text()
    for app in app_services():
        text, count = re.subn(rf"(\bserver\s+){re.escape(app)}(:\d+)", r"\g<1>127.0.0.1\2", text)
        assert count == 1, f"{N}: upstream server {app} appears {count} times"
    if not blocks(parse_nginx(text), "http"):  # an http fragment: wrap it in a minimal main configuration
        text = "events {}\nhttp {\n" + text + "\n}\n"
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "nginx.conf"
        conf.write_text(text)
        checked = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", tmp, "-e", f"{tmp}/error.log",
                                  "-g", f"pid {tmp}/nginx.pid;"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, f"nginx -t on {N}: {checked.stderr}"
    assert "test is successful" in checked.stderr, f"nginx -t on {N}: {checked.stderr}"


def test_guide_explains_compose():
    guide = GUIDE.read_text()
    title = "## Several replicas with Docker Compose"
    assert title in guide, f"docs/DEPLOY.md has no section {title!r}"
    section = guide.split(title, 1)[1].split("\n## ", 1)[0]
    for needed in ("docker compose -f deploy/compose.yaml up --build", C, N, "deploy/run_replicas.sh", "deploy/k8s",
                   CLASS_DB, "tests/test_compose.py"):
        assert needed in section, f"docs/DEPLOY.md, {title[3:]!r}, does not mention {needed}"
    for var in variables():
        assert var in section, f"docs/DEPLOY.md, {title[3:]!r}, does not name {var}, which {C} reads"
