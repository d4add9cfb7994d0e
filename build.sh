#!/bin/bash -eu
# OSS-Fuzz / ClusterFuzzLite build script ("ideal integration"): builds the
# fuzz targets with the infrastructure's $CC $CXX $CFLAGS $CXXFLAGS and links
# them with $LIB_FUZZING_ENGINE (no sanitizer or engine flags of our own),
# then installs into $OUT each <fuzzer>, its .dict, .options and
# <fuzzer>_seed_corpus.zip.
#
# Try it locally as that infrastructure would run it:
#   CC=clang-14 CXX=clang++-14 \
#   CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link" \
#   CXXFLAGS="$CFLAGS" LIB_FUZZING_ENGINE=-fsanitize=fuzzer \
#   SRC=$PWD/.. WORK=/tmp/work OUT=/tmp/out ./build.sh
src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${WORK:-/tmp}/amc-build"
fuzzers=(differential_fuzzer ops_parser_fuzzer)

generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
# No CMAKE_BUILD_TYPE: the optimization level comes from $CFLAGS alone.
cmake -S "$src" -B "$build" "${generator[@]}" \
  -DCMAKE_BUILD_TYPE= \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DAMC_FUZZ_ENGINE="$LIB_FUZZING_ENGINE" \
  -DAMC_FUZZERS_ONLY=ON
cmake --build "$build" --parallel "$(nproc)" --target "${fuzzers[@]}"

mkdir -p "$OUT"
for fuzzer in "${fuzzers[@]}"; do
  cp "$build/fuzzers/$fuzzer" "$OUT/"
  cp "$src/fuzzers/$fuzzer.dict" "$src/fuzzers/$fuzzer.options" "$OUT/"
  rm -f "$OUT/${fuzzer}_seed_corpus.zip"
  seeds=("$src/fuzzers/${fuzzer}_seed_corpus"/*)
  if [ "$fuzzer" = ops_parser_fuzzer ]; then
    seeds+=("$src"/conformance/cases/*.ops "$src"/corpus/regressions/*.ops)
  fi
  zip -q -j "$OUT/${fuzzer}_seed_corpus.zip" "${seeds[@]}"
done
