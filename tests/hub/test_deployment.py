"""The hub as docs/hub.md deploys it: `reeeboot-hub serve --workers 2` behind nginx.

Reports go through the proxy from many threads at once, each one twice; every report must be
stored exactly once, and the pages must name the proxy's address (forwarded headers).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from hub.accounts import hash_password
from hub.store import Store
from tests.hub.helpers import PASSWORD, Station
from tests.hubserver import free_port

ROOT = Path(__file__).parents[2]
NGINX_CONF = """
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    client_max_body_size 17m;
    upstream reeeboot_hub {{ server 127.0.0.1:{hub_port}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://reeeboot_hub;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{what} did not listen on {port}")


@pytest.fixture
def behind_nginx(database_url: str, tmp_path: Path) -> Iterator[tuple[str, Store, int]]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is needed: tests/hub-services installs it")
    migrate = subprocess.run([str(ROOT / ".venv/bin/reeeboot-hub"), "--database", database_url,
                              "migrate"], capture_output=True, text=True)
    assert migrate.returncode == 0, migrate.stderr
    hub_port, proxy_port = free_port(), free_port()
    hub = subprocess.Popen([str(ROOT / ".venv/bin/reeeboot-hub"), "--database", database_url,
                            "serve", "--workers", "2", "--port", str(hub_port)],
                           env={**os.environ, "REEEBOOT_LANGUAGE": "en"})
    (tmp_path / "nginx.conf").write_text(NGINX_CONF.format(prefix=tmp_path, hub_port=hub_port,
                                                           port=proxy_port))
    proxy = subprocess.Popen([nginx, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)])
    store = Store(database_url, apply_migrations=False)
    try:
        wait_for_port(hub_port, hub, "the hub")
        wait_for_port(proxy_port, proxy, "nginx")
        yield f"http://127.0.0.1:{proxy_port}", store, hub.pid
    finally:
        store.close()
        for process in (proxy, hub):
            process.terminate()
            process.wait(timeout=30)


def test_two_workers_behind_nginx_store_each_report_once(
        behind_nginx: tuple[str, Store, int]) -> None:
    url, store, hub_pid = behind_nginx
    assert len(worker_processes(hub_pid)) == 2
    store.add_workshop("Lyon")
    stations = [_enroll_through(url, f"proxy-{number}", store.add_station(f"proxy-{number}",
                                                                          "Lyon"))
                for number in range(3)]
    store.add_person("admin@example.org", hash_password(PASSWORD), "admin", None)
    envelopes = [stations[n % 3].sign(stations[n % 3].report(f"PROXY-{n:03d}"))
                 for n in range(60)]

    def send(envelope: dict) -> int:
        return requests.post(f"{url}/api/v1/reports", json=envelope, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(send, envelopes + envelopes))
    assert statuses.count(201) == 60 and statuses.count(200) == 60, statuses
    assert store.report_count() == 60
    assert sorted(row["system_serial"] for row in store.reports()) == sorted(
        f"PROXY-{n:03d}" for n in range(60))

    # The pages through the proxy: sign in, and the passport's public link names the proxy.
    session = requests.Session()
    form = session.get(f"{url}/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf is not None
    signed_in = session.post(f"{url}/login", data={
        "email": "admin@example.org", "password": PASSWORD, "csrf_token": csrf.group(1),
        "next": "/machines"})
    assert signed_in.status_code == 200 and "PROXY-000" in signed_in.text
    machine_id = store.machines()[0]["machine_id"]
    passport = session.get(f"{url}/machines/{machine_id}").text
    link = re.search(rf"({re.escape(url)}/p/[A-Za-z0-9_-]{{32}})<", passport)
    assert link is not None
    # The new owner's passport, through the proxy, without a session, not for search engines.
    public = requests.get(link.group(1), timeout=60)
    assert public.status_code == 200 and "noindex" in public.headers["x-robots-tag"]


def worker_processes(parent: int) -> list[int]:
    """uvicorn's worker processes: the children of the serving process that run Python."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"\nPPid:\t{parent}\n" in status and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


def _enroll_through(url: str, name: str, token: str) -> Station:
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from agent.report import dsse

    key = Ed25519PrivateKey.generate()
    response = requests.post(f"{url}/api/v1/stations/enroll", json={
        "token": token, "name": name,
        "public_key": base64.b64encode(dsse.public_key_bytes(key.public_key())).decode()},
        timeout=30)
    assert response.status_code == 201, response.text
    return Station(name, key)
