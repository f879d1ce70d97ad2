"""The node's HTTP port under hostile clients: idle and slow connections cannot starve /healthz
and /metrics, and a wrong method is 405. Only 127.0.0.1, with a bounded number of connections."""

import socket
import time
import urllib.error
import urllib.request


def get(node, path, timeout=3):
    with urllib.request.urlopen("http://%s%s" % (node.http, path), timeout=timeout) as r:
        return r.status, r.read().decode()


def connect(node):
    host, port = node.http.rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=5)


def test_wrong_methods_are_405_with_allow(node):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/healthz", "/metrics"):
            req = urllib.request.Request("http://%s%s" % (node.http, path), data=b"x", method=method)
            try:
                urllib.request.urlopen(req, timeout=3)
                raise AssertionError("%s %s succeeded" % (method, path))
            except urllib.error.HTTPError as e:
                assert e.code == 405, (method, path, e.code)
                assert e.headers.get("Allow") == "GET"
    # An unknown path is still 404.
    try:
        get(node, "/nothing")
        raise AssertionError("GET /nothing succeeded")
    except urllib.error.HTTPError as e:
        assert e.code == 404


def test_idle_connections_do_not_starve_health_and_metrics(node):
    idle = [connect(node) for _ in range(24)]
    try:
        started = time.time()
        status, body = get(node, "/healthz")
        assert status == 200 and '"status":"ok"' in body
        status, _ = get(node, "/metrics")
        assert status == 200
        assert time.time() - started < 3
    finally:
        for s in idle:
            s.close()


def test_slow_senders_do_not_starve_health_and_are_cut_when_they_stop(node):
    slow = [connect(node) for _ in range(12)]
    try:
        for s in slow:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        deadline = time.time() + 3
        answered = 0
        while time.time() < deadline:
            for s in slow:
                try:
                    s.sendall(b"X")  # never finishing the headers
                except OSError:
                    pass
            status, _ = get(node, "/healthz", timeout=2)
            answered += status == 200
            time.sleep(0.3)
        assert answered >= 5
        # Once they stop sending, the read timeout (1 s) ends each of them: the server answers
        # with an error or closes, and holds nothing.
        for s in slow:
            s.settimeout(4)
            try:
                data = s.recv(64)
            except socket.timeout:
                raise AssertionError("a slow sender was still held open 4 s after it stopped")
            except ConnectionResetError:
                data = b""
            assert data == b"" or data.startswith(b"HTTP/1.1 4"), data
    finally:
        for s in slow:
            s.close()
