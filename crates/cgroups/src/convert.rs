//! Conversions between the OCI (cgroup v1 flavoured) units and cgroup v2's,
//! exactly as runc (opencontainers/cgroups) does them.

/// Smallest and largest v1 `cpu.shares` the kernel accepts.
pub const SHARES_MIN: u64 = 2;
/// See [`SHARES_MIN`].
pub const SHARES_MAX: u64 = 262_144;
/// Smallest and largest v2 `cpu.weight`.
pub const WEIGHT_MIN: u64 = 1;
/// See [`WEIGHT_MIN`].
pub const WEIGHT_MAX: u64 = 10_000;

/// Converts v1 `cpu.shares` to v2 `cpu.weight` with runc's current formula
/// (opencontainers/cgroups >= 0.0.2): a quadratic in log2(shares) that maps
/// 2 -> 1, 1024 -> 100 (both defaults) and 262144 -> 10000. 0 means "unset"
/// and stays 0; values outside the v1 range are clamped.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    if shares <= SHARES_MIN {
        return WEIGHT_MIN;
    }
    if shares >= SHARES_MAX {
        return WEIGHT_MAX;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    10f64.powf(exponent).ceil() as u64
}

/// The inverse of [`shares_to_weight`]: the largest shares value whose
/// weight is at most `weight`, so the defaults and the ends of the ranges
/// map back exactly (100 -> 1024, 1 -> 2, 10000 -> 262144). Used to show v2
/// weights in v1 terms (`update`, `stats`). 0 stays 0.
pub fn weight_to_shares(weight: u64) -> u64 {
    if weight == 0 {
        return 0;
    }
    // shares_to_weight is monotonic: binary-search the last shares value
    // whose weight does not exceed `weight`.
    let (mut lo, mut hi) = (SHARES_MIN, SHARES_MAX);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if shares_to_weight(mid) <= weight {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// Converts a v1 `blkio.weight` (10..=1000) to a v2 `io.weight` (1..=10000):
/// `1 + (w - 10) * 9999 / 990`. 0 means "unset".
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight).saturating_sub(10)) * 9999 / 990
}

/// Converts OCI `memory.swap` (memory + swap, the v1 `memsw` limit) to v2's
/// `memory.swap.max` (swap alone). -1 means "max", 0 means "unset".
pub fn memory_swap_to_v2(swap: i64, memory: i64) -> Result<i64, &'static str> {
    match (swap, memory) {
        (0, -1) => Ok(-1),
        (-1, _) | (0, _) => Ok(swap),
        (_, -1) => Ok(swap),
        (_, 0) => Err("a swap limit needs a memory limit"),
        (_, m) if m < 0 => Err("the memory limit is negative"),
        (s, m) if s < m => Err("memory+swap (swap) must be >= the memory limit"),
        (s, m) => Ok(s - m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_to_weight_matches_runc_table() {
        for (shares, weight) in [
            (0, 0),
            (1, 1),
            (2, 1),
            (3, 2),
            (1024, 100),
            (262_143, 10_000),
            (262_144, 10_000),
            (262_145, 10_000),
        ] {
            assert_eq!(shares_to_weight(shares), weight, "shares {shares}");
        }
    }

    #[test]
    fn shares_to_weight_is_monotonic() {
        let mut last = 0;
        for shares in 2..=SHARES_MAX {
            let w = shares_to_weight(shares);
            assert!(w >= last, "weight fell at shares {shares}");
            last = w;
        }
    }

    #[test]
    fn weight_to_shares_inverts_for_every_weight() {
        for weight in 1..=WEIGHT_MAX {
            let shares = weight_to_shares(weight);
            assert!(
                shares_to_weight(shares) <= weight,
                "weight {weight} -> shares {shares}"
            );
            if shares < SHARES_MAX {
                assert!(
                    shares_to_weight(shares + 1) > weight,
                    "weight {weight}: {shares} not the largest"
                );
            }
        }
        assert_eq!(weight_to_shares(100), 1024);
        assert_eq!(weight_to_shares(1), 2);
        assert_eq!(weight_to_shares(10_000), SHARES_MAX);
        assert_eq!(weight_to_shares(0), 0);
        for shares in [2, 512, 1024, 2048, 262_144] {
            assert_eq!(
                shares_to_weight(weight_to_shares(shares_to_weight(shares))),
                shares_to_weight(shares)
            );
        }
    }

    #[test]
    fn blkio_weight_conversion_matches_runc() {
        assert_eq!(blkio_weight_to_io_weight(0), 0);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
    }

    #[test]
    fn swap_conversion_matches_runc() {
        assert_eq!(memory_swap_to_v2(0, 0), Ok(0));
        assert_eq!(memory_swap_to_v2(-1, 0), Ok(-1));
        assert_eq!(memory_swap_to_v2(-1, -1), Ok(-1));
        assert_eq!(memory_swap_to_v2(0, -1), Ok(-1));
        assert_eq!(memory_swap_to_v2(-1, 1000), Ok(-1));
        assert_eq!(memory_swap_to_v2(1000, 1000), Ok(0));
        assert_eq!(memory_swap_to_v2(500, 200), Ok(300));
        assert_eq!(memory_swap_to_v2(2000, -1), Ok(2000));
        assert!(memory_swap_to_v2(300, 400).is_err());
        assert!(memory_swap_to_v2(300, 0).is_err());
        assert!(memory_swap_to_v2(300, -5).is_err());
    }
}
