"""tools/demo.sh, the README's short scenario, runs start to finish against a real dev node."""

import os
import subprocess

from kontor_harness import BUILD, Node

DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "demo.sh")


def test_demo_script_runs_against_a_dev_node():
    node = Node(block_interval_ms=100).start()
    try:
        env = dict(os.environ, KONTOR_HOME=node.home, KONTOR_BUILD_DIR=os.path.abspath(BUILD),
                   KONTOR_PASSPHRASE="demo-passphrase", KONTOR_NODE=node.grpc)
        proc = subprocess.run(["bash", DEMO], capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        out = proc.stdout
        assert "(rejected as expected)" in out
        assert "disputed" in out and "resolved" in out
        assert "CLOSE_REASON_RENTER_CLOSED" in out or "RENTER_CLOSED" in out
    finally:
        node.stop()
        node.cleanup()
