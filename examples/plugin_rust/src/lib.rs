//! examples/plugin_rust: an amc plug-in written in Rust with no crates, only
//! plugin/amc_plugin.h transcribed by hand (src/abi.rs). It implements
//! ARRAY and PERCPU_ARRAY maps as Linux 6.15-6.18 does for the syscall
//! element ops (lookup, update, delete, lookup-and-delete, get-next-key,
//! freeze) and the program helpers lookup / update / delete, and leaves out
//! batches, mmap, bpf_map_lookup_percpu_elem and atomics with a reason each.
//!
//! Storage: one zeroed block, 8-byte aligned (so every element is, as the
//! kernel's are), CPU-major for PERCPU:
//! (cpu * max_entries + key) * elem_size bytes from the start.
//!
//! Every `extern "C"` function returns 0 or a positive errno; a panic aborts
//! (Cargo.toml), which amc reports against the op.

mod abi;

use abi::*;
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::os::raw::c_char;
use std::ptr;

// errno values (asm-generic/errno-base.h, errno.h); 524 is the kernel's
// internal ENOTSUPP, which bpf(2) passes to user space unchanged.
const EPERM: i32 = 1;
const ENOENT: i32 = 2;
const E2BIG: i32 = 7;
const ENOMEM: i32 = 12;
const EACCES: i32 = 13;
const EFAULT: i32 = 14;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const EOPNOTSUPP: i32 = 95;
const ENOTSUPP: i32 = 524;

// map_flags bits (include/uapi/linux/bpf.h).
const F_NUMA_NODE: u32 = 1 << 2;
const F_RDONLY: u32 = 1 << 3;
const F_WRONLY: u32 = 1 << 4;
const F_RDONLY_PROG: u32 = 1 << 7;
const F_WRONLY_PROG: u32 = 1 << 8;
const F_MMAPABLE: u32 = 1 << 10;
const F_PRESERVE_ELEMS: u32 = 1 << 11;
const F_INNER_MAP: u32 = 1 << 12;
const F_TOKEN_FD: u32 = 1 << 16;
/// The flags an array map accepts at creation (array_map_alloc_check).
const CREATE_FLAG_MASK: u32 = F_NUMA_NODE
    | F_MMAPABLE
    | F_RDONLY
    | F_WRONLY
    | F_RDONLY_PROG
    | F_WRONLY_PROG
    | F_PRESERVE_ELEMS
    | F_INNER_MAP;

// Element flags.
const NOEXIST: u64 = 1;
const EXIST: u64 = 2;
const ELEM_F_LOCK: u64 = 4;

/// The largest per-CPU element the kernel allocates (PCPU_MIN_UNIT_SIZE).
const PERCPU_ELEM_MAX: u64 = 32768;

extern "C" {
    fn sysconf(name: i32) -> i64;
}
const SC_PAGESIZE: i32 = 30; // glibc's _SC_PAGESIZE
const SC_PHYS_PAGES: i32 = 85; // glibc's _SC_PHYS_PAGES

struct ArrayMap {
    spec: MapSpec,
    /// Slots per key: the possible CPUs for PERCPU, else 1.
    cpus: u32,
    /// round_up(value_size, 8).
    elem_size: u64,
    data: *mut u8,
    layout: Layout,
    frozen: bool,
}

impl ArrayMap {
    fn percpu(&self) -> bool {
        self.spec.map_type == MAP_TYPE_PERCPU_ARRAY
    }
    fn has_lock(&self) -> bool {
        self.spec.spin_lock_offset >= 0
    }
    fn value_size(&self) -> usize {
        self.spec.value_size as usize
    }
    /// BPF_F_WRONLY makes the fd unreadable from the syscall side.
    fn fd_can_read(&self) -> bool {
        self.spec.map_flags & F_WRONLY == 0
    }
    /// BPF_F_RDONLY and BPF_MAP_FREEZE take write permission away.
    fn sys_can_write(&self) -> bool {
        self.spec.map_flags & F_RDONLY == 0 && !self.frozen
    }
    /// The syscall value buffer of one key.
    fn vbuf(&self) -> usize {
        if self.percpu() {
            (self.elem_size * self.cpus as u64) as usize
        } else {
            self.value_size()
        }
    }
    fn slot_ptr(&self, key: u32, cpu: u32) -> *mut u8 {
        let index = cpu as u64 * self.spec.max_entries as u64 + key as u64;
        // In bounds: key < max_entries and cpu < cpus, checked by callers.
        unsafe { self.data.add((index * self.elem_size) as usize) }
    }
    fn slot(&self, key: u32, cpu: u32) -> &[u8] {
        unsafe { std::slice::from_raw_parts(self.slot_ptr(key, cpu), self.elem_size as usize) }
    }
    fn slot_mut(&mut self, key: u32, cpu: u32) -> &mut [u8] {
        unsafe { std::slice::from_raw_parts_mut(self.slot_ptr(key, cpu), self.elem_size as usize) }
    }

    /// value_size bytes into one slot; the bpf_spin_lock word keeps its value
    /// (copy_map_value skips it).
    fn write_value(&mut self, key: u32, cpu: u32, from: &[u8]) {
        let size = self.value_size();
        let lock = self.spec.spin_lock_offset;
        let to = self.slot_mut(key, cpu);
        if lock < 0 {
            to[..size].copy_from_slice(&from[..size]);
        } else {
            let lock = lock as usize;
            to[..lock].copy_from_slice(&from[..lock]);
            to[lock + 4..size].copy_from_slice(&from[lock + 4..size]);
        }
    }

    /// One key's syscall value buffer: every possible CPU's slot with its
    /// padding for PERCPU; value_size bytes with the lock word read as zero
    /// for ARRAY.
    fn copy_out(&self, key: u32, out: &mut [u8]) {
        if self.percpu() {
            let elem = self.elem_size as usize;
            for cpu in 0..self.cpus {
                let at = cpu as usize * elem;
                out[at..at + elem].copy_from_slice(self.slot(key, cpu));
            }
        } else {
            let size = self.value_size();
            out[..size].copy_from_slice(&self.slot(key, 0)[..size]);
            if self.has_lock() {
                let lock = self.spec.spin_lock_offset as usize;
                out[lock..lock + 4].fill(0);
            }
        }
    }

    /// The array map's own update checks (array_map_update_elem), which the
    /// syscall path of an ARRAY and every program update go through.
    fn array_update_checks(&self, key: u32, flags: u64) -> i32 {
        if flags & !ELEM_F_LOCK > EXIST {
            return EINVAL;
        }
        if key >= self.spec.max_entries {
            return E2BIG;
        }
        if flags & NOEXIST != 0 {
            return EEXIST; // every element of an array always exists
        }
        if flags & ELEM_F_LOCK != 0 && !self.has_lock() {
            return EINVAL;
        }
        0
    }
}

impl Drop for ArrayMap {
    fn drop(&mut self) {
        unsafe { dealloc(self.data, self.layout) }
    }
}

/// Borrows the map behind amc's opaque pointer.
unsafe fn map<'a>(m: *mut AmcMap) -> &'a mut ArrayMap {
    &mut *(m as *mut ArrayMap)
}

/// BPF_MAP_CREATE, checked in the kernel's order: BTF first (a value with a
/// spin lock arrives with its BTF), then array_map_alloc_check, then the
/// size of the allocation, then map_check_btf.
fn check_create(s: &MapSpec, possible_cpus: u32) -> Result<(u64, u32), i32> {
    let pcpu = s.map_type == MAP_TYPE_PERCPU_ARRAY;
    let mut flags = s.map_flags;
    if s.spin_lock_offset >= 0 {
        if s.spin_lock_offset as u64 + 4 > s.value_size as u64 {
            return Err(EINVAL);
        }
        if s.spin_lock_offset % 4 != 0 {
            return Err(EFAULT);
        }
    }
    let token = flags & F_TOKEN_FD != 0;
    flags &= !F_TOKEN_FD;
    if s.map_type != MAP_TYPE_ARRAY && !pcpu {
        return Err(EINVAL);
    }
    if flags & F_RDONLY != 0 && flags & F_WRONLY != 0 {
        return Err(EINVAL);
    }
    // numa_node 0xffffffff is NUMA_NO_NODE: no node, as without the flag.
    let numa = flags & F_NUMA_NODE != 0 && s.numa_node != u32::MAX;
    if numa && s.numa_node >= 1 {
        return Err(EINVAL);
    }
    if s.max_entries == 0
        || s.key_size != 4
        || s.value_size == 0
        || flags & !CREATE_FLAG_MASK != 0
        || (flags & F_RDONLY_PROG != 0 && flags & F_WRONLY_PROG != 0)
        || (pcpu && numa)
    {
        return Err(EINVAL);
    }
    if pcpu && flags & (F_MMAPABLE | F_INNER_MAP) != 0 {
        return Err(EINVAL);
    }
    if flags & F_PRESERVE_ELEMS != 0 {
        return Err(EINVAL);
    }
    if s.value_size > i32::MAX as u32 {
        return Err(E2BIG);
    }
    let elem = (s.value_size as u64 + 7) & !7;
    if pcpu && elem > PERCPU_ELEM_MAX {
        return Err(E2BIG);
    }
    if token {
        return Err(EINVAL); // no BPF token here
    }
    let cpus = if pcpu { possible_cpus } else { 1 };
    let bytes = elem
        .checked_mul(s.max_entries as u64)
        .and_then(|b| b.checked_mul(cpus as u64))
        .ok_or(ENOMEM)?;
    let memory = unsafe { sysconf(SC_PHYS_PAGES) as u64 * sysconf(SC_PAGESIZE) as u64 };
    if bytes > memory {
        return Err(ENOMEM);
    }
    // map_check_btf: a lock refuses the *_PROG restrictions, then per-CPU.
    if s.spin_lock_offset >= 0 {
        if flags & (F_RDONLY_PROG | F_WRONLY_PROG) != 0 {
            return Err(EACCES);
        }
        if pcpu {
            return Err(EOPNOTSUPP);
        }
    }
    Ok((bytes, cpus))
}

unsafe extern "C" fn create(spec: *const MapSpec, env: *const Env, out: *mut *mut AmcMap) -> i32 {
    let spec = *spec;
    let (bytes, cpus) = match check_create(&spec, (*env).possible_cpus) {
        Ok(v) => v,
        Err(errno) => return errno,
    };
    // Zeroed and lazily backed (calloc underneath): a large map costs only
    // the pages it touches.
    let layout = match Layout::from_size_align(bytes as usize, 8) {
        Ok(l) => l,
        Err(_) => return ENOMEM,
    };
    let data = alloc_zeroed(layout);
    if data.is_null() {
        return ENOMEM;
    }
    let m = Box::new(ArrayMap {
        spec,
        cpus,
        elem_size: (spec.value_size as u64 + 7) & !7,
        data,
        layout,
        frozen: false,
    });
    *out = Box::into_raw(m) as *mut AmcMap;
    0
}

unsafe extern "C" fn destroy(m: *mut AmcMap) {
    drop(Box::from_raw(m as *mut ArrayMap));
}

unsafe extern "C" fn read_state(m: *mut AmcMap, values: *mut u8, _mmap_data: *mut u8) {
    // mmap_data is always NULL: this plug-in does not implement mmap.
    let m = map(m);
    let vbuf = m.vbuf();
    let all = std::slice::from_raw_parts_mut(values, vbuf * m.spec.max_entries as usize);
    for key in 0..m.spec.max_entries {
        let at = key as usize * vbuf;
        m.copy_out(key, &mut all[at..at + vbuf]);
    }
}

unsafe extern "C" fn lookup(m: *mut AmcMap, key: u32, flags: u64, value: *mut u8) -> i32 {
    let m = map(m);
    // Before 7.0 only BPF_F_LOCK is a lookup flag (BPF_F_CPU is refused).
    if flags & !ELEM_F_LOCK != 0 {
        return EINVAL;
    }
    if !m.fd_can_read() {
        return EPERM;
    }
    if flags & ELEM_F_LOCK != 0 && !m.has_lock() {
        return EINVAL;
    }
    if key >= m.spec.max_entries {
        return ENOENT;
    }
    m.copy_out(key, std::slice::from_raw_parts_mut(value, m.vbuf()));
    0
}

unsafe extern "C" fn update(m: *mut AmcMap, key: u32, value: *const u8, flags: u64) -> i32 {
    let m = map(m);
    if !m.sys_can_write() {
        return EPERM;
    }
    if flags & ELEM_F_LOCK != 0 && !m.has_lock() {
        return EINVAL;
    }
    let from = std::slice::from_raw_parts(value, m.vbuf());
    if !m.percpu() {
        let err = m.array_update_checks(key, flags);
        if err != 0 {
            return err;
        }
        m.write_value(key, 0, from);
        return 0;
    }
    // bpf_percpu_array_update compares the whole flags word, and copies every
    // CPU's slot with its padding.
    if flags > EXIST {
        return EINVAL;
    }
    if key >= m.spec.max_entries {
        return E2BIG;
    }
    if flags == NOEXIST {
        return EEXIST;
    }
    let elem = m.elem_size as usize;
    for cpu in 0..m.cpus {
        let at = cpu as usize * elem;
        m.slot_mut(key, cpu).copy_from_slice(&from[at..at + elem]);
    }
    0
}

unsafe extern "C" fn delete_elem(m: *mut AmcMap, _key: u32) -> i32 {
    if !map(m).sys_can_write() {
        return EPERM;
    }
    EINVAL // array elements cannot be deleted
}

unsafe extern "C" fn lookup_and_delete(m: *mut AmcMap, _key: u32, flags: u64, _value: *mut u8) -> i32 {
    let m = map(m);
    if flags & !ELEM_F_LOCK != 0 {
        return EINVAL;
    }
    if !m.fd_can_read() || !m.sys_can_write() {
        return EPERM;
    }
    if flags & ELEM_F_LOCK != 0 && !m.has_lock() {
        return EINVAL;
    }
    ENOTSUPP // arrays have no map_lookup_and_delete_elem
}

unsafe extern "C" fn get_next_key(m: *mut AmcMap, key: *const u32, next_key: *mut u32) -> i32 {
    let m = map(m);
    if !m.fd_can_read() {
        return EPERM;
    }
    // A NULL key, or one past the end, starts the walk at 0.
    let index = if key.is_null() { u32::MAX } else { *key };
    if index >= m.spec.max_entries {
        *next_key = 0;
        return 0;
    }
    if index == m.spec.max_entries - 1 {
        return ENOENT;
    }
    *next_key = index + 1;
    0
}

unsafe extern "C" fn freeze(m: *mut AmcMap) -> i32 {
    let m = map(m);
    if m.has_lock() {
        return ENOTSUPP;
    }
    if !m.sys_can_write() {
        return EPERM; // also when already frozen
    }
    m.frozen = true;
    0
}

/// The slot a program on `cpu` sees: its own for PERCPU, the one for ARRAY.
fn prog_cpu(m: &ArrayMap, cpu: u32) -> u32 {
    if m.percpu() {
        cpu
    } else {
        0
    }
}

unsafe extern "C" fn prog_lookup(m: *mut AmcMap, cpu: u32, key: u32, value: *mut u8, flags: *mut u32) -> i32 {
    let m = map(m);
    if m.spec.map_flags & F_WRONLY_PROG != 0 {
        return EACCES; // the verifier refuses the read
    }
    if m.has_lock() {
        return EACCES; // reading the whole value would read the lock
    }
    if key >= m.spec.max_entries {
        *flags = PROG_NULL;
        return 0;
    }
    let p = m.slot_ptr(key, prog_cpu(m, cpu));
    ptr::copy_nonoverlapping(p, value, m.value_size());
    *flags = if p as usize % 8 == 0 { PROG_ALIGNED } else { 0 };
    0
}

unsafe extern "C" fn prog_update(m: *mut AmcMap, cpu: u32, key: u32, value: *const u8, flags: u64) -> i32 {
    let m = map(m);
    if m.spec.map_flags & F_RDONLY_PROG != 0 {
        return EACCES; // the verifier refuses the write
    }
    let err = m.array_update_checks(key, flags);
    if err != 0 {
        return err;
    }
    let from = std::slice::from_raw_parts(value, m.value_size());
    let cpu = prog_cpu(m, cpu);
    m.write_value(key, cpu, from);
    0
}

unsafe extern "C" fn prog_delete(m: *mut AmcMap, _cpu: u32, _key: u32) -> i32 {
    if map(m).spec.map_flags & F_RDONLY_PROG != 0 {
        return EACCES; // the verifier refuses the write
    }
    EINVAL
}

const NO_BATCH: *const c_char = cstr!("batch commands are not implemented in the Rust example");
const NO_MMAP: *const c_char = cstr!("the Rust example's maps live in a heap block that is not mappable");

const fn reasons() -> [*const c_char; OP_KIND_SLOTS] {
    let mut r = [ptr::null(); OP_KIND_SLOTS];
    r[OP_LOOKUP_BATCH] = NO_BATCH;
    r[OP_LOOKUP_AND_DELETE_BATCH] = NO_BATCH;
    r[OP_UPDATE_BATCH] = NO_BATCH;
    r[OP_DELETE_BATCH] = NO_BATCH;
    r[OP_MMAP] = NO_MMAP;
    r[OP_MMAP_READ] = NO_MMAP;
    r[OP_MMAP_WRITE] = NO_MMAP;
    r[OP_MUNMAP] = NO_MMAP;
    r[OP_PROG_LOOKUP_PERCPU] = cstr!("bpf_map_lookup_percpu_elem is not offered by the Rust example");
    r[OP_PROG_ATOMIC_ADD] = cstr!("the Rust example has no atomic instructions");
    r
}

static TABLE: Table = Table(Plugin {
    abi_version: AMC_PLUGIN_ABI_VERSION,
    struct_size: std::mem::size_of::<Plugin>() as u32,
    name: cstr!("Rust example plug-in (examples/plugin_rust)"),
    supported_ops: op_bit(OP_LOOKUP)
        | op_bit(OP_UPDATE)
        | op_bit(OP_DELETE)
        | op_bit(OP_LOOKUP_AND_DELETE)
        | op_bit(OP_GET_NEXT_KEY)
        | op_bit(OP_FREEZE)
        | op_bit(OP_PROG_LOOKUP)
        | op_bit(OP_PROG_UPDATE)
        | op_bit(OP_PROG_DELETE),
    unsupported_reason: reasons(),
    probe: None,
    create: Some(create),
    destroy: Some(destroy),
    read_state: Some(read_state),
    lookup: Some(lookup),
    update: Some(update),
    delete_elem: Some(delete_elem),
    lookup_and_delete: Some(lookup_and_delete),
    get_next_key: Some(get_next_key),
    lookup_batch: None,
    lookup_and_delete_batch: None,
    update_batch: None,
    delete_batch: None,
    freeze: Some(freeze),
    mmap: None,
    mmap_read: None,
    mmap_write: None,
    munmap: None,
    prog_lookup: Some(prog_lookup),
    prog_update: Some(prog_update),
    prog_delete: Some(prog_delete),
    prog_lookup_percpu: None,
    prog_atomic_add: None,
    // The rules above are Linux 6.15-6.18's (no BPF_F_CPU, which 7.0 added).
    target_release: cstr!("6.18"),
    unsupported_map_types: 0,
    unsupported_map_types_reason: ptr::null(),
    unsupported_map_flags: 0,
    unsupported_map_flags_reason: ptr::null(),
});

/// The one symbol amc looks up.
#[no_mangle]
pub extern "C" fn amc_plugin_get() -> *const Plugin {
    &TABLE.0
}
