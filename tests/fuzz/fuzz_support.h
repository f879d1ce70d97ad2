// What the libFuzzer targets share. Each target is one LLVMFuzzerTestOneInput over a part of
// the node that reads bytes from someone else; FUZZ_CHECK turns a broken property into a
// crash libFuzzer reports (and saves the input of).
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#define FUZZ_CHECK(cond, what)                                                     \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "fuzz property failed: %s (%s)\n", #cond, std::string(what).c_str()); \
      std::abort();                                                                \
    }                                                                              \
  } while (0)
