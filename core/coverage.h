// core/coverage.h: what fuzzing builds leave out of coverage instrumentation
// (clang's SanitizerCoverage: -fsanitize=fuzzer, fuzzer-no-link).
//
// Coverage guides libFuzzer only where a branch depends on the input: the
// decoder, the model's and the impl's checks. Two kinds of code get none and
// cost the most per exec, so they are left out:
// - byte-copy loops (AMC_COPY_LOOP): compare hooks on every copied word;
// - the harness's plumbing that runs every op on every backend and compares
//   the results (AMC_NO_COVERAGE): the same branches for every input, whose
//   hooks and counters were about a fifth of a libFuzzer exec, and whose only
//   input-dependent outcome, a divergence, stops the run anyway.
// Code inlined into an instrumented caller is instrumented with it, hence
// AMC_COPY_LOOP's noinline. Other compilers: no effect.
#ifndef AMC_CORE_COVERAGE_H_
#define AMC_CORE_COVERAGE_H_

#if defined(__clang__)
#define AMC_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#define AMC_COPY_LOOP __attribute__((noinline, no_sanitize("coverage")))
#else
#define AMC_NO_COVERAGE
#define AMC_COPY_LOOP
#endif

#endif  // AMC_CORE_COVERAGE_H_
