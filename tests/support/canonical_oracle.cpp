// kontor-canonical-oracle: our canonical check over stdin, for the cross-check against a
// second protobuf implementation (tests/property/crosscheck_canonical.py).
// Input, one per line:  <message type> <hex or ->
// Output, one per line: ok <hex of the library's re-encoding> | <code name> <message>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "kontor/v1/block.pb.h"
#include "kontor/v1/consensus.pb.h"
#include "kontor/v1/node.pb.h"
#include "kontor/v1/state.pb.h"
#include "kontor/v1/tx.pb.h"
#include "ledger/bytes.h"
#include "ledger/codec.h"

int main() {
  using namespace kontor;
  (void)v1::Tx::descriptor();
  (void)v1::Block::descriptor();
  (void)v1::ConsensusMessage::descriptor();
  (void)v1::Account::descriptor();
  (void)v1::GetStatusResponse::descriptor();
  std::ios::sync_with_stdio(false);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream in(line);
    std::string type_name, hex;
    in >> type_name >> hex;
    const auto* type = google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(type_name);
    if (!type) {
      std::cerr << "unknown message type " << type_name << "\n";
      return 2;
    }
    auto bytes = hex == "-" ? std::optional<Bytes>(Bytes()) : HexDecode(hex);
    if (!bytes) {
      std::cerr << "bad hex on line: " << line << "\n";
      return 2;
    }
    std::unique_ptr<google::protobuf::Message> message(
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
    Result r = DecodeCanonical(*bytes, bytes->size(), "input", message.get());
    if (r.ok())
      std::cout << "ok " << HexEncode(CanonicalBytes(*message)) << "\n";
    else
      std::cout << CodeName(r.code()) << " " << r.message() << "\n";
  }
  return 0;
}
