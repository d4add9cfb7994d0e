// core/state_digest.h: final states of huge maps, compared in chunks by
// digest. A map whose state (max_entries syscall value buffers, or its
// mmap region) is larger than kStreamedStateBytes is never read whole:
// DifferentialRun::Finish reads the reference's state kStateChunkBytes at a
// time (MapInstance::ReadStateChunk), digests each chunk, asks every other
// backend for the digests of the same chunks (MapInstance::StateDigests: a
// plug-in's child digests them itself, so a 4 GiB state crosses the socket
// as 256 digests), and reads the bytes of a chunk only where the digests
// differ, to say where. Memory: a few chunks, whatever the map's size.
//
// Invariant: two chunks with the same bytes have the same digest, in every
// process (the digest is computed by this one function everywhere).
#ifndef AMC_CORE_STATE_DIGEST_H_
#define AMC_CORE_STATE_DIGEST_H_

#include <cstddef>
#include <cstdint>

namespace amc::core {

// States above this many bytes (values, or the mmap region) are compared in
// chunks; smaller ones are read whole as before.
inline constexpr uint64_t kStreamedStateBytes = uint64_t{64} << 20;
// The chunk each digest covers: small enough to be digested while it is
// still in cache (16 MiB chunks made a 4 GiB state memory-bound: 15 s).
inline constexpr uint64_t kStateChunkBytes = uint64_t{1} << 20;
// Digests asked for in one request (MapInstance::StateDigests): a 4 GiB
// state is 64 requests to a plug-in's child.
inline constexpr uint64_t kStateWindowBytes = uint64_t{64} << 20;

// A 64-bit digest of `n` bytes (word at a time; not cryptographic: it
// guards against accidents, not adversaries). Runs of zeros cost a load and
// a multiply per word.
uint64_t StateDigest(const uint8_t* bytes, size_t n);

// Whether all `n` bytes are zero (a word at a time).
bool AllZero(const uint8_t* bytes, size_t n);

// The chunk size for a state part whose unit is `unit` bytes (a key's
// syscall value buffer, or an element): kStateChunkBytes rounded down to a
// multiple of the unit (at least one unit), so that every chunk starts at a
// key and byte classes (value, padding) read the same in a chunk as in the
// whole state.
uint64_t StateChunkFor(uint64_t unit);

}  // namespace amc::core

#endif  // AMC_CORE_STATE_DIGEST_H_
