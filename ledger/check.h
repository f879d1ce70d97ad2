// Assertions for programmer errors. They stay on in release builds (TigerBeetle style):
// a broken invariant inside the node must stop it, never corrupt the ledger.
// Never use them for input validation; bad input is a Result.
#pragma once

#include <cstdio>
#include <cstdlib>

#define KONTOR_CHECK(cond)                                                              \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
