// Our canonical-encoding check (ledger/canonical.cpp) against the protobuf library, for every
// kontor.v1 message type (the first byte picks the type). The library's verdict: the bytes
// parse, and with unknown fields dropped re-encode deterministically to themselves.
// Properties: whatever we accept the library accepts and re-encodes unchanged; whatever the
// library accepts we accept, except the one documented stricter rule (enum values above
// 2^31-1, docs/protocol.md §3).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>

#include <memory>
#include <vector>

#include "kontor/v1/block.pb.h"
#include "kontor/v1/node.pb.h"
#include "kontor/v1/state.pb.h"
#include "kontor/v1/tx.pb.h"
#include "ledger/canonical.h"
#include "ledger/codec.h"
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include "ledger/bytes.h"
#include "ledger/check.h"
#include "tests/fuzz/fuzz_support.h"

using namespace kontor;
using google::protobuf::Descriptor;

namespace {

void AddTypes(const google::protobuf::FileDescriptor* file, std::vector<const Descriptor*>* out) {
  for (int i = 0; i < file->message_type_count(); ++i) out->push_back(file->message_type(i));
}

const std::vector<const Descriptor*>& Types() {
  static const auto* types = [] {
    auto* t = new std::vector<const Descriptor*>;
    AddTypes(v1::Tx::descriptor()->file(), t);
    AddTypes(v1::Block::descriptor()->file(), t);
    AddTypes(v1::Account::descriptor()->file(), t);
    AddTypes(v1::GetStatusResponse::descriptor()->file(), t);
    return t;
  }();
  return *types;
}

bool LibraryAccepts(const Descriptor* type, std::string_view bytes) {
  std::unique_ptr<google::protobuf::Message> m(google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
  if (!m->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return false;
  m->DiscardUnknownFields();
  return CanonicalBytes(*m) == bytes;
}

}  // namespace

// Seeds: every vector of tests/data/canonical-vectors.txt, prefixed with its type's index.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("KONTOR_FUZZ_WRITE_SEEDS");
  if (!dir) return 0;
  std::ifstream in(std::string(KONTOR_TEST_DATA) + "/canonical-vectors.txt");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string type, verdict, hex;
    fields >> type >> verdict >> hex;
    size_t index = 0;
    while (index < Types().size() && Types()[index]->full_name() != type) ++index;
    KONTOR_CHECK(index < Types().size());
    auto bytes = hex == "-" ? std::optional<Bytes>(Bytes()) : HexDecode(hex);
    KONTOR_CHECK(bytes.has_value());
    std::ofstream(std::filesystem::path(dir) / ("vector-" + std::to_string(n++))) << static_cast<char>(index) << *bytes;
  }
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const Descriptor* type = Types()[data[0] % Types().size()];
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  Result ours = CheckCanonical(bytes, type, "input");
  bool library = LibraryAccepts(type, bytes);
  if (ours.ok()) {
    FUZZ_CHECK(library, type->full_name() + ": we accept what the library would not re-encode unchanged");
  } else if (library) {
    FUZZ_CHECK(ours.code() == Code::kNonCanonical && ours.message().find("enum value") != std::string::npos,
               type->full_name() + ": the library accepts what we refuse: " + ours.message());
  }
  return 0;
}
