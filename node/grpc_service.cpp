#include "node/grpc_service.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>

#include <algorithm>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/support/server_interceptor.h>
#include <spdlog/spdlog.h>

#include "ledger/accounts.h"
#include "ledger/bech32m.h"

namespace kontor::node {

namespace {
// An error's text as sent: at most this many bytes, so a reply never passes a client's metadata
// limit (gRPC clients refuse trailers over 8 KiB by default, and the message goes in one).
constexpr size_t kErrorMessageBytesMax = 512;

std::string Capped(std::string text) {
  if (text.size() <= kErrorMessageBytesMax) return text;
  size_t full = text.size();
  text.resize(kErrorMessageBytesMax);
  // Do not cut a UTF-8 sequence in half.
  while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
  if (!text.empty() && static_cast<unsigned char>(text.back()) >= 0xC0) text.pop_back();
  return text + "...(" + std::to_string(full) + " bytes)";
}
}  // namespace

grpc::Status ToStatus(const Result& result) {
  if (result.ok()) return grpc::Status::OK;
  grpc::StatusCode code = grpc::StatusCode::INTERNAL;
  auto n = static_cast<unsigned>(result.code());
  if (result.code() == Code::kNotFound) code = grpc::StatusCode::NOT_FOUND;
  else if (result.code() == Code::kDuplicate) code = grpc::StatusCode::ALREADY_EXISTS;
  else if (result.code() == Code::kMempoolFull) code = grpc::StatusCode::RESOURCE_EXHAUSTED;
  else if (n >= 100 && n < 200) code = grpc::StatusCode::INVALID_ARGUMENT;
  else if (n >= 200 && n < 300) code = grpc::StatusCode::PERMISSION_DENIED;
  else if (n >= 300 && n < 500) code = grpc::StatusCode::FAILED_PRECONDITION;
  else if (n >= 500 && n < 600) code = grpc::StatusCode::UNAVAILABLE;
  else if (n >= 700 && n < 800) code = grpc::StatusCode::INVALID_ARGUMENT;
  v1::ErrorDetail detail;
  detail.set_code(n);
  detail.set_name(std::string(CodeName(result.code())));
  detail.set_category(std::string(CodeCategory(result.code())));
  detail.set_message(Capped(result.message()));
  return grpc::Status(code, Capped(result.ToString()), detail.SerializeAsString());
}

bool DetailOf(const grpc::Status& status, v1::ErrorDetail* detail) {
  return !status.error_details().empty() && detail->ParseFromString(status.error_details());
}

static v1::ErrorDetail DetailFrom(const Result& r) {
  v1::ErrorDetail d;
  d.set_code(static_cast<unsigned>(r.code()));
  d.set_name(std::string(CodeName(r.code())));
  d.set_category(std::string(CodeCategory(r.code())));
  d.set_message(Capped(r.message()));
  return d;
}

static Result KeyFromBytes(const std::string& bytes, PublicKey* key) {
  if (bytes.size() != 32) return {Code::kBadKey, "key must be 32 bytes, got " + std::to_string(bytes.size())};
  *key = Hash256::FromBytes(bytes);
  return Result::Ok();
}

class GrpcServer::Service final : public v1::Node::Service {
 public:
  explicit Service(Node& node) : node_(node) {}

  grpc::Status SubmitTx(grpc::ServerContext*, const v1::SubmitTxRequest* req, v1::SubmitTxResponse* resp) override {
    auto results = node_.Submit({req->tx()});
    resp->set_txid(results[0].first.bytes());
    return ToStatus(results[0].second);
  }

  grpc::Status SubmitTxBatch(grpc::ServerContext*, grpc::ServerReader<v1::SubmitTxRequest>* reader,
                             v1::SubmitTxBatchResponse* resp) override {
    // Admit in chunks so a long stream is verified in parallel without holding it all.
    constexpr size_t kChunk = 512;
    // The reply holds a result per tx: a stream may not grow it without bound.
    constexpr size_t kBatchTxsMax = 100'000;
    std::vector<std::string> chunk;
    v1::SubmitTxRequest req;
    auto flush = [&] {
      for (auto& [txid, r] : node_.Submit(chunk)) {
        auto* out = resp->add_results();
        if (!txid.IsZero()) out->set_txid(txid.bytes());
        if (r.ok()) {
          resp->set_accepted(resp->accepted() + 1);
        } else {
          *out->mutable_error() = DetailFrom(r);
          resp->set_rejected(resp->rejected() + 1);
        }
      }
      chunk.clear();
    };
    size_t received = 0;
    wire::TakeStreamParseFailure();  // clear what an earlier call on this thread left
    while (reader->Read(&req)) {
      if (++received > kBatchTxsMax) {
        if (!chunk.empty()) flush();
        return ToStatus({Code::kTooLarge, "a batch holds at most " + std::to_string(kBatchTxsMax) + " txs; the first " +
                                              std::to_string(kBatchTxsMax) + " were processed (look them up by txid) and the rest ignored"});
      }
      chunk.push_back(std::move(*req.mutable_tx()));
      if (chunk.size() == kChunk) flush();
    }
    if (!chunk.empty()) flush();
    // Read() also ends the loop when a message does not parse: that is the client's error,
    // not the end of its stream.
    if (wire::TakeStreamParseFailure())
      return ToStatus({Code::kMalformed, "stream message " + std::to_string(received + 1) +
                                             " is not a valid kontor.v1.SubmitTxRequest; the " + std::to_string(received) +
                                             " before it were processed (look them up by txid) and the rest ignored"});
    return grpc::Status::OK;
  }

  grpc::Status GetTx(grpc::ServerContext*, const v1::GetTxRequest* req, v1::GetTxResponse* resp) override {
    if (req->txid().size() != 32) return ToStatus({Code::kMalformed, "txid must be 32 bytes"});
    TxStatusInfo info = node_.GetTx(Hash256::FromBytes(req->txid()));
    resp->set_txid(req->txid());
    switch (info.status) {
      case TxStatusInfo::Status::kCommitted:
        resp->set_status(v1::TX_STATUS_COMMITTED);
        resp->set_height(info.height);
        resp->set_index(info.index);
        resp->set_block_hash(info.block_hash.bytes());
        break;
      case TxStatusInfo::Status::kPending: resp->set_status(v1::TX_STATUS_PENDING); break;
      case TxStatusInfo::Status::kRejected:
        resp->set_status(v1::TX_STATUS_REJECTED);
        *resp->mutable_error() = DetailFrom(info.rejection);
        break;
      case TxStatusInfo::Status::kUnknown: resp->set_status(v1::TX_STATUS_UNKNOWN); break;
    }
    resp->set_tx(info.envelope);
    return grpc::Status::OK;
  }

  grpc::Status GetBlock(grpc::ServerContext*, const v1::GetBlockRequest* req, v1::GetBlockResponse* resp) override {
    BlockInfo info;
    Result r = req->selector_case() == v1::GetBlockRequest::kHash
                   ? (req->hash().size() == 32 ? node_.GetBlockByHash(Hash256::FromBytes(req->hash()), &info)
                                               : Result(Code::kMalformed, "block hash must be 32 bytes"))
                   : node_.GetBlock(req->height(), &info);
    if (!r.ok()) return ToStatus(r);
    resp->set_height(info.height);
    resp->set_hash(info.hash.bytes());
    *resp->mutable_header() = info.header;
    *resp->mutable_block() = info.stored.block();
    *resp->mutable_commit() = info.stored.commit();
    return grpc::Status::OK;
  }

  grpc::Status StreamBlocks(grpc::ServerContext* context, const v1::StreamBlocksRequest* req,
                            grpc::ServerWriter<v1::BlockEvent>* writer) override {
    const uint64_t tip = node_.GetStatus().height;
    if (req->from_height() > tip + 1)
      return ToStatus({Code::kNotFound, "no block at height " + std::to_string(req->from_height()) + " yet; the tip is " +
                                            std::to_string(tip) + " (stream from at most tip + 1, or 0 for the next block)"});
    uint64_t sent = req->from_height() == 0 ? tip : req->from_height() - 1;
    while (!context->IsCancelled() && !node_.stopping()) {
      uint64_t tip = node_.WaitForBlockAbove(sent, std::chrono::milliseconds(500));
      while (sent < tip && !context->IsCancelled()) {
        BlockInfo info;
        Result r = node_.GetBlock(sent + 1, &info);
        if (!r.ok()) return ToStatus(r);
        v1::BlockEvent event;
        event.set_height(info.height);
        event.set_hash(info.hash.bytes());
        event.set_time_ms(info.header.time_ms());
        event.set_tx_count(info.header.tx_count());
        event.set_state_root(info.header.state_root());
        for (const auto& tx : info.stored.block().txs()) {
          v1::Tx envelope;
          if (envelope.ParseFromString(tx)) event.add_txids(ComputeTxid(envelope.body()).bytes());
        }
        if (!writer->Write(event)) return grpc::Status::OK;  // client went away
        ++sent;
      }
    }
    return node_.stopping() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "node is shutting down") : grpc::Status::OK;
  }

  grpc::Status GetAccount(grpc::ServerContext*, const v1::GetAccountRequest* req, v1::GetAccountResponse* resp) override {
    PublicKey key;
    if (Result r = KeyFromBytes(req->key(), &key); !r.ok()) return ToStatus(r);
    uint64_t height = 0;
    bool exists = false;
    uint64_t next_nonce = 0;
    v1::Account account = node_.GetAccount(key, &height, &exists, &next_nonce);
    resp->set_next_nonce(next_nonce);
    resp->set_key(key.bytes());
    resp->set_address(EncodeAddress(key));
    resp->set_nonce(account.nonce());
    resp->set_height(height);
    resp->set_exists(exists);
    for (const auto& b : account.balances()) {
      auto* out = resp->add_balances();
      out->set_asset(b.asset());
      out->set_amount(b.amount());
      const GenesisAsset* asset = node_.genesis().FindAsset(b.asset());
      out->set_decimals(asset ? asset->decimals : 0);
    }
    return grpc::Status::OK;
  }

  grpc::Status GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*, v1::GetStatusResponse* resp) override {
    Node::Status s = node_.GetStatus();
    resp->set_chain_id(node_.genesis().chain_id);
    resp->set_height(s.height);
    resp->set_hash(s.hash.bytes());
    resp->set_time_ms(s.time_ms);
    resp->set_syncing(false);
    resp->set_peers(0);
    resp->set_version(kVersion);
    resp->set_genesis_hash(node_.genesis().hash.bytes());
    resp->set_state_root(s.state_root.bytes());
    resp->set_mempool_txs(static_cast<uint32_t>(s.mempool_txs));
    resp->set_mempool_bytes(s.mempool_bytes);
    resp->set_validator(node_.validator().bytes());
    resp->set_fee_asset(node_.genesis().params.fee_asset);
    resp->set_min_fee(node_.genesis().params.min_fee);
    return grpc::Status::OK;
  }

  grpc::Status ListAssets(grpc::ServerContext*, const v1::ListAssetsRequest*, v1::ListAssetsResponse* resp) override {
    for (const v1::Asset& a : node_.ListAssets()) {
      auto* out = resp->add_assets();
      out->set_symbol(a.symbol());
      out->set_decimals(a.decimals());
      out->set_gateway(a.gateway());
      out->set_genesis_supply(a.genesis_supply());
      out->set_deposited(a.deposited());
      out->set_withdrawn(a.withdrawn());
      out->set_deposited_hi(a.deposited_hi());
      out->set_withdrawn_hi(a.withdrawn_hi());
      out->set_outstanding(OutstandingSupply(a).value_or(0));
    }
    return grpc::Status::OK;
  }

  grpc::Status QueryState(grpc::ServerContext*, const v1::QueryStateRequest* req, v1::QueryStateResponse* resp) override {
    if (req->kind() == 0 || req->kind() > 255) return ToStatus({Code::kBadField, "record kind must be 1..255"});
    if (req->id().size() > 256) return ToStatus({Code::kTooLarge, "record id is longer than 256 bytes"});
    std::optional<std::string> value;
    Hash256 key, root;
    uint64_t height = 0;
    StateProof proof;
    Result r = node_.QueryState(static_cast<uint8_t>(req->kind()), req->id(), req->height(), req->prove(), &value, &key,
                                &height, &root, &proof);
    if (!r.ok()) return ToStatus(r);
    resp->set_found(value.has_value() || (proof.terminal_is_leaf && proof.leaf_key == key));
    if (value) resp->set_value(*value);
    resp->set_key(key.bytes());
    resp->set_height(height);
    resp->set_state_root(root.bytes());
    if (req->prove()) {
      auto* p = resp->mutable_proof();
      for (const auto& s : proof.siblings) p->add_siblings(s.bytes());
      p->set_terminal_is_leaf(proof.terminal_is_leaf);
      if (proof.terminal_is_leaf) {
        p->set_leaf_key(proof.leaf_key.bytes());
        p->set_leaf_value_hash(proof.leaf_value_hash.bytes());
      }
    }
    return grpc::Status::OK;
  }

 private:
  Node& node_;
};

namespace {

// "/kontor.v1.Node/GetStatus" -> "kontor.v1.GetStatusRequest" (empty if not a Node method).
std::string RequestTypeOf(std::string_view method_path) {
  size_t slash = method_path.rfind('/');
  if (slash == std::string_view::npos) return "";
  const auto* service = v1::GetStatusRequest::descriptor()->file()->FindServiceByName("Node");
  const auto* method = service ? service->FindMethodByName(std::string(method_path.substr(slash + 1))) : nullptr;
  return method ? method->input_type()->full_name() : "";
}

// gRPC answers a unary request it cannot parse with INTERNAL and an empty message before any
// handler runs (our handlers never send that). Rewritten into the client's error it is.
grpc::Status ClarifyParseFailure(std::string_view method_path, const grpc::Status& status) {
  if (status.error_code() != grpc::StatusCode::INTERNAL || !status.error_message().empty()) return status;
  std::string type = RequestTypeOf(method_path);
  if (type.empty()) return status;
  return wire::RequestParseError(type);
}

class ParseErrorInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit ParseErrorInterceptor(std::string method) : method_(std::move(method)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      grpc::Status clear = ClarifyParseFailure(method_, status);
      if (clear.error_code() != status.error_code()) methods->ModifySendStatus(clear);
    }
    methods->Proceed();
  }

 private:
  std::string method_;
};

class ParseErrorInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new ParseErrorInterceptor(info->method());
  }
};

// As the server does it for a unary method: the generated code decodes the request as a plain
// MessageLite, and a failure goes out through the interceptor above.
template <class Req, class Resp, class Handler>
grpc::Status Dispatch(std::string_view method, std::string_view request, std::string* response, Handler handler) {
  grpc::Slice slice(request.data(), request.size());
  grpc::ByteBuffer buffer(&slice, 1);
  Req req;
  grpc::Status status = grpc::SerializationTraits<grpc::protobuf::MessageLite>::Deserialize(&buffer, &req);
  if (!status.ok()) return ClarifyParseFailure("/kontor.v1.Node/" + std::string(method), status);
  Resp resp;
  grpc::ServerContext context;
  status = handler(&context, &req, &resp);
  if (status.ok()) *response = resp.SerializeAsString();
  return status;
}
}  // namespace

grpc::Status CallUnary(Node& node, std::string_view method, std::string_view request, std::string* response) {
  GrpcServer::Service service(node);
  using S = GrpcServer::Service;
  auto bind = [&service](auto fn) {
    return [&service, fn](auto* c, auto* q, auto* r) { return (service.*fn)(c, q, r); };
  };
  if (method == "SubmitTx")
    return Dispatch<v1::SubmitTxRequest, v1::SubmitTxResponse>(method, request, response, bind(&S::SubmitTx));
  if (method == "GetTx") return Dispatch<v1::GetTxRequest, v1::GetTxResponse>(method, request, response, bind(&S::GetTx));
  if (method == "GetBlock")
    return Dispatch<v1::GetBlockRequest, v1::GetBlockResponse>(method, request, response, bind(&S::GetBlock));
  if (method == "GetAccount")
    return Dispatch<v1::GetAccountRequest, v1::GetAccountResponse>(method, request, response, bind(&S::GetAccount));
  if (method == "GetStatus")
    return Dispatch<v1::GetStatusRequest, v1::GetStatusResponse>(method, request, response, bind(&S::GetStatus));
  if (method == "ListAssets")
    return Dispatch<v1::ListAssetsRequest, v1::ListAssetsResponse>(method, request, response, bind(&S::ListAssets));
  if (method == "QueryState")
    return Dispatch<v1::QueryStateRequest, v1::QueryStateResponse>(method, request, response, bind(&S::QueryState));
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no unary method " + std::string(method));
}

GrpcServer::GrpcServer(Node& node) : service_(std::make_unique<Service>(node)) {}
GrpcServer::~GrpcServer() { Shutdown(); }

Result GrpcServer::Start(const std::string& listen, uint64_t message_bytes_max, int* bound_port) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), bound_port);
  // No request is larger than one tx and its framing: gRPC refuses a bigger message from its
  // length prefix, before the node buffers it. Replies (whole blocks) may be larger.
  builder.SetMaxReceiveMessageSize(static_cast<int>(std::min<uint64_t>(message_bytes_max, kRequestBytesMax)));
  builder.SetMaxSendMessageSize(static_cast<int>(message_bytes_max));
  builder.RegisterService(service_.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<ParseErrorInterceptorFactory>());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  if (!server_ || *bound_port == 0)
    return {Code::kUnavailable, "cannot listen for gRPC on " + listen + " (address in use, or not an address of this machine)"};
  return Result::Ok();
}

void GrpcServer::Shutdown() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
}

}  // namespace kontor::node
