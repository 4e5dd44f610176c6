//! The command-line flags for a container's limits (rung 02 and later).
//!
//! The names follow `docker run` and `podman run` (`--memory`,
//! `--pids-limit`, `--cpus`, …), so what a learner types here works there.

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use super::{CpuQuota, IoLimit, Limits, Stats};

// ANCHOR: args
/// Resource limits, and where the container's cgroup goes.
#[derive(Debug, Clone, clap::Args)]
pub struct CgroupArgs {
    /// Memory limit: bytes, or with a suffix (64M, 1G)
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory: Option<u64>,

    /// Swap the container may use beyond --memory [default: none]
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub memory_swap: Option<u64>,

    /// Most processes (and threads) the container may have at once
    #[arg(long, value_name = "N")]
    pub pids_limit: Option<u64>,

    /// CPU time, in CPUs: 0.5 is half of one CPU, 2 is two whole ones
    #[arg(long, value_name = "CPUS", value_parser = parse_cpus)]
    pub cpus: Option<f64>,

    /// Share of the CPU when it is contended, 1-10000 [default: 100]
    #[arg(long, value_name = "WEIGHT")]
    pub cpu_weight: Option<u64>,

    /// Limit reads from a block device, in bytes per second (/dev/vda:1M)
    #[arg(long, value_name = "DEVICE:RATE", value_parser = parse_device_rate)]
    pub device_read_bps: Vec<(u64, u64, u64)>,

    /// Limit writes to a block device, in bytes per second (/dev/vda:1M)
    #[arg(long, value_name = "DEVICE:RATE", value_parser = parse_device_rate)]
    pub device_write_bps: Vec<(u64, u64, u64)>,

    /// The cgroup the container's cgroup is created in
    #[arg(long, value_name = "PATH", default_value = "/berth")]
    pub cgroup_parent: String,

    /// Print what the cgroup counted when the container ends
    #[arg(long)]
    pub stats: bool,
}
// ANCHOR_END: args

impl CgroupArgs {
    /// The limits these flags ask for.
    #[allow(clippy::needless_update)] // rung 04 adds fields to Limits
    pub fn limits(&self) -> Limits {
        let mut io: Vec<IoLimit> = Vec::new();
        for (major, minor, bps) in &self.device_read_bps {
            io.push(IoLimit {
                device: (*major, *minor),
                read_bps: Some(*bps),
                write_bps: None,
            });
        }
        for (major, minor, bps) in &self.device_write_bps {
            match io.iter_mut().find(|l| l.device == (*major, *minor)) {
                Some(limit) => limit.write_bps = Some(*bps),
                None => io.push(IoLimit {
                    device: (*major, *minor),
                    read_bps: None,
                    write_bps: Some(*bps),
                }),
            }
        }
        Limits {
            memory: self.memory,
            swap: self.memory_swap,
            pids: self.pids_limit,
            cpu: self.cpus.map(CpuQuota::from_cpus),
            cpu_weight: self.cpu_weight,
            io,
            ..Limits::default()
        }
    }
}

/// "64M" → 67108864. Suffixes are powers of 1024, as in docker's
/// `--memory`: K, M, G, T (and the same with a trailing B or in lower case).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let digits = upper.trim_end_matches('B');
    let (number, unit) = match digits.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => digits.split_at(i),
        None => (digits, ""),
    };
    let shift = match unit {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => {
            return Err(format!(
                "{text:?} is not a size: use bytes, or a number with K, M, G or T"
            ))
        }
    };
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size: use bytes, or a number with K, M, G or T"))?;
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// "0.5" → 0.5, refusing what cannot be a number of CPUs.
pub fn parse_cpus(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(cpus) if cpus.is_finite() && cpus > 0.0 => Ok(cpus),
        _ => Err(format!(
            "{text:?} is not a number of CPUs: use a positive number such as 0.5 or 2"
        )),
    }
}

/// "/dev/vda:1M" → (major, minor, bytes per second).
pub fn parse_device_rate(text: &str) -> Result<(u64, u64, u64), String> {
    let (path, rate) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?}: expected DEVICE:RATE, such as /dev/vda:1M"))?;
    let meta = std::fs::metadata(path).map_err(|e| format!("{path}: {e}"))?;
    if !meta.file_type().is_block_device() {
        return Err(format!("{path} is not a block device"));
    }
    let rdev = meta.rdev();
    Ok((
        libc::major(rdev) as u64,
        libc::minor(rdev) as u64,
        parse_size(rate)?,
    ))
}

/// A size for people: 33554432 → "32 MiB".
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl Stats {
    // ANCHOR: explain
    /// Why the container may have died, in words, from what the kernel
    /// counted: an exit status of 137 says "SIGKILL", not "out of memory".
    pub fn explain(&self, limits: &Limits) -> Vec<String> {
        let mut lines = Vec::new();
        if self.oom_kills > 0 {
            let limit = limits.memory.map_or("its memory limit".into(), human);
            lines.push(format!(
                "out of memory: the container reached its limit of {limit}, and the kernel's OOM killer killed {} process{}",
                self.oom_kills,
                if self.oom_kills == 1 { "" } else { "es" }
            ));
        }
        if self.forks_refused > 0 {
            let limit = limits.pids.map_or("its".into(), |p| p.to_string());
            lines.push(format!(
                "pids limit: {} fork{} failed because the container already had {limit} processes",
                self.forks_refused,
                if self.forks_refused == 1 { "" } else { "s" }
            ));
        }
        lines
    }
    // ANCHOR_END: explain

    /// Everything the cgroup counted, a line each (`--stats`).
    pub fn lines(&self, version: &str) -> Vec<String> {
        let mut lines = vec![
            format!("cgroup {version}: oom kills {}", self.oom_kills),
            format!("cgroup {version}: forks refused {}", self.forks_refused),
            format!(
                "cgroup {version}: throttled periods {}",
                self.throttled_periods
            ),
        ];
        if let Some(peak) = self.pids_peak {
            lines.push(format!("cgroup {version}: pids peak {peak}"));
        }
        if let Some(peak) = self.memory_peak {
            lines.push(format!("cgroup {version}: memory peak {}", human(peak)));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1GB"), Ok(1 << 30));
        assert!(parse_size("lots").unwrap_err().contains("not a size"));
        assert!(parse_size("1.5G").is_err());
        assert!(parse_size("99999999999T")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("0.5"), Ok(0.5));
        for bad in ["abc", "0", "-1", "NaN", "inf"] {
            assert!(parse_cpus(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn devices_must_be_block_devices() {
        assert!(parse_device_rate("/dev/null:1M")
            .unwrap_err()
            .contains("not a block device"));
        assert!(parse_device_rate("/nope:1M").is_err());
        assert!(parse_device_rate("1M").is_err());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(32 << 20), "32 MiB");
        assert_eq!(human(1536), "1.5 KiB");
        assert_eq!(human(12), "12 B");
    }

    #[test]
    fn explanations_name_the_limit() {
        let limits = Limits {
            memory: Some(32 << 20),
            pids: Some(16),
            ..Limits::default()
        };
        let stats = Stats {
            oom_kills: 1,
            forks_refused: 3,
            ..Stats::default()
        };
        let lines = stats.explain(&limits);
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].contains("32 MiB") && lines[0].contains("killed 1 process"),
            "{}",
            lines[0]
        );
        assert!(
            lines[1].contains("3 forks failed") && lines[1].contains("16 processes"),
            "{}",
            lines[1]
        );
        assert!(Stats::default().explain(&limits).is_empty());
    }
}
