// tests/fuzz/fuzz_check.h — what every fuzz target uses to report a broken invariant.
//
// FUZZ_CHECK(cond, fmt, ...) prints the condition, the place and a printf-style explanation to
// stderr and aborts: libFuzzer then saves the input as a crash-* file (tests/fuzz/README.md).
// A failed check is a finding exactly like a sanitizer report.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond, ...)                                                              \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      std::fprintf(stderr, "\n==FUZZ== invariant failed: %s\n==FUZZ== at %s:%d\n==FUZZ== ", \
                   #cond, __FILE__, __LINE__);                                             \
      std::fprintf(stderr, __VA_ARGS__);                                                   \
      std::fprintf(stderr, "\n");                                                          \
      std::abort();                                                                        \
    }                                                                                      \
  } while (0)
