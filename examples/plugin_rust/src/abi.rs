//! The types of plugin/amc_plugin.h (ABI 3), written by hand as `#[repr(C)]`
//! Rust. Keep them in the header's order: the layout is checked below at
//! compile time, and amc checks `abi_version` and `struct_size` at load time.

use std::os::raw::c_char;

pub const AMC_PLUGIN_ABI_VERSION: u32 = 3;

// enum amc_op_kind: bit numbers of `supported_ops`.
pub const OP_LOOKUP: usize = 0;
pub const OP_UPDATE: usize = 1;
pub const OP_DELETE: usize = 2;
pub const OP_LOOKUP_AND_DELETE: usize = 3;
pub const OP_GET_NEXT_KEY: usize = 4;
pub const OP_LOOKUP_BATCH: usize = 5;
pub const OP_LOOKUP_AND_DELETE_BATCH: usize = 6;
pub const OP_UPDATE_BATCH: usize = 7;
pub const OP_DELETE_BATCH: usize = 8;
pub const OP_FREEZE: usize = 9;
pub const OP_MMAP: usize = 10;
pub const OP_MMAP_READ: usize = 11;
pub const OP_MMAP_WRITE: usize = 12;
pub const OP_MUNMAP: usize = 13;
pub const OP_PROG_LOOKUP: usize = 14;
pub const OP_PROG_UPDATE: usize = 15;
pub const OP_PROG_DELETE: usize = 16;
pub const OP_PROG_LOOKUP_PERCPU: usize = 17;
pub const OP_PROG_ATOMIC_ADD: usize = 18;
pub const OP_KIND_SLOTS: usize = 32;

pub const fn op_bit(kind: usize) -> u32 {
    1u32 << kind
}

pub const MAP_TYPE_ARRAY: u32 = 2;
pub const MAP_TYPE_PERCPU_ARRAY: u32 = 6;

pub const PROG_NULL: u32 = 1;
pub const PROG_ALIGNED: u32 = 2;

/// struct amc_map_spec: BPF_MAP_CREATE attributes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct MapSpec {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub numa_node: u32,
    /// Offset of the bpf_spin_lock in the value, or -1.
    pub spin_lock_offset: i64,
}

/// struct amc_env: the machine the map behaves as if it ran on.
#[repr(C)]
pub struct Env {
    pub possible_cpus: u32,
    pub page_size: u32,
    pub online_cpus: u32,
}

/// The opaque `amc_map`: amc only passes the pointer back.
pub type AmcMap = std::ffi::c_void;

type Fn<T> = Option<T>;

/// struct amc_plugin: the table `amc_plugin_get` returns.
#[repr(C)]
pub struct Plugin {
    pub abi_version: u32,
    pub struct_size: u32,
    pub name: *const c_char,
    pub supported_ops: u32,
    pub unsupported_reason: [*const c_char; OP_KIND_SLOTS],
    pub probe: Fn<unsafe extern "C" fn(*const Env, *mut c_char, usize) -> i32>,
    pub create: Fn<unsafe extern "C" fn(*const MapSpec, *const Env, *mut *mut AmcMap) -> i32>,
    pub destroy: Fn<unsafe extern "C" fn(*mut AmcMap)>,
    pub read_state: Fn<unsafe extern "C" fn(*mut AmcMap, *mut u8, *mut u8)>,
    pub lookup: Fn<unsafe extern "C" fn(*mut AmcMap, u32, u64, *mut u8) -> i32>,
    pub update: Fn<unsafe extern "C" fn(*mut AmcMap, u32, *const u8, u64) -> i32>,
    pub delete_elem: Fn<unsafe extern "C" fn(*mut AmcMap, u32) -> i32>,
    pub lookup_and_delete: Fn<unsafe extern "C" fn(*mut AmcMap, u32, u64, *mut u8) -> i32>,
    pub get_next_key: Fn<unsafe extern "C" fn(*mut AmcMap, *const u32, *mut u32) -> i32>,
    pub lookup_batch: Fn<
        unsafe extern "C" fn(*mut AmcMap, *const u32, *mut u32, *mut u32, *mut u8, *mut u32, u64, u64) -> i32,
    >,
    pub lookup_and_delete_batch: Fn<
        unsafe extern "C" fn(*mut AmcMap, *const u32, *mut u32, *mut u32, *mut u8, *mut u32, u64, u64) -> i32,
    >,
    pub update_batch:
        Fn<unsafe extern "C" fn(*mut AmcMap, *const u32, *const u8, *mut u32, u64, u64) -> i32>,
    pub delete_batch: Fn<unsafe extern "C" fn(*mut AmcMap, *const u32, *mut u32, u64, u64) -> i32>,
    pub freeze: Fn<unsafe extern "C" fn(*mut AmcMap) -> i32>,
    pub mmap: Fn<unsafe extern "C" fn(*mut AmcMap, u64, u64, u32, u32, *mut *mut std::ffi::c_void) -> i32>,
    pub mmap_read: Fn<unsafe extern "C" fn(*mut AmcMap, *mut std::ffi::c_void, u64, u64, *mut u8) -> i32>,
    pub mmap_write:
        Fn<unsafe extern "C" fn(*mut AmcMap, *mut std::ffi::c_void, u64, u64, *const u8) -> i32>,
    pub munmap: Fn<unsafe extern "C" fn(*mut AmcMap, *mut std::ffi::c_void) -> i32>,
    pub prog_lookup: Fn<unsafe extern "C" fn(*mut AmcMap, u32, u32, *mut u8, *mut u32) -> i32>,
    pub prog_update: Fn<unsafe extern "C" fn(*mut AmcMap, u32, u32, *const u8, u64) -> i32>,
    pub prog_delete: Fn<unsafe extern "C" fn(*mut AmcMap, u32, u32) -> i32>,
    pub prog_lookup_percpu: Fn<unsafe extern "C" fn(*mut AmcMap, u32, u32, u32, *mut u8, *mut u32) -> i32>,
    pub prog_atomic_add: Fn<unsafe extern "C" fn(*mut AmcMap, u32, u32, u32, u64, *mut u64, *mut u32) -> i32>,
    // Since ABI 3.
    pub target_release: *const c_char,
    pub unsupported_map_types: u32,
    pub unsupported_map_types_reason: *const c_char,
    pub unsupported_map_flags: u32,
    pub unsupported_map_flags_reason: *const c_char,
}

/// The table lives in a `static`, which must be `Sync`; its raw pointers
/// only point at other statics and are never written.
pub struct Table(pub Plugin);
unsafe impl Sync for Table {}

// The layout amc_plugin.h gives on x86-64 / aarch64 (LP64): a field added,
// dropped or reordered here fails the build instead of confusing amc.
const _: () = assert!(std::mem::size_of::<MapSpec>() == 32);
const _: () = assert!(std::mem::size_of::<Env>() == 12);
const _: () = assert!(std::mem::size_of::<Plugin>() == 504);

/// A NUL-terminated byte string literal as a C string.
#[macro_export]
macro_rules! cstr {
    ($s:expr) => {
        concat!($s, "\0").as_ptr() as *const std::os::raw::c_char
    };
}
