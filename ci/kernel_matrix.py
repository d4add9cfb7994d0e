#!/usr/bin/env python3
"""Kernel matrix: runs amc's kernel oracle inside other Linux releases.

Boots Debian cloud kernels (only the image, no modules) under QEMU with an
initramfs holding busybox, a statically linked amc and the regression corpus.
Inside, amc checks the model against that kernel (`amc run --backends
model,kernel` with a fixed seed and budget, then `amc replay` of the corpus
and of a generated spin-lock sweep). Results come back over the serial
console between explicit markers: the tests' exit codes, the run's JSON
report, its minimized divergence reproducers and the recorded corpus. QEMU's
own exit status means nothing (it is 0 after a guest panic too), so a guest
that panics, times out or never prints its end marker is a failure with its
log attached.

Kernels are resolved at run time from Debian's package indexes, through a
private apt state (its own sources.list, lists and cache, under the kernel
cache; /etc/apt is never read for sources nor written): every
linux-image-*-cloud-amd64[-unsigned] package (not -dbg, not a meta-package)
is grouped by the major.minor of its Version field, and the highest Debian
version of each series is booted. The kernel image is taken from the package
(boot/vmlinuz-*) or, when the package has none, from the linux-binary-*
package it depends on (boot/vmlinuz-* or usr/lib/modules/*/vmlinuz).
Downloaded packages' images are cached by package name and version.

--kernels takes a comma-separated list of:
  SERIES        a series, e.g. 5.10 or 7.3
  M.x           the highest series of major M found (e.g. 7.x)
  M.x-lts       the highest kernel.org longterm series of major M found
  all           every series found
each optionally followed by @ONLINE/POSSIBLE (e.g. 7.x@2/4): boot with
ONLINE CPUs online out of POSSIBLE (-smp ONLINE,maxcpus=POSSIBLE). Such
geometry guests are reported under their own label (7.3@2/4) and do not
record corpus cases. The exact release booted (uname -r and package
version) goes into every report.
"""

import argparse
import concurrent.futures
import fcntl
import functools
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

MARK = "AMC-MATRIX"
# Shell helper in every guest (and host) test: prints a file between markers
# so the host can take it back from the serial console; the optional second
# argument is the folder it belongs to on the host (e.g. divergences).
DUMP_FN = ('dump() { echo "' + MARK + '-FILE ${2:-.}/$(basename "$1")"; cat "$1"; '
           'echo; echo "' + MARK + '-FILE-END"; }')
# At most this many divergence reproducers come back from each guest.
MAX_REPRODUCERS = 20

# Where Debian publishes amd64 cloud kernels (the private apt state's
# sources.list). Suites, not versions: which kernels they hold is read from
# their indexes on every run.
DEBIAN_SUITES = [
    ("http://deb.debian.org/debian", "bullseye"),
    ("http://deb.debian.org/debian-security", "bullseye-security"),
    ("http://deb.debian.org/debian", "bookworm"),
    ("http://deb.debian.org/debian", "bookworm-backports"),
    ("http://deb.debian.org/debian-security", "bookworm-security"),
    ("http://deb.debian.org/debian", "trixie"),
    ("http://deb.debian.org/debian", "trixie-backports"),
    ("http://deb.debian.org/debian", "sid"),
    ("http://deb.debian.org/debian", "experimental"),
]
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# kernel.org's longterm series (https://www.kernel.org/category/releases.html),
# for the M.x-lts selector only; which of them Debian ships is read at run time.
LONGTERM_SERIES = {"4.19", "5.4", "5.10", "5.15", "6.1", "6.6", "6.12", "6.18"}

# Without --all: the bounded subset CI boots (the host comes with --host).
DEFAULT_KERNELS = "5.10,6.1,6.x-lts,7.x,7.x@2/4"
# With --all: every series, and two guests with more possible than online CPUs.
ALL_KERNELS = "all,7.x@2/4,6.x-lts@1/3"

_log_lock = threading.Lock()


def log(msg):
    with _log_lock:
        print(f"matrix: {msg}", flush=True)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


# --- Debian versions ---------------------------------------------------------

def _order(c):
    if c.isdigit():
        return 0
    if c.isascii() and c.isalpha():
        return ord(c)
    if c == "~":
        return -1
    return ord(c) + 256


def _verrevcmp(a, b):
    """dpkg's verrevcmp (lib/dpkg/version.c) on one version part."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _split_version(v):
    epoch, _, rest = v.partition(":") if ":" in v else ("0", "", v)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
    return int(epoch or 0), upstream, revision


def debian_version_compare(a, b):
    """<0, 0, >0 as `dpkg --compare-versions a lt/eq/gt b`."""
    ea, ua, ra = _split_version(a)
    eb, ub, rb = _split_version(b)
    if ea != eb:
        return ea - eb
    return _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


def series_of_version(version):
    """major.minor of a Debian package Version (epoch dropped)."""
    m = re.match(r"(?:\d+:)?(\d+)\.(\d+)", version)
    return f"{m.group(1)}.{m.group(2)}" if m else None


def series_key(series):
    return tuple(int(x) for x in series.split("."))


# --- the private apt state ---------------------------------------------------

class PrivateApt:
    """apt-get/apt-cache over Debian's kernel suites, without /etc/apt's sources."""

    def __init__(self, root, max_age_hours):
        self.root = root
        self.sources = os.path.join(root, "etc", "sources.list")
        self.lists = os.path.join(root, "lists")
        self.cache = os.path.join(root, "cache")
        self.stamp = os.path.join(root, "updated")
        self.max_age = max_age_hours * 3600
        self.note = ""

    def options(self):
        return ["-o", f"Dir::Etc::sourcelist={self.sources}",
                "-o", "Dir::Etc::sourceparts=-",
                "-o", f"Dir::State::Lists={self.lists}",
                "-o", f"Dir::Cache={self.cache}",
                # Named explicitly: a docker-style apt.conf.d may set it to ""
                # (no cache), and every apt-cache call would rebuild it (3 s).
                # The source cache would only add 110 MB.
                "-o", f"Dir::Cache::pkgcache={self.cache}/pkgcache.bin",
                "-o", "Dir::Cache::srcpkgcache=",
                "-o", "APT::Architecture=amd64", "-o", "APT::Architectures=amd64",
                "-o", "Acquire::Languages=none",
                "-o", "APT::Sandbox::User=root", "-q"]

    def refresh(self, force=False):
        """apt-get update, unless lists younger than max_age are there."""
        os.makedirs(os.path.join(self.root, "etc"), exist_ok=True)
        os.makedirs(os.path.join(self.lists, "partial"), exist_ok=True)
        os.makedirs(os.path.join(self.cache, "archives", "partial"), exist_ok=True)
        text = "".join(f"deb [signed-by={KEYRING}] {url} {suite} main\n"
                       for url, suite in DEBIAN_SUITES)
        changed = True
        if os.path.exists(self.sources):
            with open(self.sources) as f:
                changed = f.read() != text
        if changed:
            with open(self.sources, "w") as f:
                f.write(text)
        with open(os.path.join(self.root, "lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one update at a time, across runs
            age = time.time() - os.path.getmtime(self.stamp) if os.path.exists(self.stamp) else None
            if not force and not changed and age is not None and age < self.max_age:
                self.note = f"package lists from {age / 3600:.1f} h ago"
                return
            log(f"apt-get update (private state {self.root})")
            start = time.monotonic()
            proc = subprocess.run(["apt-get"] + self.options() + ["update"], text=True,
                                  capture_output=True)
            if proc.returncode != 0:
                if age is None:
                    raise RuntimeError("apt-get update failed and there are no older lists:\n"
                                       + (proc.stderr or proc.stdout).strip())
                self.note = (f"apt-get update failed; package lists from {age / 3600:.1f} h ago: "
                             + (proc.stderr or proc.stdout).strip().splitlines()[-1])
                log(self.note)
                return
            with open(self.stamp, "w") as f:
                f.write(time.strftime("%Y-%m-%dT%H:%M:%SZ\n", time.gmtime()))
            self.note = f"package lists fetched now ({time.monotonic() - start:.0f}s)"

    def records(self, prefixes):
        """Every version record of the packages whose names start with prefixes."""
        names = []
        for prefix in prefixes:
            names += run(["apt-cache"] + self.options() + ["pkgnames", prefix]).stdout.split()
        return self.show(names)

    def show(self, names):
        if not names:
            return []
        proc = subprocess.run(["apt-cache"] + self.options() + ["show"] + sorted(set(names)),
                              text=True, capture_output=True)
        out = []
        for block in proc.stdout.split("\n\n"):
            rec, key = {}, None
            for line in block.splitlines():
                if line[:1] in (" ", "\t") and key:
                    rec[key] += "\n" + line.strip()
                elif ":" in line:
                    key, _, value = line.partition(":")
                    rec[key] = value.strip()
            if "Package" in rec and "Version" in rec:
                out.append(rec)
        return out

    def download(self, package, version, dest):
        """apt-get download PACKAGE=VERSION into dest; returns the .deb's path."""
        os.makedirs(dest, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=dest, prefix=".dl-") as tmp:
            proc = subprocess.run(["apt-get"] + self.options() +
                                  ["download", f"{package}={version}"],
                                  cwd=tmp, text=True, capture_output=True)
            debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
            if proc.returncode != 0 or len(debs) != 1:
                detail = (proc.stderr or proc.stdout).strip()
                raise RuntimeError(f"apt-get download {package}={version} failed: {detail}")
            final = os.path.join(dest, debs[0])
            os.replace(os.path.join(tmp, debs[0]), final)
            return final


def depends_names(rec):
    """Package names in a record's Depends (alternatives included)."""
    names = []
    for part in re.split(r"[,|]", rec.get("Depends", "")):
        m = re.match(r"\s*([a-z0-9][a-z0-9+.-]*)", part)
        if m:
            names.append(m.group(1))
    return names


IMAGE_RE = re.compile(r"^linux-image-(.+)-cloud-amd64(-unsigned)?$")


def kernel_candidates(records):
    """series -> [records], highest version first (ties: -unsigned first)."""
    by_series = {}
    for rec in records:
        name = rec["Package"]
        m = IMAGE_RE.match(name)
        if not m or name.endswith("-dbg"):
            continue
        # A meta-package (linux-image-6.12-cloud-amd64) only depends on the
        # real image package, which is a candidate of its own.
        if any(d.startswith("linux-image-") for d in depends_names(rec)):
            continue
        series = series_of_version(rec["Version"])
        if series:
            by_series.setdefault(series, []).append(rec)
    for series, recs in by_series.items():
        recs.sort(key=functools.cmp_to_key(
            lambda a, b: (-debian_version_compare(a["Version"], b["Version"])
                          or (b["Package"].endswith("-unsigned") - a["Package"].endswith("-unsigned")))))
    return by_series


def resolve_kernels(spec, by_series):
    """Guests to boot from --kernels: [{label, series, online, possible}] or SKIPPED rows."""
    guests, seen = [], set()
    found = sorted(by_series, key=series_key)
    for token in [t.strip() for t in spec.split(",") if t.strip()]:
        selector, _, geometry = token.partition("@")
        online = possible = None
        if geometry:
            m = re.fullmatch(r"(\d+)/(\d+)", geometry)
            if not m or not 1 <= int(m.group(1)) <= int(m.group(2)) <= 64:
                raise SystemExit(f"kernel_matrix: bad geometry '{geometry}' in '{token}' "
                                 "(want ONLINE/POSSIBLE, 1 <= ONLINE <= POSSIBLE <= 64)")
            online, possible = int(m.group(1)), int(m.group(2))
        if selector == "all":
            chosen = found
        elif re.fullmatch(r"\d+\.x(-lts)?", selector):
            major = selector.split(".")[0]
            pool = [s for s in found if s.split(".")[0] == major
                    and (not selector.endswith("-lts") or s in LONGTERM_SERIES)]
            if not pool:
                guests.append({"label": token, "series": selector, "skip":
                               f"no series matches {selector} in Debian's indexes"})
                continue
            chosen = [pool[-1]]
        elif re.fullmatch(r"\d+\.\d+", selector):
            chosen = [selector]
        else:
            raise SystemExit(f"kernel_matrix: bad kernel selector '{token}'")
        for series in chosen:
            label = series + (f"@{online}/{possible}" if geometry else "")
            if label in seen:
                continue
            seen.add(label)
            guests.append({"label": label, "series": series, "online": online,
                           "possible": possible, "geometry": bool(geometry)})
    return guests


# --- kernel images -----------------------------------------------------------

def _safe(name):
    return name.replace(":", "%3a").replace("/", "_")


def find_image_member(deb):
    """(member name, release) of the kernel image in a .deb, or None."""
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE) as proc:
        found = None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                path = member.name[2:] if member.name.startswith("./") else member.name
                m = (re.fullmatch(r"boot/vmlinuz-(.+)", path) or
                     re.fullmatch(r"usr/lib/modules/([^/]+)/vmlinuz", path) or
                     re.fullmatch(r"lib/modules/([^/]+)/vmlinuz", path))
                if m and member.isfile() and not found:
                    found = (member.name, m.group(1))
        proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f"dpkg-deb --fsys-tarfile {deb} failed")
    return found


def extract_member(deb, member, dest):
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", deb], stdout=subprocess.PIPE) as proc:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for m in tar:
                if m.name == member:
                    with tar.extractfile(m) as src, open(dest + ".tmp", "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    break
        proc.stdout.read()
        proc.wait()
    os.replace(dest + ".tmp", dest)


class KernelCache:
    """Kernel images by package name and version, fetched through PrivateApt."""

    def __init__(self, root, apt, by_name):
        self.root = root
        self.apt = apt
        self.by_name = by_name  # (package, version) -> record
        self.locks = {}
        self.locks_mu = threading.Lock()

    def _lock(self, key):
        with self.locks_mu:
            return self.locks.setdefault(key, threading.Lock())

    def image(self, rec):
        """{vmlinuz, release, package, version, source, chain} for an image record."""
        package, version = rec["Package"], rec["Version"]
        key = f"{_safe(package)}_{_safe(version)}"
        folder = os.path.join(self.root, "images", key)
        with self._lock(key):
            os.makedirs(os.path.join(self.root, "images"), exist_ok=True)
            with open(os.path.join(self.root, "images", key + ".lock"), "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # another matrix run may fetch it too
                info_path = os.path.join(folder, "info.json")
                if os.path.exists(info_path):
                    with open(info_path) as f:
                        info = json.load(f)
                    info["vmlinuz"] = os.path.join(folder, "vmlinuz")
                    info["cached"] = True
                    return info
                info = self._fetch(package, version)
                os.makedirs(folder, exist_ok=True)
                extract_member(info.pop("deb"), info["member"], os.path.join(folder, "vmlinuz"))
                with open(info_path, "w") as f:
                    json.dump(info, f, indent=2)
                info["vmlinuz"] = os.path.join(folder, "vmlinuz")
                info["cached"] = False
                return info

    def _fetch(self, package, version):
        debs = os.path.join(self.root, "debs")
        chain = []
        rec = self.by_name.get((package, version), {"Package": package, "Version": version})
        for _ in range(3):
            log(f"downloading {rec['Package']}={rec['Version']}")
            deb = self.apt.download(rec["Package"], rec["Version"], debs)
            chain.append(f"{rec['Package']}={rec['Version']}")
            found = find_image_member(deb)
            if found:
                member, release = found
                return {"package": package, "version": version, "member": member,
                        "release": release, "source": f"{rec['Package']}={rec['Version']}",
                        "chain": chain, "deb": deb}
            # From 6.19 the image package holds no image: it depends on
            # linux-binary-<abi>-cloud-amd64 (= the same version), which does.
            binaries = [d for d in depends_names(rec) if d.startswith("linux-binary-")]
            if not binaries:
                raise RuntimeError(f"{' -> '.join(chain)} holds no boot/vmlinuz-* nor "
                                   "usr/lib/modules/*/vmlinuz and depends on no linux-binary-*")
            dep = binaries[0]
            m = re.search(re.escape(dep) + r"\s*\(=\s*([^)\s]+)\)", rec.get("Depends", ""))
            dep_version = m.group(1) if m else version
            rec = self.by_name.get((dep, dep_version), {"Package": dep, "Version": dep_version})
        raise RuntimeError(f"no kernel image along {' -> '.join(chain)}")


# --- the guest ---------------------------------------------------------------

def cpio_newc(entries):
    """A gzip'd newc cpio archive from (path, mode, data-or-None) entries."""
    out = io.BytesIO()
    ino = 1
    def put(name, mode, data):
        nonlocal ino
        name_b = name.encode() + b"\0"
        hdr = "070701" + "".join(f"{v:08x}" for v in (
            ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name_b), 0))
        ino += 1
        out.write(hdr.encode() + name_b)
        out.write(b"\0" * ((4 - (110 + len(name_b)) % 4) % 4))
        out.write(data)
        out.write(b"\0" * ((4 - len(data) % 4) % 4))
    for name, mode, data in entries:
        put(name, mode, data if data is not None else b"")
    put("TRAILER!!!", 0, b"")
    return gzip.compress(out.getvalue(), compresslevel=1)


def guest_init(tests, broken):
    lines = [
        "#!/bin/busybox sh",
        "/bin/busybox --install -s /bin",
        "mount -t proc proc /proc",
        "mount -t sysfs sys /sys",
        "mount -t tmpfs tmp /tmp",
        DUMP_FN,
        f'echo "{MARK}-BEGIN release=$(uname -r) '
        'online=$(cat /sys/devices/system/cpu/online) '
        'possible=$(cat /sys/devices/system/cpu/possible)"',
        f'echo "{MARK}-VERSION $(uname -v)"',
    ]
    if broken == "panic":
        lines.append("exit 1  # deliberately broken guest: init dies, the kernel panics")
    for name, command in tests:
        lines += [
            f'echo "{MARK}-TEST-BEGIN {name} up=$(cut -d" " -f1 /proc/uptime)"',
            f"{command}",
            f'rc=$?; echo "{MARK}-TEST-END {name} rc=$rc up=$(cut -d" " -f1 /proc/uptime)"',
        ]
    lines += [f'echo "{MARK}-END"', "poweroff -f"]
    return "\n".join(lines) + "\n"


# Spin-lock sweep: inputs without expectations that every release replays on
# the model and its kernel (a plain differential check). Locks at every offset
# of several value sizes, and the creation flags at a few offsets, each
# followed by the ops whose answers depend on the lock and the release
# (core/kernel_profile.h): BPF_F_LOCK, programs over and beside the lock,
# mappings, freeze. The random campaigns reach few of these corners.
SWEEP_DIR = "spin-lock-sweep"
SWEEP_FLAGS = ["0", "BPF_F_RDONLY_PROG", "BPF_F_WRONLY_PROG", "BPF_F_MMAPABLE",
               "BPF_F_RDONLY", "BPF_F_WRONLY", "BPF_F_NO_PREALLOC",
               "BPF_F_RDONLY_PROG|BPF_F_WRONLY_PROG", "BPF_F_INNER_MAP",
               "BPF_F_MMAPABLE|BPF_F_RDONLY_PROG", "BPF_F_MMAPABLE|BPF_F_WRONLY_PROG"]
SWEEP_OPS = [
    "update key=0 value=ab*96 flags=BPF_F_LOCK", "lookup key=0 flags=BPF_F_LOCK",
    "update key=1 value=cd*96 flags=BPF_ANY", "lookup key=1 flags=BPF_ANY",
    "lookup_batch in=null count=2 elem_flags=BPF_F_LOCK flags=0",
    "prog_lookup cpu=0 key=0", "prog_update cpu=1 key=1 value=11*96 flags=BPF_F_LOCK",
    "prog_atomic_add cpu=0 key=0 offset=0 delta=3",
    "prog_atomic_add cpu=1 key=1 offset=8 delta=5",
    "mmap slot=0 offset=0 length=4096 prot=PROT_READ shared=1", "munmap slot=0",
    "mmap slot=1 offset=0 length=4096 prot=PROT_READ|PROT_WRITE shared=1", "munmap slot=1",
    "freeze", "freeze", "update key=0 value=ef*96 flags=BPF_F_LOCK",
    "lookup key=0 flags=BPF_ANY"]


def spin_lock_sweep():
    """{file name: .ops text} of the sweep (282 cases)."""
    cases = {}
    def add(name, kind, value_size, flags, offset):
        cases[f"{name}.ops"] = "\n".join(
            ["# from ci/kernel_matrix.py's spin-lock sweep",
             f"map type={kind} key_size=4 value_size={value_size} max_entries=2 "
             f"flags={flags} numa_node=0 spin_lock={offset}"] + SWEEP_OPS) + "\n"
    for kind in ("ARRAY", "PERCPU_ARRAY"):
        for value_size in (3, 4, 5, 8, 12, 16, 24):
            for offset in range(value_size + 2):
                add(f"offset_{kind}_{value_size}_{offset}", kind, value_size, "0", offset)
        for value_size, offset in ((16, 0), (16, 6), (16, 12), (16, 14), (8, 4)):
            for i, flags in enumerate(SWEEP_FLAGS):
                add(f"flags_{kind}_{value_size}_{offset}_{i}", kind, value_size, flags, offset)
    return cases


def build_initramfs(path, amc_bytes, corpus, tests, broken):
    entries = [("bin", 0o40755, None), ("proc", 0o40755, None), ("sys", 0o40755, None),
               ("dev", 0o40755, None), ("tmp", 0o41777, None), ("corpus", 0o40755, None)]
    with open(shutil.which("busybox") or "/bin/busybox", "rb") as f:
        entries.append(("bin/busybox", 0o100755, f.read()))
    entries.append(("bin/amc", 0o100755, amc_bytes))
    if corpus and os.path.isdir(corpus):
        for root, dirs, files in os.walk(corpus):
            dirs.sort()
            rel = os.path.relpath(root, corpus)
            if rel != ".":
                entries.append((f"corpus/{rel}", 0o40755, None))
            for name in sorted(files):
                with open(os.path.join(root, name), "rb") as f:
                    target = name if rel == "." else f"{rel}/{name}"
                    entries.append((f"corpus/{target}", 0o100644, f.read()))
    entries.append((SWEEP_DIR, 0o40755, None))
    for name, text in sorted(spin_lock_sweep().items()):
        entries.append((f"{SWEEP_DIR}/{name}", 0o100644, text.encode()))
    if broken != "noinit":  # without /init the kernel panics before any test
        entries.append(("init", 0o100755, guest_init(tests, broken).encode()))
    with open(path, "wb") as f:
        f.write(cpio_newc(entries))


def kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
        return True
    except OSError:
        return False


def boot(vmlinuz, initrd, log_path, timeout, accel, memory, online, possible):
    """Boots one guest; the serial console goes to log_path as it comes.

    POSSIBLE CPUs of which ONLINE come up: QEMU gets -smp POSSIBLE and the
    kernel maxcpus=ONLINE, so the rest are possible (and present) but offline.
    QEMU's own hot-plug slots (-smp ONLINE,maxcpus=POSSIBLE) do not give that
    under TCG: the MADT lists the extra CPUs as disabled, and from 6.12 the
    kernels count none of them as possible (6.16 logs "Ignoring hot-pluggable
    APIC ID 2 in present package": TCG looks like bare metal to it), so
    possible stays equal to online.
    """
    append = "console=ttyS0 panic=-1 quiet" + (f" maxcpus={online}" if online < possible else "")
    cmd = ["qemu-system-x86_64", "-accel", accel, "-m", str(memory), "-smp", str(possible),
           "-nographic", "-no-reboot", "-kernel", vmlinuz, "-initrd", initrd,
           "-append", append]
    start = time.monotonic()
    timed_out = False
    with open(log_path, "wb") as out:
        out.write(("# " + " ".join(cmd) + "\n").encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill()
            proc.wait()
    with open(log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace").replace("\r", "")
    return text, timed_out, time.monotonic() - start


KMSG_RE = re.compile(r"^\[\s*\d+\.\d+\] ")
SAFE_FILE_RE = re.compile(r"^(?:\.|[\w][\w.+-]*)/[\w][\w.+@-]*$")


def parse_guest(text, timed_out):
    """The verdict from the guest's own output."""
    result = {"release": None, "version": None, "online": None, "possible": None,
              "files": {}, "tests": [], "ended": False, "panic": None,
              "timed_out": timed_out, "kernel_messages": []}
    current = None
    file_name, file_lines = None, []
    for line in text.splitlines():
        line = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1bc", "", line)
        m = re.match(MARK + r"-FILE (\S+)$", line)
        if m:
            file_name, file_lines = m.group(1), []
            continue
        if file_name is not None and line.endswith(MARK + "-FILE-END"):
            last = line[:-len(MARK + "-FILE-END")]
            if last:
                file_lines.append(last)
            while file_lines and file_lines[-1] == "":
                file_lines.pop()  # the dump's own echo (and a missing final newline)
            if SAFE_FILE_RE.match(file_name):
                result["files"][file_name] = "\n".join(file_lines) + "\n"
            file_name = None
            continue
        if file_name is not None:
            if KMSG_RE.match(line):  # a kernel message in the middle of a file
                result["kernel_messages"].append(line)
            else:
                file_lines.append(line)
            continue
        m = re.search(MARK + r"-BEGIN release=(\S+)(?: online=(\S+) possible=(\S+))?", line)
        if m:
            result["release"], result["online"], result["possible"] = m.groups()
        m = re.search(MARK + r"-VERSION (.*)", line)
        if m:
            result["version"] = m.group(1).strip()
        m = re.search(MARK + r"-TEST-BEGIN (\S+)(?: up=([\d.]+))?", line)
        if m:
            current = {"name": m.group(1), "rc": None, "output": [], "seconds": None,
                       "up": float(m.group(2)) if m.group(2) else None}
            result["tests"].append(current)
            continue
        m = re.search(MARK + r"-TEST-END (\S+) rc=(\d+)(?: up=([\d.]+))?", line)
        if m and current and current["name"] == m.group(1):
            current["rc"] = int(m.group(2))
            if m.group(3) and current["up"] is not None:
                current["seconds"] = round(float(m.group(3)) - current["up"], 1)
            current = None
            continue
        if re.search(MARK + r"-END\b", line):
            result["ended"] = True
        if "Kernel panic" in line and not result["panic"]:
            result["panic"] = line.strip()
        if KMSG_RE.match(line):
            result["kernel_messages"].append(line)
        if current is not None:
            current["output"].append(line)
    return result


def cpu_list(n):
    return "0" if n == 1 else f"0-{n - 1}"


def verdict(parsed, expect=None):
    """(PASS | DIVERGE | FAIL, reason). DIVERGE: the guest ran every test and
    amc reported divergences or failed expectations (exit 1) in some."""
    if parsed["panic"]:
        return "FAIL", "guest kernel panic: " + parsed["panic"]
    if parsed["timed_out"]:
        return "FAIL", "guest did not finish within the time bound"
    if not parsed["release"]:
        return "FAIL", "guest never started the test script"
    if not parsed["ended"]:
        return "FAIL", "guest never printed its end marker"
    if expect:
        for key in ("online", "possible"):
            if parsed.get(key) != expect[key]:
                return "FAIL", (f"guest's {key} CPUs are {parsed.get(key)}, "
                                f"expected {expect[key]}")
    bad = [t for t in parsed["tests"] if t["rc"] != 0]
    if not bad:
        return "PASS", f"{len(parsed['tests'])} tests passed"
    crashed = [t for t in bad if t["rc"] != 1]
    if crashed:
        return "FAIL", "failed: " + ", ".join(f"{t['name']} (exit {t['rc']})" for t in crashed)
    return "DIVERGE", "divergences in: " + ", ".join(t["name"] for t in bad)


def divergence_kind(summary):
    m = re.match(r"step \d+ \((\w+)\)", summary or "")
    if m:
        return m.group(1)
    if (summary or "").startswith("map creation"):
        return "creation"
    return "final_state"


def divergences_by_kind(parsed):
    """Op kind -> divergent sequences, from the guest's amc run JSON report."""
    body = parsed.get("files", {}).get("./run.json")
    if not body:
        return None
    try:
        report = json.loads(body)
    except json.JSONDecodeError:
        return None
    counts = {}
    for d in report.get("divergences", []):
        if d.get("same_as") is not None:
            continue  # counted in its first one's same_kind_later
        kind = divergence_kind(d.get("summary"))
        counts[kind] = counts.get(kind, 0) + 1 + int(d.get("same_kind_later") or 0)
    return counts


def replay_failures(parsed):
    """Test name -> [FAIL lines] of the replay tests."""
    out = {}
    for t in parsed["tests"]:
        fails = [l for l in t["output"] if l.startswith("FAIL ") or l.startswith("ERROR ")]
        if fails:
            out[t["name"]] = fails
    return out


def run_host(tests, out_dir):
    """The same tests on the host kernel, as the reference column."""
    parsed = {"release": os.uname().release, "version": os.uname().version,
              "online": None, "possible": None, "files": {}, "tests": [],
              "ended": True, "panic": None, "timed_out": False, "kernel_messages": []}
    for key in ("online", "possible"):
        with open(f"/sys/devices/system/cpu/{key}") as f:
            parsed[key] = f.read().strip()
    with open(os.path.join(out_dir, "host.log"), "w") as logf:
        for name, command in tests:
            t0 = time.monotonic()
            proc = subprocess.run(DUMP_FN + "\n" + command, shell=True, capture_output=True,
                                  text=True, executable="/bin/bash")
            logf.write(f"{MARK}-TEST-BEGIN {name}\n{proc.stdout}{proc.stderr}"
                       f"{MARK}-TEST-END {name} rc={proc.returncode}\n")
            files = parse_guest(proc.stdout, False)["files"]
            stdout = re.sub(MARK + r"-FILE .*?" + MARK + r"-FILE-END\n", "", proc.stdout,
                            flags=re.S)
            parsed["tests"].append({"name": name, "rc": proc.returncode,
                                    "seconds": round(time.monotonic() - t0, 1),
                                    "output": (stdout + proc.stderr).splitlines()})
            parsed["files"].update(files)
    return parsed


# --- reports -----------------------------------------------------------------

def dir_name(label):
    return label.replace("/", "of")


def kinds_text(kinds):
    return ("none" if kinds == {} else "?" if kinds is None
            else ",".join(f"{k}:{v}" for k, v in sorted(kinds.items())))


def write_reports(out_dir, rows, header):
    suites = ET.Element("testsuites", name="amc kernel matrix")
    for row in rows:
        parsed = row["parsed"]
        suite = ET.SubElement(suites, "testsuite", name=f"kernel {row['label']} ({row['release']})",
                              tests=str(max(1, len(parsed["tests"]))))
        if row["verdict"] == "SKIPPED":
            case = ET.SubElement(suite, "testcase", name="boot", classname=row["label"])
            ET.SubElement(case, "skipped", message=row["reason"])
            continue
        if row["verdict"] != "PASS" and not any(t["rc"] for t in parsed["tests"]):
            case = ET.SubElement(suite, "testcase", name="boot", classname=row["label"])
            fail = ET.SubElement(case, "failure", message=row["reason"])
            fail.text = row["log_tail"]
        for t in parsed["tests"]:
            case = ET.SubElement(suite, "testcase", name=t["name"], classname=row["label"])
            if t["rc"] != 0:
                fail = ET.SubElement(case, "failure", message=f"rc={t['rc']}")
                fail.text = "\n".join(t["output"][-200:])
            out = ET.SubElement(case, "system-out")
            out.text = "\n".join(t["output"][-400:])
    ET.ElementTree(suites).write(os.path.join(out_dir, "matrix-junit.xml"),
                                 encoding="utf-8", xml_declaration=True)
    summary = [{"label": r["label"], "series": r.get("series"), "release": r["release"],
                "package": r.get("package"), "package_version": r.get("package_version"),
                "image_from": r.get("image_from"), "version": r["parsed"].get("version"),
                "online": r["parsed"].get("online"), "possible": r["parsed"].get("possible"),
                "verdict": r["verdict"], "reason": r["reason"],
                "seconds": round(r["seconds"], 1), "fetch_seconds": round(r.get("fetch_seconds", 0), 1),
                "divergences_by_kind": divergences_by_kind(r["parsed"]),
                "reproducers": r.get("reproducers", []),
                "replay_failures": {k: len(v) for k, v in replay_failures(r["parsed"]).items()},
                "kernel_messages": r["parsed"].get("kernel_messages", [])[:50],
                "notes": r.get("notes", []),
                "tests": {t["name"]: {"rc": t["rc"], "seconds": t.get("seconds")}
                          for t in r["parsed"]["tests"]}} for r in rows]
    with open(os.path.join(out_dir, "matrix.json"), "w") as f:
        json.dump({"header": header, "guests": summary}, f, indent=2)
    lines = [f"{'kernel':<10} {'release':<28} {'package version':<20} {'cpus':<9} "
             f"{'verdict':<8} {'time':>7}  {'run divergences':<24} {'replay fails':<14} detail"]
    for r in rows:
        p = r["parsed"]
        cpus = f"{p.get('online')}/{p.get('possible')}" if p.get("online") else "-"
        fails = replay_failures(p)
        fails_text = ",".join(f"{k}:{len(v)}" for k, v in fails.items()) or "-"
        lines.append(f"{r['label']:<10} {r['release']:<28} {r.get('package_version') or '-':<20} "
                     f"{cpus:<9} {r['verdict']:<8} {r['seconds']:>6.1f}s  "
                     f"{'-' if r['verdict'] == 'SKIPPED' else kinds_text(divergences_by_kind(p)):<24} "
                     f"{fails_text:<14} {r['reason']}")
    with open(os.path.join(out_dir, "matrix.txt"), "w") as f:
        f.write("\n".join(header) + "\n\n" + "\n".join(lines) + "\n")
    return lines


# --- main --------------------------------------------------------------------

def default_cache():
    env = os.environ.get("AMC_KERNEL_CACHE")
    if env:
        return env
    if os.access("/var/cache", os.W_OK) or os.access("/var/cache/amc", os.W_OK):
        return "/var/cache/amc/kernels"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "amc", "kernels")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.split("\n")[1:]))
    ap.add_argument("--amc", required=True, help="statically linked amc binary")
    ap.add_argument("--corpus", default="corpus", help="regression corpus to replay")
    ap.add_argument("--out", default="build/matrix", help="reports and logs go here")
    ap.add_argument("--cache", default=None,
                    help="kernel cache: private apt state and images by package and version "
                         "(default $AMC_KERNEL_CACHE, else /var/cache/amc/kernels)")
    ap.add_argument("--all", action="store_true",
                    help=f"every series Debian publishes (--kernels {ALL_KERNELS}), "
                         "2000 sequences each unless --sequences says otherwise")
    ap.add_argument("--kernels", default=None,
                    help=f"kernels to boot (default {DEFAULT_KERNELS}; see below)")
    ap.add_argument("--host", action="store_true", help="also run on the host kernel")
    ap.add_argument("--jobs", type=int, default=None,
                    help="guests (and the host column) at once (default: nproc)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sequences", type=int, default=None,
                    help="amc run sequences per guest (default 1000; 2000 with --all)")
    ap.add_argument("--timeout", type=int, default=None,
                    help="seconds per guest (default 600 + 0.6 s per sequence)")
    ap.add_argument("--memory", type=int, default=512, help="MB of guest memory")
    ap.add_argument("--cpus", type=int, default=2,
                    help="CPUs of a guest without @ONLINE/POSSIBLE (all online)")
    # TCG by default: /dev/kvm may exist here without working (nested
    # virtualisation hangs), and a boot under TCG takes a few seconds.
    ap.add_argument("--accel", default="tcg", help="tcg, kvm, or auto (kvm when /dev/kvm opens)")
    ap.add_argument("--lists-max-age", type=float, default=24,
                    help="hours before the package lists are fetched again (default 24)")
    ap.add_argument("--refresh", action="store_true", help="fetch the package lists now")
    ap.add_argument("--resolve-only", action="store_true",
                    help="print which package each series resolves to, boot nothing")
    ap.add_argument("--broken", choices=["panic", "noinit"],
                    help="deliberately break each guest (self-test): panic = its init dies; "
                         "noinit = no /init, the kernel panics before any test (retried once, "
                         "then a failure)")
    ap.add_argument("--update-corpus", metavar="DIR",
                    help="copy each plain guest's recorded cases into DIR/<series>/ "
                         "(e.g. corpus/releases); geometry guests record nothing")
    args = ap.parse_args()

    kernels_spec = args.kernels or (ALL_KERNELS if args.all else DEFAULT_KERNELS)
    sequences = args.sequences if args.sequences is not None else (2000 if args.all else 1000)
    timeout = args.timeout if args.timeout is not None else int(600 + 0.6 * sequences)
    jobs = max(1, args.jobs or len(os.sched_getaffinity(0)))  # nproc
    os.makedirs(args.out, exist_ok=True)
    cache = os.path.abspath(args.cache or default_cache())
    accel = args.accel if args.accel != "auto" else ("kvm" if kvm_usable() else "tcg")
    for tool in ("qemu-system-x86_64", "busybox", "apt-get", "apt-cache", "dpkg-deb"):
        if not shutil.which(tool):
            log(f"SKIPPED: {tool} is not installed (ci/install-deps.sh installs it)")
            return 3
    if not os.path.exists(KEYRING):
        log(f"SKIPPED: {KEYRING} is missing (debian-archive-keyring; ci/install-deps.sh)")
        return 3

    # Resolve every requested series from the indexes.
    apt = PrivateApt(os.path.join(cache, "apt"), args.lists_max_age)
    index_error = None
    by_series, by_name = {}, {}
    try:
        apt.refresh(force=args.refresh)
        records = apt.records(["linux-image-", "linux-binary-"])
        by_name = {(r["Package"], r["Version"]): r for r in records}
        by_series = kernel_candidates(records)
        log(f"{apt.note}; cloud kernel series: "
            + ", ".join(f"{s} ({by_series[s][0]['Version']})"
                        for s in sorted(by_series, key=series_key)))
    except (RuntimeError, subprocess.CalledProcessError) as e:
        index_error = (getattr(e, "stderr", "") or str(e)).strip()
        log(f"the package indexes cannot be read: {index_error}")
    guests = resolve_kernels(kernels_spec, by_series)
    for g in guests:
        if "skip" in g:
            continue
        if index_error:
            g["skip"] = f"Debian's package indexes cannot be read: {index_error}"
        elif g["series"] not in by_series:
            g["skip"] = (f"no linux-image-*-cloud-amd64 package of series {g['series']} in "
                         f"{', '.join(s for _, s in DEBIAN_SUITES)}")
        else:
            g["candidates"] = [r for r in by_series[g["series"]]
                               if r["Version"] == by_series[g["series"]][0]["Version"]]
        if not g.get("geometry"):
            g["online"] = g["possible"] = args.cpus
    if args.resolve_only:
        for g in guests:
            if "skip" in g:
                print(f"{g['label']:<10} SKIPPED: {g['skip']}")
            else:
                c = g["candidates"][0]
                print(f"{g['label']:<10} {c['Package']} {c['Version']} "
                      f"({' or '.join(r['Package'] for r in g['candidates'])})")
        return 0

    kcache = KernelCache(cache, apt, by_name)
    with open(args.amc, "rb") as f:
        amc_bytes = f.read()
    # The guest's copy without debug info: a smaller initramfs in guest memory.
    if shutil.which("strip"):
        stripped = os.path.join(args.out, "amc.stripped")
        if subprocess.run(["strip", "-o", stripped, args.amc]).returncode == 0:
            with open(stripped, "rb") as f:
                amc_bytes = f.read()
    regressions = sorted(f for f in os.listdir(os.path.join(args.corpus, "regressions"))
                         if f.endswith(".ops"))

    def tests_for(amc, corpus, tmp, sweep, record):
        dump_repros = (f'n=0; for f in {tmp}/run-out/*.ops; do [ -e "$f" ] || continue; '
                       f'n=$((n+1)); [ $n -le {MAX_REPRODUCERS} ] && dump "$f" divergences; done')
        tests = [
            ("info", f"{amc} info"),
            ("run", f"{amc} run --backends model,kernel --seed {args.seed} "
                    f"--sequences {sequences} --jobs 1 --out {tmp}/run-out "
                    f"--max-reproducers {MAX_REPRODUCERS} "
                    f"--json {tmp}/run.json; rc=$?; dump {tmp}/run.json; {dump_repros}; (exit $rc)"),
            ("replay", f"{amc} replay --backends model,kernel {corpus}"),
            ("spin-lock-sweep", f"{amc} replay --backends model,kernel {sweep}"),
        ]
        if record:
            # Recorded truth of this release for every regression input.
            paths = " ".join(f"{corpus}/regressions/{f}" for f in regressions)
            tests.append(("record", f"{amc} record --allow-unrunnable {paths} --out {tmp}/rec; "
                                    f"rc=$?; for f in {tmp}/rec/*.ops; do dump $f recorded; done; "
                                    "(exit $rc)"))
        return tests

    def keep_files(row, gdir):
        """Divergence reproducers (and recorded cases) into the guest's folder."""
        files = row["parsed"]["files"]
        repros = sorted(n.split("/", 1)[1] for n in files if n.startswith("divergences/"))
        if repros:
            os.makedirs(os.path.join(gdir, "divergences"), exist_ok=True)
            for name in repros:
                with open(os.path.join(gdir, "divergences", name), "w") as f:
                    f.write(files["divergences/" + name])
        row["reproducers"] = repros
        if "./run.json" in files:
            with open(os.path.join(gdir, "run.json"), "w") as f:
                f.write(files["./run.json"])
        for t in row["parsed"]["tests"]:
            with open(os.path.join(gdir, f"{t['name']}.txt"), "w") as f:
                f.write("\n".join(t["output"]) + f"\n(exit {t['rc']})\n")

    def host_job():
        start = time.monotonic()
        gdir = os.path.abspath(os.path.join(args.out, "host"))
        shutil.rmtree(gdir, ignore_errors=True)
        host_sweep = os.path.join(gdir, SWEEP_DIR)
        os.makedirs(host_sweep)
        for name, text in spin_lock_sweep().items():
            with open(os.path.join(host_sweep, name), "w") as f:
                f.write(text)
        log(f"host: running on {os.uname().release}")
        parsed = run_host(tests_for(os.path.abspath(args.amc), os.path.abspath(args.corpus),
                                    gdir, host_sweep, record=False), gdir)
        v, reason = verdict(parsed)
        row = {"label": "host", "series": None, "release": parsed["release"], "parsed": parsed,
               "verdict": v, "reason": reason, "seconds": time.monotonic() - start,
               "log_tail": ""}
        keep_files(row, gdir)
        log(f"host: {v} in {row['seconds']:.0f}s ({reason})")
        return row

    def fetch_job(g):
        start = time.monotonic()
        errors = []
        for rec in g["candidates"]:  # the same version, -unsigned and signed
            try:
                info = kcache.image(rec)
                info["notes"] = [f"not booted: {e}" for e in errors]
                return info, time.monotonic() - start, None
            except (RuntimeError, OSError, tarfile.TarError, subprocess.CalledProcessError) as e:
                errors.append(f"{rec['Package']}={rec['Version']}: "
                              + (getattr(e, "stderr", "") or str(e)).strip())
                log(f"{g['series']}: {errors[-1]}")
        return None, time.monotonic() - start, "; ".join(errors)

    fetches = {}
    fetch_pool = concurrent.futures.ThreadPoolExecutor(1)

    def guest_job(g):
        label = g["label"]
        skipped = {"label": label, "series": g["series"], "release": g["series"],
                   "verdict": "SKIPPED", "seconds": 0, "log_tail": "",
                   "parsed": {"tests": [], "release": None, "files": {}}}
        if "skip" in g:
            log(f"SKIPPED {label}: {g['skip']}")
            return dict(skipped, reason=g["skip"])
        info, fetch_seconds, error = fetches[g["candidates"][0]["Package"]].result()
        if info is None:
            reason = f"kernel image unavailable: {error}"
            log(f"SKIPPED {label}: {reason}")
            return dict(skipped, reason=reason, fetch_seconds=fetch_seconds)
        release = info["release"]
        gdir = os.path.join(args.out, dir_name(label))
        shutil.rmtree(gdir, ignore_errors=True)
        os.makedirs(gdir)
        initrd = os.path.join(gdir, "initramfs.cpio.gz")
        record = not g["geometry"]
        build_initramfs(initrd, amc_bytes, args.corpus,
                        tests_for("/bin/amc", "/corpus", "/tmp", f"/{SWEEP_DIR}", record),
                        args.broken)
        expect = {"online": cpu_list(g["online"]), "possible": cpu_list(g["possible"])}
        log(f"{label}: booting {release} ({info['package']} {info['version']}, image from "
            f"{info['source']}; {accel}, {g['online']}/{g['possible']} CPUs online/possible, "
            f"{args.memory} MB, bound {timeout}s)")
        log_path = os.path.join(gdir, "guest.log")
        text, timed_out, seconds = boot(info["vmlinuz"], initrd, log_path, timeout, accel,
                                        args.memory, g["online"], g["possible"])
        parsed = parse_guest(text, timed_out)
        v, reason = verdict(parsed, expect)
        retry_note = ""
        if v == "FAIL" and not parsed["release"]:
            # The guest failed before its init printed anything: a boot
            # failure of the emulated machine (seen once: an int3 oops in
            # sched_clock_cpu under TCG), not a result of amc. Boot once more;
            # the first log is kept, and the report says so. A guest whose
            # init started (the panic self-test's) is never retried.
            first_log = os.path.join(gdir, "guest.boot1.log")
            os.replace(log_path, first_log)
            log(f"{label}: boot failed before init ({reason}); booting once more "
                f"(first log: {first_log})")
            retry_note = f" (second boot; the first failed before init: {reason}; log {first_log})"
            text, timed_out, seconds2 = boot(info["vmlinuz"], initrd, log_path, timeout, accel,
                                             args.memory, g["online"], g["possible"])
            seconds += seconds2
            parsed = parse_guest(text, timed_out)
            v, reason = verdict(parsed, expect)
        reason += retry_note
        if parsed["release"] and parsed["release"] != release:
            v, reason = "FAIL", f"booted {parsed['release']}, expected {release}"
        row = {"label": label, "series": g["series"], "release": parsed["release"] or release,
               "package": info["package"], "package_version": info["version"],
               "image_from": info["source"], "parsed": parsed, "verdict": v,
               "reason": reason, "seconds": seconds, "fetch_seconds": fetch_seconds,
               "notes": info.get("notes", []),
               "log_tail": "\n".join(text.splitlines()[-60:])}
        keep_files(row, gdir)
        recorded = {n.split("/", 1)[1]: b for n, b in parsed["files"].items()
                    if n.startswith("recorded/")}
        if recorded:
            rec_dir = os.path.join(gdir, "recorded")
            os.makedirs(rec_dir, exist_ok=True)
            note = (f"# Re-recorded on Linux {release} by ci/kernel-matrix.sh; where the comments\n"
                    "# below say otherwise, they describe the release the input was first\n"
                    "# settled on, and the expectations here are this release's\n"
                    "# (core/kernel_profile.h lists the differences).\n")
            for name, body in recorded.items():
                with open(os.path.join(rec_dir, name), "w") as f:
                    f.write(note + body)
            if args.update_corpus:
                with corpus_lock:
                    # The folder mirrors corpus/regressions: a mirrored case
                    # this release did not record (it cannot run the ops) is
                    # dropped; a case recorded only on this release (one
                    # whose input is not in regressions/, e.g. a size the
                    # newest kernels would allocate) is kept.
                    dest = os.path.join(args.update_corpus, g["series"])
                    os.makedirs(dest, exist_ok=True)
                    for name in os.listdir(dest):
                        if name in regressions and name not in recorded:
                            os.remove(os.path.join(dest, name))
                    for name in recorded:
                        shutil.copyfile(os.path.join(rec_dir, name), os.path.join(dest, name))
                log(f"recorded {len(recorded)} cases on {release} into {dest}")
        log(f"{label}: {v} in {seconds:.0f}s ({reason})")
        if v == "FAIL":
            with _log_lock:
                sys.stdout.write(f"--- log of {label} {release} (last 60 lines, full: {log_path}) ---\n")
                sys.stdout.write(row["log_tail"] + "\n")
        return row

    corpus_lock = threading.Lock()
    for g in guests:
        if "skip" not in g:
            key = g["candidates"][0]["Package"]
            if key not in fetches:
                fetches[key] = fetch_pool.submit(fetch_job, g)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        futures = []
        if args.host:
            futures.append(pool.submit(host_job))
        futures += [pool.submit(guest_job, g) for g in guests]
        rows = [f.result() for f in futures]
    fetch_pool.shutdown()
    wall = time.monotonic() - start

    header = [f"amc kernel matrix: seed {args.seed}, {sequences} sequences per guest, "
              f"{jobs} at once, {accel}, {args.memory} MB per guest; wall time {wall:.0f}s",
              f"kernels: {kernels_spec}; {apt.note or index_error}"]
    lines = write_reports(args.out, rows, header)
    print("\nkernel matrix")
    print("\n".join(header))
    print("\n".join(lines))
    print(f"reports: {args.out}/matrix.txt {args.out}/matrix-junit.xml {args.out}/matrix.json; "
          f"per guest: {args.out}/<label>/ (guest.log, divergences/)")
    if any(r["verdict"] in ("FAIL", "DIVERGE") for r in rows):
        return 1
    if any(r["verdict"] == "SKIPPED" for r in rows):
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
