//! A classic-BPF interpreter for the instructions seccomp programs use, with
//! the kernel's static checks (forward in-bounds jumps, aligned loads inside
//! `seccomp_data`, a final `ret`). Tests run generated programs through it.

use brig_sys::seccomp::SockFilter;

use super::asm::{ALU_AND_K, JMP_JA, JMP_JEQ_K, JMP_JGE_K, JMP_JGT_K, LD_W_ABS, MAX_INSNS, RET_K};

/// `struct seccomp_data`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeccompData {
    pub nr: u32,
    pub arch: u32,
    pub instruction_pointer: u64,
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at byte offset `k`, as the kernel's little-endian load sees it.
    fn word(&self, k: u32) -> Option<u32> {
        if !k.is_multiple_of(4) || k >= 64 {
            return None;
        }
        let mut bytes = [0u8; 64];
        bytes[0..4].copy_from_slice(&self.nr.to_le_bytes());
        bytes[4..8].copy_from_slice(&self.arch.to_le_bytes());
        bytes[8..16].copy_from_slice(&self.instruction_pointer.to_le_bytes());
        for (i, a) in self.args.iter().enumerate() {
            bytes[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let k = k as usize;
        Some(u32::from_le_bytes([
            bytes[k],
            bytes[k + 1],
            bytes[k + 2],
            bytes[k + 3],
        ]))
    }
}

/// The checks the kernel makes before accepting a program.
pub fn check(prog: &[SockFilter]) -> Result<(), String> {
    if prog.is_empty() || prog.len() > MAX_INSNS {
        return Err(format!("{} instructions", prog.len()));
    }
    for (pc, insn) in prog.iter().enumerate() {
        let rest = prog.len() - pc - 1;
        match insn.code {
            LD_W_ABS if !insn.k.is_multiple_of(4) || insn.k >= 64 => {
                return Err(format!("{pc}: load at {}", insn.k));
            }
            JMP_JA if insn.k as usize >= rest => return Err(format!("{pc}: ja out of range")),
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K
                if usize::from(insn.jt) >= rest || usize::from(insn.jf) >= rest =>
            {
                return Err(format!("{pc}: jump out of range"));
            }
            LD_W_ABS | ALU_AND_K | RET_K | JMP_JA | JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K => {}
            code => return Err(format!("{pc}: unexpected opcode {code:#x}")),
        }
    }
    match prog.last().map(|i| i.code) {
        Some(RET_K) => Ok(()),
        _ => Err("the last instruction is not a ret".into()),
    }
}

/// Runs `prog` on `data`; returns the action value and the number of
/// instructions executed.
pub fn run(prog: &[SockFilter], data: &SeccompData) -> Result<(u32, usize), String> {
    let (mut pc, mut acc, mut steps) = (0usize, 0u32, 0usize);
    loop {
        let insn = prog.get(pc).ok_or(format!("fell off the end at {pc}"))?;
        steps += 1;
        pc += 1;
        match insn.code {
            LD_W_ABS => acc = data.word(insn.k).ok_or(format!("bad load {}", insn.k))?,
            ALU_AND_K => acc &= insn.k,
            RET_K => return Ok((insn.k, steps)),
            JMP_JA => pc += insn.k as usize,
            JMP_JEQ_K | JMP_JGT_K | JMP_JGE_K => {
                let taken = match insn.code {
                    JMP_JEQ_K => acc == insn.k,
                    JMP_JGT_K => acc > insn.k,
                    _ => acc >= insn.k,
                };
                pc += usize::from(if taken { insn.jt } else { insn.jf });
            }
            code => return Err(format!("unexpected opcode {code:#x}")),
        }
    }
}
