"""Test harness for functional tests: real kontord processes on 127.0.0.1 with ephemeral
ports and temporary homes, driven through the real kontor CLI (after Bitcoin Core's
test_framework). Nothing here talks to anything but loopback."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

BUILD = os.environ.get("KONTOR_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
# $KONTORD / $KONTOR override one program (tools/sanitize.sh runs a sanitized kontord with
# the normal CLI).
KONTORD = os.environ.get("KONTORD") or os.path.join(BUILD, "node", "kontord")
KONTOR = os.environ.get("KONTOR") or os.path.join(BUILD, "tools", "kontor")


class CliResult:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)


class Node:
    """One kontord on a dev home. Start/stop/kill it and run CLI commands against it."""

    def __init__(self, block_interval_ms=100, home=None):
        self.home = home or tempfile.mkdtemp(prefix="kontor-func-")
        self.proc = None
        self.log_path = os.path.join(self.home, "kontord.log")
        if not os.path.exists(os.path.join(self.home, "config.toml")):
            subprocess.run([KONTORD, "--home", self.home, "init", "--dev", "--block-interval-ms", str(block_interval_ms)],
                           check=True, capture_output=True, text=True, timeout=60)

    # -- process control
    def start(self, wait=True):
        run_file = os.path.join(self.home, "kontord.json")
        if os.path.exists(run_file):
            os.remove(run_file)
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [KONTORD, "--home", self.home, "start", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
            stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            deadline = time.time() + 30
            while not os.path.exists(run_file):
                if self.proc.poll() is not None:
                    raise RuntimeError("kontord exited with %s:\n%s" % (self.proc.returncode, self.read_log()))
                if time.time() > deadline:
                    raise RuntimeError("kontord did not start:\n" + self.read_log())
                time.sleep(0.05)
            with open(run_file) as f:
                info = json.load(f)
            self.grpc = info["grpc"]
            self.http = info["http"]
        return self

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        rc = self.proc.returncode if self.proc else None
        self.proc = None
        if hasattr(self, "log"):
            self.log.close()
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.home, ignore_errors=True)

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    # -- clients
    def cli(self, *args, keyring="test", output=None, check=True, env=None, node=True, timeout=60):
        cmd = [KONTOR, "--home", self.home, "--keyring", keyring]
        if node:
            cmd += ["--node", self.grpc]
        if output:
            cmd += ["--output", output]
        cmd += [str(a) for a in args]
        full_env = dict(os.environ)
        full_env.update(env or {})
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
        result = CliResult(proc)
        if check and result.rc != 0:
            raise AssertionError("%s failed (%d):\n%s%s" % (" ".join(cmd), result.rc, result.out, result.err))
        return result

    def cli_json(self, *args, **kw):
        return self.cli(*args, output="json", **kw).json()

    def http_get(self, path):
        with urllib.request.urlopen("http://%s%s" % (self.http, path), timeout=10) as r:
            return r.status, r.read().decode()

    def address(self, name):
        return self.cli_json("keys", "show", name, node=False)["address"]

    def balance(self, who, asset):
        for b in self.cli_json("query", "account", who)["balances"]:
            if b["asset"] == asset:
                return int(b["amount"])
        return 0

    def wait_height(self, height, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.cli_json("query", "head")["height"] >= height:
                return
            time.sleep(0.05)
        raise AssertionError("node did not reach height %d" % height)
