import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from kontor_harness import Node  # noqa: E402


@pytest.fixture
def node():
    n = Node().start()
    yield n
    n.stop()
    n.cleanup()
