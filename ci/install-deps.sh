#!/usr/bin/env bash
# Installs what amc needs from Debian's packages, only if something is
# missing (idempotent; safe to run on every CI run). Run as root.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config python3
  clang-14 libclang-rt-14-dev          # fuzzers, sanitizers, BPF programs
  libgtest-dev librapidcheck-dev libbenchmark-dev
  libbpf-dev libelf-dev zlib1g-dev bpftool
  qemu-system-x86 busybox-static      # the kernel matrix (ci/kernel-matrix.sh):
  debian-archive-keyring binutils     # Debian's package indexes, strip
  libcap2-bin util-linux              # capsh, prlimit: harness_error_cli_test
  rustc cargo golang-go               # the Rust and Go plug-in examples
  dpkg-dev groff-base                 # the .deb (dpkg-shlibdeps), amc.1 check
  python3-yaml libxml2-utils curl     # the CI recipe test (YAML, xmllint, file://)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
