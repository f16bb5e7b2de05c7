//! Sizes, CPU amounts and signals as Docker's flags write them.

use crate::error::{Error, Result};

/// `512m`, `1g`, `1.5g`, `100k`, `1024b`, `1024` (bytes): Docker's
/// `RAMInBytes` (binary units, case-insensitive, optional trailing `b`).
pub fn parse_size(flag: &str, value: &str) -> Result<i64> {
    let bad = || {
        Error::invalid(
            flag,
            value,
            "expected a size like 512m, 1g or 65536 (units b, k, m, g, t)",
        )
    };
    let lower = value.trim().to_ascii_lowercase();
    let num_len = lower
        .bytes()
        .take_while(|c| c.is_ascii_digit() || *c == b'.')
        .count();
    if num_len == 0 {
        return Err(bad());
    }
    let number: f64 = lower[..num_len].parse().map_err(|_| bad())?;
    let unit = lower[num_len..].trim();
    let unit = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    let multiplier: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0_f64.powi(4),
        "p" => 1024.0_f64.powi(5),
        _ => return Err(bad()),
    };
    let bytes = number * multiplier;
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

/// `--cpus 0.5` in billionths of a CPU; at most the host's CPU count.
pub fn parse_cpus(value: &str, host_cpus: usize) -> Result<i64> {
    let cpus: f64 = value
        .trim()
        .parse()
        .map_err(|_| Error::invalid("--cpus", value, "expected a number of CPUs like 0.5 or 2"))?;
    if !cpus.is_finite() || cpus < 0.0 {
        return Err(Error::invalid("--cpus", value, "must be zero or more"));
    }
    let nano = (cpus * 1e9).round() as i64;
    if nano != 0 && nano < 10_000_000 {
        return Err(Error::invalid("--cpus", value, "the minimum is 0.01"));
    }
    if cpus > host_cpus as f64 {
        return Err(Error::invalid(
            "--cpus",
            value,
            format!("this machine has only {host_cpus} CPUs"),
        ));
    }
    Ok(nano)
}

/// `0-3,5`: CPU or memory-node lists.
pub fn validate_cpuset(flag: &str, value: &str) -> Result<()> {
    let ok = !value.is_empty()
        && value.split(',').all(|part| {
            let mut ends = part.splitn(2, '-');
            let a = ends.next().and_then(|a| a.parse::<u32>().ok());
            match (a, ends.next()) {
                (Some(_), None) => true,
                (Some(a), Some(b)) => b.parse::<u32>().is_ok_and(|b| b >= a),
                _ => false,
            }
        });
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(flag, value, "expected a list like 0-3,5"))
    }
}

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// A signal by name (`TERM`, `SIGTERM`, `sigterm`, `SIGRTMIN+3`) or number.
pub fn parse_signal(flag: &str, value: &str) -> Result<i32> {
    let bad = || {
        Error::invalid(
            flag,
            value,
            "expected a signal name like SIGTERM, KILL or a number 1-64",
        )
    };
    if let Ok(n) = value.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = value.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(n);
    }
    let rt = |base: i32, rest: &str| -> Option<i32> {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().ok()?
        };
        let n = base + off;
        (34..=64).contains(&n).then_some(n)
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return rt(34, rest.strip_prefix('+').unwrap_or(rest)).ok_or_else(bad);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return rt(64, rest).ok_or_else(bad);
    }
    Err(bad())
}

/// `SIGTERM` for 15 (the name Docker reports).
pub fn signal_name(n: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, v)| *v == n)
        .map_or_else(|| n.to_string(), |(s, _)| format!("SIG{s}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(parse_size("--memory", "512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("--memory", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_size("--memory", "1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("--memory", "100kb").unwrap(), 102_400);
        assert_eq!(parse_size("--memory", "4096").unwrap(), 4096);
        let err = parse_size("--memory", "12x").unwrap_err().to_string();
        assert!(err.contains("--memory") && err.contains("12x"), "{err}");
        assert!(parse_size("--memory", "").is_err());
        assert!(parse_size("--memory", "-5m").is_err());
    }

    #[test]
    fn cpus_become_billionths_within_the_host() {
        assert_eq!(parse_cpus("0.5", 2).unwrap(), 500_000_000);
        assert_eq!(parse_cpus("2", 2).unwrap(), 2_000_000_000);
        assert!(
            parse_cpus("3", 2)
                .unwrap_err()
                .to_string()
                .contains("only 2 CPUs")
        );
        assert!(parse_cpus("abc", 2).is_err());
        assert!(parse_cpus("0.001", 2).is_err());
    }

    #[test]
    fn cpusets() {
        assert!(validate_cpuset("--cpuset-cpus", "0-1,3").is_ok());
        assert!(validate_cpuset("--cpuset-cpus", "1-0").is_err());
        assert!(validate_cpuset("--cpuset-cpus", "a").is_err());
    }

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("-s", "SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("-s", "kill").unwrap(), 9);
        assert_eq!(parse_signal("-s", "1").unwrap(), 1);
        assert_eq!(parse_signal("-s", "SIGRTMIN+3").unwrap(), 37);
        assert!(parse_signal("-s", "SIGNOPE").is_err());
        assert!(parse_signal("-s", "65").is_err());
        assert_eq!(signal_name(9), "SIGKILL");
    }
}
