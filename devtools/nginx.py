"""Debian's nginx in front of local Noise Lab replicas, with the shipped deploy/nginx.conf: for the deployment
tests and the load harness's --replicas. Only the listen port, the upstream ports, logs and temp paths change."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from devtools.live_server import ROOT, free_port

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.path.exists(p)),
                                      None)


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def conf_for(conf: str, listen: int, upstreams: list[int], tmp: Path) -> str:
    """The shipped configuration with only its ports, logs and temp paths changed."""
    assert conf.count("listen 80;") == 1
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{listen};")
    lines = re.findall(r"^\s*server 127\.0\.0\.1:\d+ .*;$", conf, flags=re.M)
    assert len(lines) == 3
    conf = conf.replace(lines[0], "\n".join(re.sub(r":\d+ ", f":{p} ", lines[0]) for p in upstreams))
    for line in lines[1:]:
        conf = conf.replace(line + "\n", "")
    paths = "".join(f"    {kind}_temp_path {tmp}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return conf.replace("http {\n", f"http {{\n    access_log {tmp}/access.log;\n{paths}", 1)


@contextlib.contextmanager
def nginx_in_front(upstreams: list[int]):
    """nginx on a free local port, balancing over `upstreams` as deploy/nginx.conf does; yields the port."""
    if NGINX is None:
        raise RuntimeError("nginx is not installed (apt-get install -y nginx)")
    tmp = Path(tempfile.mkdtemp(prefix="noise-lab-nginx-"))
    tmp.chmod(0o755)  # nginx's workers (nobody, when started as root) write their temp files here
    port = free_port()
    (tmp / "nginx.conf").write_text(conf_for(NGINX_CONF.read_text(), port, upstreams, tmp))
    proc = subprocess.Popen([NGINX, "-c", str(tmp / "nginx.conf"), "-p", str(tmp), "-e", str(tmp / "error.log"),
                             "-g", f"daemon off; pid {tmp}/nginx.pid;"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 10
        while port_is_free(port):
            assert proc.poll() is None and time.time() < deadline, (tmp / "error.log").read_text()
            time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
