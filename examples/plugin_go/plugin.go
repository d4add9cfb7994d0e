// examples/plugin_go: an amc plug-in written in Go with cgo and nothing
// downloaded, built with `go build -buildmode=c-shared`. It implements
// ARRAY and PERCPU_ARRAY maps as Linux 6.15-6.18 does for the syscall
// element ops (lookup, update, delete, lookup-and-delete, get-next-key,
// freeze) and the program helpers lookup / update / delete, and leaves out
// batches, mmap, bpf_map_lookup_percpu_elem and atomics with a reason each
// (table.c, which holds the table in C memory and forwards to the functions
// exported here).
//
// Storage: one calloc'ed block per map (C memory, so amc's pointers and
// ours never mix with Go's garbage collector), CPU-major for PERCPU:
// (cpu * max_entries + key) * elem_size bytes from the start, every element
// 8-byte aligned. amc's buffers are copied in and out during the call and
// never kept.
//
// Every exported function returns 0 or a positive errno.
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../plugin -std=c11
#include <stdlib.h>
#include <unistd.h>
#include "amc_plugin.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// errno values; 524 is the kernel's internal ENOTSUPP, which bpf(2)
// passes to user space unchanged.
const (
	ePERM       = 1
	eNOENT      = 2
	e2BIG       = 7
	eNOMEM      = 12
	eACCES      = 13
	eFAULT      = 14
	eEXIST      = 17
	eINVAL      = 22
	eOPNOTSUPP  = 95
	eNOTSUPPKrn = 524
)

// map_flags bits (include/uapi/linux/bpf.h).
const (
	fNumaNode       = 1 << 2
	fRdonly         = 1 << 3
	fWronly         = 1 << 4
	fRdonlyProg     = 1 << 7
	fWronlyProg     = 1 << 8
	fMmapable       = 1 << 10
	fPreserveElems  = 1 << 11
	fInnerMap       = 1 << 12
	fTokenFd        = 1 << 16
	createFlagsMask = fNumaNode | fMmapable | fRdonly | fWronly | fRdonlyProg |
		fWronlyProg | fPreserveElems | fInnerMap
)

// Element flags.
const (
	noExist   = 1
	exist     = 2
	elemFLock = 4
)

const (
	mapTypeArray       = 2
	mapTypePercpuArray = 6
	percpuElemMax      = 32768 // PCPU_MIN_UNIT_SIZE
	progNull           = 1
	progAligned        = 2
)

type arrayMap struct {
	mapType    uint32
	valueSize  uint64
	maxEntries uint32
	flags      uint32
	lockOffset int64 // -1: no bpf_spin_lock in the value
	cpus       uint32
	elemSize   uint64
	data       unsafe.Pointer // C memory, size bytes, zeroed at creation
	size       uint64
	frozen     bool
}

func (m *arrayMap) percpu() bool      { return m.mapType == mapTypePercpuArray }
func (m *arrayMap) hasLock() bool     { return m.lockOffset >= 0 }
func (m *arrayMap) fdCanRead() bool   { return m.flags&fWronly == 0 }
func (m *arrayMap) sysCanWrite() bool { return m.flags&fRdonly == 0 && !m.frozen }

// vbuf is the syscall value buffer of one key.
func (m *arrayMap) vbuf() uint64 {
	if m.percpu() {
		return m.elemSize * uint64(m.cpus)
	}
	return m.valueSize
}

// slot is the element of key on cpu (callers check key and cpu).
func (m *arrayMap) slot(key, cpu uint32) []byte {
	at := (uint64(cpu)*uint64(m.maxEntries) + uint64(key)) * m.elemSize
	return unsafe.Slice((*byte)(unsafe.Add(m.data, at)), m.elemSize)
}

// writeValue copies valueSize bytes into one slot; the bpf_spin_lock word
// keeps its value (copy_map_value skips it).
func (m *arrayMap) writeValue(to, from []byte) {
	if !m.hasLock() {
		copy(to[:m.valueSize], from[:m.valueSize])
		return
	}
	lock := uint64(m.lockOffset)
	copy(to[:lock], from[:lock])
	copy(to[lock+4:m.valueSize], from[lock+4:m.valueSize])
}

// copyOut fills one key's syscall value buffer: every possible CPU's slot
// with its padding for PERCPU; valueSize bytes with the lock word read as
// zero for ARRAY.
func (m *arrayMap) copyOut(key uint32, out []byte) {
	if m.percpu() {
		for cpu := uint32(0); cpu < m.cpus; cpu++ {
			copy(out[uint64(cpu)*m.elemSize:], m.slot(key, cpu))
		}
		return
	}
	copy(out[:m.valueSize], m.slot(key, 0))
	if m.hasLock() {
		for i := m.lockOffset; i < m.lockOffset+4; i++ {
			out[i] = 0
		}
	}
}

// arrayUpdateChecks are array_map_update_elem's own checks, which the
// syscall update of an ARRAY and every program update go through.
func (m *arrayMap) arrayUpdateChecks(key uint32, flags uint64) C.int32_t {
	if flags&^elemFLock > exist {
		return eINVAL
	}
	if key >= m.maxEntries {
		return e2BIG
	}
	if flags&noExist != 0 {
		return eEXIST // every element of an array always exists
	}
	if flags&elemFLock != 0 && !m.hasLock() {
		return eINVAL
	}
	return 0
}

func get(h C.uintptr_t) *arrayMap {
	return cgo.Handle(h).Value().(*arrayMap)
}

func bytes(p *C.uint8_t, n uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), n)
}

// checkCreate is BPF_MAP_CREATE in the kernel's order: BTF first (a value
// with a spin lock arrives with its BTF), then array_map_alloc_check, the
// size of the allocation, then map_check_btf. It returns the bytes to
// allocate and the slots per key.
func checkCreate(s *C.amc_map_spec, possibleCPUs uint32) (uint64, uint32, C.int32_t) {
	pcpu := s.map_type == mapTypePercpuArray
	flags := uint32(s.map_flags)
	lock := int64(s.spin_lock_offset)
	valueSize := uint64(s.value_size)
	if lock >= 0 {
		if uint64(lock)+4 > valueSize {
			return 0, 0, eINVAL
		}
		if lock%4 != 0 {
			return 0, 0, eFAULT
		}
	}
	token := flags&fTokenFd != 0
	flags &^= fTokenFd
	if s.map_type != mapTypeArray && !pcpu {
		return 0, 0, eINVAL
	}
	if flags&fRdonly != 0 && flags&fWronly != 0 {
		return 0, 0, eINVAL
	}
	// numa_node 0xffffffff is NUMA_NO_NODE: no node, as without the flag.
	numa := flags&fNumaNode != 0 && uint32(s.numa_node) != 0xffffffff
	if numa && s.numa_node >= 1 {
		return 0, 0, eINVAL
	}
	if s.max_entries == 0 || s.key_size != 4 || valueSize == 0 ||
		flags&^createFlagsMask != 0 ||
		(flags&fRdonlyProg != 0 && flags&fWronlyProg != 0) ||
		(pcpu && numa) {
		return 0, 0, eINVAL
	}
	if pcpu && flags&(fMmapable|fInnerMap) != 0 {
		return 0, 0, eINVAL
	}
	if flags&fPreserveElems != 0 {
		return 0, 0, eINVAL
	}
	if valueSize > 1<<31-1 {
		return 0, 0, e2BIG
	}
	elem := (valueSize + 7) &^ 7
	if pcpu && elem > percpuElemMax {
		return 0, 0, e2BIG
	}
	if token {
		return 0, 0, eINVAL // no BPF token here
	}
	cpus := uint32(1)
	if pcpu {
		cpus = possibleCPUs
	}
	// elem < 2^32 and max_entries < 2^32; cpus is small: no overflow for
	// ARRAY, and PERCPU elements are at most 32 KiB.
	size := elem * uint64(s.max_entries) * uint64(cpus)
	memory := uint64(C.sysconf(C._SC_PHYS_PAGES)) * uint64(C.sysconf(C._SC_PAGESIZE))
	if size > memory {
		return 0, 0, eNOMEM
	}
	// map_check_btf: a lock refuses the *_PROG restrictions, then per-CPU.
	if lock >= 0 {
		if flags&(fRdonlyProg|fWronlyProg) != 0 {
			return 0, 0, eACCES
		}
		if pcpu {
			return 0, 0, eOPNOTSUPP
		}
	}
	return size, cpus, 0
}

//export amcgoCreate
func amcgoCreate(s *C.amc_map_spec, env *C.amc_env, out *C.uintptr_t) C.int32_t {
	size, cpus, err := checkCreate(s, uint32(env.possible_cpus))
	if err != 0 {
		return err
	}
	data := C.calloc(1, C.size_t(size))
	if data == nil {
		return eNOMEM
	}
	m := &arrayMap{
		mapType:    uint32(s.map_type),
		valueSize:  uint64(s.value_size),
		maxEntries: uint32(s.max_entries),
		flags:      uint32(s.map_flags),
		lockOffset: int64(s.spin_lock_offset),
		cpus:       cpus,
		elemSize:   (uint64(s.value_size) + 7) &^ 7,
		data:       data,
		size:       size,
	}
	*out = C.uintptr_t(cgo.NewHandle(m))
	return 0
}

//export amcgoDestroy
func amcgoDestroy(h C.uintptr_t) {
	m := get(h)
	C.free(m.data)
	cgo.Handle(h).Delete()
}

//export amcgoReadState
func amcgoReadState(h C.uintptr_t, values *C.uint8_t) {
	m := get(h)
	vbuf := m.vbuf()
	all := bytes(values, vbuf*uint64(m.maxEntries))
	for key := uint32(0); key < m.maxEntries; key++ {
		at := uint64(key) * vbuf
		m.copyOut(key, all[at:at+vbuf])
	}
}

//export amcgoLookup
func amcgoLookup(h C.uintptr_t, key C.uint32_t, flags C.uint64_t, value *C.uint8_t) C.int32_t {
	m := get(h)
	// Before 7.0 only BPF_F_LOCK is a lookup flag (BPF_F_CPU is refused).
	if flags&^elemFLock != 0 {
		return eINVAL
	}
	if !m.fdCanRead() {
		return ePERM
	}
	if flags&elemFLock != 0 && !m.hasLock() {
		return eINVAL
	}
	if uint32(key) >= m.maxEntries {
		return eNOENT
	}
	m.copyOut(uint32(key), bytes(value, m.vbuf()))
	return 0
}

//export amcgoUpdate
func amcgoUpdate(h C.uintptr_t, key C.uint32_t, value *C.uint8_t, flags C.uint64_t) C.int32_t {
	m := get(h)
	k, f := uint32(key), uint64(flags)
	if !m.sysCanWrite() {
		return ePERM
	}
	if f&elemFLock != 0 && !m.hasLock() {
		return eINVAL
	}
	from := bytes(value, m.vbuf())
	if !m.percpu() {
		if err := m.arrayUpdateChecks(k, f); err != 0 {
			return err
		}
		m.writeValue(m.slot(k, 0), from)
		return 0
	}
	// bpf_percpu_array_update compares the whole flags word, and copies
	// every CPU's slot with its padding.
	if f > exist {
		return eINVAL
	}
	if k >= m.maxEntries {
		return e2BIG
	}
	if f == noExist {
		return eEXIST
	}
	for cpu := uint32(0); cpu < m.cpus; cpu++ {
		copy(m.slot(k, cpu), from[uint64(cpu)*m.elemSize:])
	}
	return 0
}

//export amcgoDelete
func amcgoDelete(h C.uintptr_t, key C.uint32_t) C.int32_t {
	if !get(h).sysCanWrite() {
		return ePERM
	}
	return eINVAL // array elements cannot be deleted
}

//export amcgoLookupAndDelete
func amcgoLookupAndDelete(h C.uintptr_t, key C.uint32_t, flags C.uint64_t, value *C.uint8_t) C.int32_t {
	m := get(h)
	if flags&^elemFLock != 0 {
		return eINVAL
	}
	if !m.fdCanRead() || !m.sysCanWrite() {
		return ePERM
	}
	if flags&elemFLock != 0 && !m.hasLock() {
		return eINVAL
	}
	return eNOTSUPPKrn // arrays have no map_lookup_and_delete_elem
}

//export amcgoGetNextKey
func amcgoGetNextKey(h C.uintptr_t, key *C.uint32_t, next *C.uint32_t) C.int32_t {
	m := get(h)
	if !m.fdCanRead() {
		return ePERM
	}
	// A NULL key, or one past the end, starts the walk at 0.
	index := ^uint32(0)
	if key != nil {
		index = uint32(*key)
	}
	if index >= m.maxEntries {
		*next = 0
		return 0
	}
	if index == m.maxEntries-1 {
		return eNOENT
	}
	*next = C.uint32_t(index + 1)
	return 0
}

//export amcgoFreeze
func amcgoFreeze(h C.uintptr_t) C.int32_t {
	m := get(h)
	if m.hasLock() {
		return eNOTSUPPKrn
	}
	if !m.sysCanWrite() {
		return ePERM // also when already frozen
	}
	m.frozen = true
	return 0
}

// progCPU is the slot a program on cpu sees: its own for PERCPU.
func (m *arrayMap) progCPU(cpu C.uint32_t) uint32 {
	if m.percpu() {
		return uint32(cpu)
	}
	return 0
}

//export amcgoProgLookup
func amcgoProgLookup(h C.uintptr_t, cpu, key C.uint32_t, value *C.uint8_t, flags *C.uint32_t) C.int32_t {
	m := get(h)
	if m.flags&fWronlyProg != 0 {
		return eACCES // the verifier refuses the read
	}
	if m.hasLock() {
		return eACCES // reading the whole value would read the lock
	}
	if uint32(key) >= m.maxEntries {
		*flags = progNull
		return 0
	}
	p := m.slot(uint32(key), m.progCPU(cpu))
	copy(bytes(value, m.valueSize), p[:m.valueSize])
	*flags = 0
	if uintptr(unsafe.Pointer(&p[0]))%8 == 0 {
		*flags = progAligned
	}
	return 0
}

//export amcgoProgUpdate
func amcgoProgUpdate(h C.uintptr_t, cpu, key C.uint32_t, value *C.uint8_t, flags C.uint64_t) C.int32_t {
	m := get(h)
	if m.flags&fRdonlyProg != 0 {
		return eACCES // the verifier refuses the write
	}
	if err := m.arrayUpdateChecks(uint32(key), uint64(flags)); err != 0 {
		return err
	}
	m.writeValue(m.slot(uint32(key), m.progCPU(cpu)), bytes(value, m.valueSize))
	return 0
}

//export amcgoProgDelete
func amcgoProgDelete(h C.uintptr_t, cpu, key C.uint32_t) C.int32_t {
	if get(h).flags&fRdonlyProg != 0 {
		return eACCES // the verifier refuses the write
	}
	return eINVAL
}

// A c-shared library still needs a main package with a main function.
func main() {}
