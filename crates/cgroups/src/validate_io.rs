//! Validation of `blockIO`, `network` and `rdma` (split from validate.rs).

use oci_spec::runtime::{LinuxBlockIo, LinuxResources};

use crate::error::{CgroupError, Result};

const WEIGHT_RANGE: std::ops::RangeInclusive<u16> = 10..=1000;

fn check_weight(field: String, weight: Option<u16>) -> Result<()> {
    match weight {
        // 0 means "unset", as in runc.
        Some(w) if w != 0 && !WEIGHT_RANGE.contains(&w) => Err(CgroupError::invalid(
            field,
            format!("{w} is outside 10..=1000"),
        )),
        _ => Ok(()),
    }
}

fn check_device(field: &str, major: i64, minor: i64) -> Result<()> {
    for (name, n) in [("major", major), ("minor", minor)] {
        if !(0..=i64::from(u32::MAX)).contains(&n) {
            return Err(CgroupError::invalid(
                format!("{field}.{name}"),
                format!("{n} is not a device number"),
            ));
        }
    }
    Ok(())
}

pub(crate) fn validate_block_io(block_io: &LinuxBlockIo) -> Result<()> {
    let base = "linux.resources.blockIO";
    check_weight(format!("{base}.weight"), block_io.weight())?;
    check_weight(format!("{base}.leafWeight"), block_io.leaf_weight())?;
    for (i, dev) in block_io.weight_device().iter().flatten().enumerate() {
        let field = format!("{base}.weightDevice[{i}]");
        check_device(&field, dev.major(), dev.minor())?;
        check_weight(format!("{field}.weight"), dev.weight())?;
        check_weight(format!("{field}.leafWeight"), dev.leaf_weight())?;
    }
    let throttles = [
        ("throttleReadBpsDevice", block_io.throttle_read_bps_device()),
        (
            "throttleWriteBpsDevice",
            block_io.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            block_io.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            block_io.throttle_write_iops_device(),
        ),
    ];
    for (name, list) in throttles {
        for (i, dev) in list.iter().flatten().enumerate() {
            check_device(&format!("{base}.{name}[{i}]"), dev.major(), dev.minor())?;
        }
    }
    Ok(())
}

pub(crate) fn validate_network_and_rdma(resources: &LinuxResources) -> Result<()> {
    if let Some(network) = resources.network() {
        for (i, prio) in network.priorities().iter().flatten().enumerate() {
            if prio.name().is_empty() || prio.name().contains(char::is_whitespace) {
                return Err(CgroupError::invalid(
                    format!("linux.resources.network.priorities[{i}].name"),
                    format!("{:?} is not an interface name", prio.name()),
                ));
            }
        }
    }
    for device in resources.rdma().iter().flat_map(|r| r.keys()) {
        if device.is_empty() || device.contains(char::is_whitespace) {
            return Err(CgroupError::invalid(
                format!("linux.resources.rdma[{device:?}]"),
                "an RDMA device name is non-empty and has no spaces",
            ));
        }
    }
    Ok(())
}
