"""An integrator's view: gRPC reflection and health, Prometheus metrics, /healthz."""

import json
import re

import grpc

from proto_wire import iter_fields as _fields


def test_grpc_reflection_lists_the_services(node):
    with grpc.insecure_channel(node.grpc) as channel:
        call = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                     request_serializer=None, response_deserializer=None)
        # ServerReflectionRequest { list_services (7): "*" }
        responses = list(call(iter([b"\x3a\x01*"]), timeout=10))
    names = []
    for number, _, value in _fields(responses[0]):
        if number == 6:  # list_services_response
            for n2, _, service in _fields(value):
                if n2 == 1:  # ServiceResponse
                    names += [v.decode() for n3, _, v in _fields(service) if n3 == 1]
    assert "kontor.v1.Node" in names
    assert "grpc.health.v1.Health" in names
    assert "grpc.reflection.v1alpha.ServerReflection" in names


def test_grpc_health_check_is_serving(node):
    with grpc.insecure_channel(node.grpc) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=None, response_deserializer=None)
        reply = check(b"", timeout=10)  # HealthCheckRequest{service: ""}
    assert dict((n, v) for n, _, v in _fields(reply)).get(1) == 1  # status SERVING


def test_grpc_errors_carry_the_ledger_code(node):
    with grpc.insecure_channel(node.grpc) as channel:
        submit = channel.unary_unary("/kontor.v1.Node/SubmitTx", request_serializer=None, response_deserializer=None)
        try:
            submit(b"\x0a\x03abc", timeout=10)  # SubmitTxRequest{tx: "abc"}: not a Tx
            raise AssertionError("accepted garbage")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert e.details().startswith("malformed (100)")
            details = dict(e.trailing_metadata()).get("grpc-status-details-bin")
            assert details is not None
            detail = dict((n, v) for n, _, v in _fields(details))
            assert detail[1] == 100 and detail[2] == b"malformed"


SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? '
                    r'[-+]?([0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?|Inf|NaN)( [0-9]+)?$')


def parse_prometheus(text):
    """Strict parse of the Prometheus text exposition format; returns {sample name+labels: value}."""
    samples, typed = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            assert len(parts) >= 3, line
            if parts[1] == "TYPE":
                assert parts[3] in ("counter", "gauge", "histogram", "summary", "untyped"), line
                typed[parts[2]] = parts[3]
            continue
        assert not line.startswith("#"), line
        assert SAMPLE.match(line), "not a Prometheus sample line: %r" % line
        name, value = line.rsplit(" ", 1)
        samples[name] = float(value)
    return samples, typed


def test_metrics_parse_as_prometheus_text_and_move(node):
    node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--asset", "USDC")
    status, text = node.http_get("/metrics")
    assert status == 200
    samples, typed = parse_prometheus(text)
    assert typed["kontor_block_height"] == "gauge"
    assert typed["kontor_commit_latency_seconds"] == "histogram"
    assert typed["kontor_txs_total"] == "counter"
    assert samples["kontor_block_height"] >= 1
    assert samples['kontor_txs_total{result="committed"}'] >= 1
    assert samples["kontor_commit_latency_seconds_count"] >= 1
    for name in ("kontor_mempool_txs", "kontor_mempool_bytes", "kontor_peers", "kontor_block_interval_seconds"):
        assert name in samples
    assert any(k.startswith("kontor_build_info{") for k in samples)

    r = node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "10000000", "--asset", "USDC", check=False)
    assert r.rc == 1
    samples, _ = parse_prometheus(node.http_get("/metrics")[1])
    assert samples['kontor_txs_total{result="insufficient_funds"}'] >= 1

    status, body = node.http_get("/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
