//! A tiny classic-BPF assembler with forward labels. Conditional jumps carry
//! 8-bit offsets: a target farther than 255 instructions is reached through
//! an unconditional `ja` (32-bit offset) placed right after the jump, chosen
//! by iterating the layout until no offset overflows.

use brig_sys::seccomp::SockFilter;

pub const LD_W_ABS: u16 = 0x20;
pub const ALU_AND_K: u16 = 0x54;
pub const JMP_JA: u16 = 0x05;
pub const JMP_JEQ_K: u16 = 0x15;
pub const JMP_JGT_K: u16 = 0x25;
pub const JMP_JGE_K: u16 = 0x35;
pub const RET_K: u16 = 0x06;

/// The kernel's `BPF_MAXINSNS`.
pub const MAX_INSNS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

/// Where a conditional jump goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The instruction after the jump.
    Next,
    To(Label),
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Stmt(SockFilter),
    Ja(Label),
    Jump {
        code: u16,
        k: u32,
        jt: Target,
        jf: Target,
    },
    Mark(Label),
}

#[derive(Debug, Default)]
pub struct Asm {
    items: Vec<Item>,
    labels: usize,
}

/// The program does not fit in the kernel's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge(pub usize);

impl Asm {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }

    /// Places `label` at the next instruction.
    pub fn mark(&mut self, label: Label) {
        self.items.push(Item::Mark(label));
    }

    fn stmt(&mut self, code: u16, k: u32) {
        self.items.push(Item::Stmt(SockFilter {
            code,
            jt: 0,
            jf: 0,
            k,
        }));
    }

    /// Loads the 32-bit word at offset `k` of `seccomp_data`.
    pub fn load(&mut self, k: u32) {
        self.stmt(LD_W_ABS, k);
    }

    pub fn and(&mut self, k: u32) {
        self.stmt(ALU_AND_K, k);
    }

    pub fn ret(&mut self, k: u32) {
        self.stmt(RET_K, k);
    }

    pub fn ja(&mut self, to: Label) {
        self.items.push(Item::Ja(to));
    }

    /// A conditional jump `code` (JEQ/JGT/JGE) against `k`.
    pub fn jump(&mut self, code: u16, k: u32, jt: Target, jf: Target) {
        if jt == jf {
            // Both ways lead to the same place: no test needed.
            match jt {
                Target::Next => {}
                Target::To(label) => self.ja(label),
            }
            return;
        }
        self.items.push(Item::Jump { code, k, jt, jf });
    }

    /// Resolves the labels into the final program.
    pub fn finish(self) -> Result<Vec<SockFilter>, TooLarge> {
        // long[i]: (jt, jf) of item i go through a trampoline.
        let mut long = vec![(false, false); self.items.len()];
        loop {
            let (pos, labels, len) = self.layout(&long);
            if len > MAX_INSNS {
                return Err(TooLarge(len));
            }
            let mut changed = false;
            for (i, item) in self.items.iter().enumerate() {
                if let Item::Jump { jt, jf, .. } = *item {
                    let far = |t: Target| match t {
                        Target::Next => false,
                        Target::To(l) => labels[l.0] - (pos[i] + 1) > 255,
                    };
                    let want = (long[i].0 || far(jt), long[i].1 || far(jf));
                    changed |= want != long[i];
                    long[i] = want;
                }
            }
            if !changed {
                return Ok(self.emit(&pos, &labels, &long, len));
            }
        }
    }

    /// Instruction index of every item and label, and the program length.
    fn layout(&self, long: &[(bool, bool)]) -> (Vec<usize>, Vec<usize>, usize) {
        let mut pos = Vec::with_capacity(self.items.len());
        let mut labels = vec![0; self.labels];
        let mut at = 0;
        for (i, item) in self.items.iter().enumerate() {
            pos.push(at);
            at += match item {
                Item::Mark(l) => {
                    labels[l.0] = at;
                    0
                }
                Item::Jump { .. } => 1 + usize::from(long[i].0) + usize::from(long[i].1),
                Item::Stmt(_) | Item::Ja(_) => 1,
            };
        }
        (pos, labels, at)
    }

    fn emit(
        &self,
        pos: &[usize],
        labels: &[usize],
        long: &[(bool, bool)],
        len: usize,
    ) -> Vec<SockFilter> {
        let mut out = Vec::with_capacity(len);
        let ja = |from: usize, to: usize| SockFilter {
            code: JMP_JA,
            jt: 0,
            jf: 0,
            k: (to - (from + 1)) as u32,
        };
        for (i, item) in self.items.iter().enumerate() {
            match *item {
                Item::Mark(_) => {}
                Item::Stmt(s) => out.push(s),
                Item::Ja(l) => out.push(ja(pos[i], labels[l.0])),
                Item::Jump { code, k, jt, jf } => {
                    let (jt_long, jf_long) = long[i];
                    let tramps = usize::from(jt_long) + usize::from(jf_long);
                    let offset = |t: Target, is_long: bool, slot: usize| -> u8 {
                        match t {
                            _ if is_long => slot as u8,
                            Target::Next => tramps as u8,
                            Target::To(l) => (labels[l.0] - (pos[i] + 1)) as u8,
                        }
                    };
                    out.push(SockFilter {
                        code,
                        jt: offset(jt, jt_long, 0),
                        jf: offset(jf, jf_long, usize::from(jt_long)),
                        k,
                    });
                    for (t, is_long) in [(jt, jt_long), (jf, jf_long)] {
                        if let (Target::To(l), true) = (t, is_long) {
                            let here = out.len();
                            out.push(ja(here, labels[l.0]));
                        }
                    }
                }
            }
        }
        out
    }
}
