//! The syscall ABIs of an x86_64 kernel, as seccomp tells them apart:
//! `seccomp_data.arch` is AUDIT_ARCH_X86_64 for both x86_64 and x32 (x32
//! numbers have bit 30 set) and AUDIT_ARCH_I386 for 32-bit x86.

use super::tables;

/// `AUDIT_ARCH_X86_64` (EM_X86_64 | 64-bit | little endian).
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `AUDIT_ARCH_I386` (EM_386 | little endian).
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `__X32_SYSCALL_BIT`: x32 syscall numbers have it set.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Name lookups go through open-addressing hash indexes built at compile
// time: a profile names ~400 syscalls for each of three ABIs, and a binary
// search over the names was most of the compile time.
const SLOTS: usize = 2048;
const EMPTY: u16 = u16::MAX;

const fn fnv1a(bytes: &[u8]) -> u32 {
    let mut hash = 0x811c_9dc5_u32;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}

const fn build_index(table: &[(&str, u32)]) -> [u16; SLOTS] {
    assert!(table.len() * 2 < SLOTS);
    let mut slots = [EMPTY; SLOTS];
    let mut i = 0;
    while i < table.len() {
        let mut slot = fnv1a(table[i].0.as_bytes()) as usize & (SLOTS - 1);
        while slots[slot] != EMPTY {
            slot = (slot + 1) & (SLOTS - 1);
        }
        slots[slot] = i as u16;
        i += 1;
    }
    slots
}

static X86_64_INDEX: [u16; SLOTS] = build_index(tables::X86_64);
static X86_INDEX: [u16; SLOTS] = build_index(tables::X86);
static X32_INDEX: [u16; SLOTS] = build_index(tables::X32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Abi {
    X86_64,
    X86,
    X32,
}

impl Abi {
    /// The `seccomp_data.arch` value of this ABI's syscalls.
    pub fn audit_arch(self) -> u32 {
        match self {
            Abi::X86_64 | Abi::X32 => AUDIT_ARCH_X86_64,
            Abi::X86 => AUDIT_ARCH_I386,
        }
    }

    /// Whether arguments are 64 bits wide (compared as two 32-bit halves).
    pub fn wide_args(self) -> bool {
        self != Abi::X86
    }

    /// The syscall numbers this ABI owns within its audit arch.
    pub fn owns(self, nr: u32) -> bool {
        match self {
            Abi::X86_64 => nr < X32_SYSCALL_BIT,
            Abi::X32 => nr >= X32_SYSCALL_BIT,
            Abi::X86 => true,
        }
    }

    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Abi::X86_64 => tables::X86_64,
            Abi::X86 => tables::X86,
            Abi::X32 => tables::X32,
        }
    }

    fn index(self) -> &'static [u16; SLOTS] {
        match self {
            Abi::X86_64 => &X86_64_INDEX,
            Abi::X86 => &X86_INDEX,
            Abi::X32 => &X32_INDEX,
        }
    }

    /// The number of syscall `name`, or `None` when this ABI has no such call
    /// (names of other ABIs, like `chown32` on x86_64, or newer than the table).
    pub fn number(self, name: &str) -> Option<u32> {
        let (table, index) = (self.table(), self.index());
        let mut slot = fnv1a(name.as_bytes()) as usize & (SLOTS - 1);
        loop {
            let entry = *table.get(usize::from(index[slot]))?;
            if entry.0 == name {
                return Some(entry.1);
            }
            slot = (slot + 1) & (SLOTS - 1);
        }
    }

    /// The name of syscall `nr` (slow: for messages and tests only).
    pub fn name(self, nr: u32) -> Option<&'static str> {
        self.table().iter().find(|(_, n)| *n == nr).map(|(s, _)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_unique() {
        for abi in [Abi::X86_64, Abi::X86, Abi::X32] {
            let t = abi.table();
            assert!(t.len() > 300, "{abi:?}: {} entries", t.len());
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "{abi:?} unsorted");
            assert!(t.iter().all(|&(_, nr)| abi.owns(nr)), "{abi:?}");
            for &(name, nr) in t {
                assert_eq!(abi.number(name), Some(nr), "{abi:?} {name}");
            }
        }
    }

    #[test]
    fn numbers_match_the_kernel_abi() {
        assert_eq!(Abi::X86_64.number("read"), Some(0));
        assert_eq!(Abi::X86_64.number("mkdir"), Some(83));
        assert_eq!(Abi::X86_64.number("mkdirat"), Some(258));
        assert_eq!(Abi::X86_64.number("clone3"), Some(435));
        assert_eq!(Abi::X86_64.number("fchmodat2"), Some(452));
        assert_eq!(Abi::X86_64.number("chown32"), None);
        assert_eq!(Abi::X86.number("read"), Some(3));
        assert_eq!(Abi::X86.number("socketcall"), Some(102));
        assert_eq!(Abi::X86.number("_llseek"), Some(140));
        assert_eq!(Abi::X32.number("read"), Some(X32_SYSCALL_BIT));
        assert_eq!(Abi::X32.number("rt_sigaction"), Some(X32_SYSCALL_BIT + 512));
        assert_eq!(Abi::X86_64.number("no_such_call"), None);
        assert_eq!(Abi::X86_64.name(59), Some("execve"));
    }
}
