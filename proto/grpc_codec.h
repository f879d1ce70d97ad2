// How the kontor.v1.Node service turns request bytes into messages. Included by the generated
// node.grpc.pb.h (protoc's additional_header_includes, proto/CMakeLists.txt), so every use of
// the service, server and client, sees the same code.
//
// gRPC's own protobuf codec answers a request it cannot parse with INTERNAL and an empty
// message, and inside a client stream it ends the stream as if the client had finished. Here a
// request that does not parse is the client's error: INVALID_ARGUMENT, "malformed (100): ...",
// with an ErrorDetail (docs/protocol.md §12).
//   - The streaming methods' requests (SubmitTxBatch's messages, StreamBlocks' request) are
//     decoded through SerializationTraits<T> of their own type: specialised below. In a
//     SubmitTxBatch stream the failure is remembered for the handler (`TakeStreamParseFailure`),
//     which fails the call instead of treating the stream as finished.
//   - Unary requests are decoded by the generated code as a plain MessageLite, which cannot be
//     specialised per type: node/grpc_service.cpp's interceptor rewrites the INTERNAL status of
//     a failed parse (`RequestParseError`) instead.
#pragma once

#include <grpcpp/impl/codegen/proto_utils.h>

#include <string>

#include "kontor/v1/node.pb.h"

namespace kontor::wire {

// Result code 100 of ledger/result.h (this folder sits below ledger/, so it is spelled out;
// tests/unit/test_errors.cpp checks that the two agree).
inline constexpr unsigned kMalformedCode = 100;
inline constexpr const char* kMalformedName = "malformed";

// Set when a stream message of this thread's current call failed to parse (gRPC's sync API
// deserializes a stream message on the thread that reads it).
inline thread_local bool g_stream_parse_failed = false;

inline bool TakeStreamParseFailure() {
  bool failed = g_stream_parse_failed;
  g_stream_parse_failed = false;
  return failed;
}

inline grpc::Status RequestParseError(const std::string& type_name) {
  std::string text = "request is not a valid " + type_name + " (protobuf cannot parse it)";
  kontor::v1::ErrorDetail detail;
  detail.set_code(kMalformedCode);
  detail.set_name(kMalformedName);
  detail.set_category(kMalformedName);
  detail.set_message(text);
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      std::string(kMalformedName) + " (" + std::to_string(kMalformedCode) + "): " + text,
                      detail.SerializeAsString());
}

template <class T, bool kStream>
class RequestTraits {
 public:
  static grpc::Status Serialize(const grpc::protobuf::MessageLite& msg, grpc::ByteBuffer* bb, bool* own_buffer) {
    return grpc::GenericSerialize<grpc::ProtoBufferWriter, T>(msg, bb, own_buffer);
  }
  static grpc::Status Deserialize(grpc::ByteBuffer* buffer, grpc::protobuf::MessageLite* msg) {
    grpc::Status status = grpc::GenericDeserialize<grpc::ProtoBufferReader, T>(buffer, msg);
    if (status.ok()) return status;
    if (kStream) g_stream_parse_failed = true;
    return RequestParseError(T::descriptor()->full_name());
  }
};

}  // namespace kontor::wire

// The request types of the streaming methods (node.proto). A new streaming rpc's request type
// belongs here too; unary ones are covered by the interceptor.
template <>
class grpc::SerializationTraits<kontor::v1::SubmitTxRequest, void>
    : public kontor::wire::RequestTraits<kontor::v1::SubmitTxRequest, true> {};
template <>
class grpc::SerializationTraits<kontor::v1::StreamBlocksRequest, void>
    : public kontor::wire::RequestTraits<kontor::v1::StreamBlocksRequest, false> {};
