//! ID maps: which IDs inside a user namespace are which IDs outside.
//!
//! The kernel's format, for `/proc/PID/uid_map` and `gid_map` alike, is one
//! range a line: `INSIDE OUTSIDE COUNT` — `0 1000 1` makes inside uid 0 the
//! outside uid 1000, and nothing else is mapped. The kernel takes a map
//! only once per namespace, whole, and refuses one whose ranges overlap
//! (on either side); it allows 340 lines since Linux 4.15. An ID with no
//! line is *unmapped*: it shows as 65534 (`nobody`) and cannot be used.

use std::fmt;

use crate::{Error, Result};

/// The most lines a map may have (Linux 4.15 and later).
pub const MAX_LINES: usize = 340;

// ANCHOR: idmap
/// One line of a map: `count` IDs from `inside` are the IDs from `outside`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    /// The first ID as the namespace sees it.
    pub inside: u32,
    /// The first ID as the namespace's parent sees it.
    pub outside: u32,
    /// How many consecutive IDs.
    pub count: u32,
}
// ANCHOR_END: idmap

impl IdMap {
    /// The outside ID of `inside`, if this line maps it.
    pub fn outside_of(&self, inside: u32) -> Option<u32> {
        let offset = inside.checked_sub(self.inside)?;
        (offset < self.count).then(|| self.outside + offset)
    }
}

impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

/// Parse a map in the kernel's format (what `/proc/PID/uid_map` shows:
/// any whitespace between the three numbers).
pub fn parse(text: &str) -> Result<Vec<IdMap>> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let numbers: Vec<u32> = line
                .split_whitespace()
                .map(str::parse)
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| Error::Invalid(format!("ID map line {line:?}: not three numbers")))?;
            match numbers[..] {
                [inside, outside, count] => Ok(IdMap {
                    inside,
                    outside,
                    count,
                }),
                _ => Err(Error::Invalid(format!(
                    "ID map line {line:?}: INSIDE OUTSIDE COUNT"
                ))),
            }
        })
        .collect()
}

/// The map in the kernel's format, ready to be written in one `write(2)`
/// (the kernel takes a map only whole, in a single write).
pub fn to_text(maps: &[IdMap]) -> String {
    maps.iter().map(|m| format!("{m}\n")).collect()
}

/// The outside ID of `inside` under `maps`, if it is mapped.
pub fn outside_of(maps: &[IdMap], inside: u32) -> Option<u32> {
    maps.iter().find_map(|m| m.outside_of(inside))
}

// ANCHOR: validate
/// Check a map before handing it to the kernel, which would refuse it with
/// a bare `EINVAL`: say instead which line is wrong and why. `what` names
/// the map in messages (`linux.uidMappings`).
///
/// A map must be non-empty, with no empty range, no range that runs past
/// the last ID, no two ranges overlapping inside or outside, at most
/// [`MAX_LINES`] lines — and it must map inside ID 0: a container's root
/// that is unmapped is `nobody`, and nothing in the container would work.
pub fn validate(maps: &[IdMap], what: &str) -> Result<()> {
    let invalid = |why: String| Err(Error::Invalid(format!("{what}: {why}")));
    if maps.is_empty() {
        return invalid("empty: a user namespace needs at least its root mapped".into());
    }
    if maps.len() > MAX_LINES {
        return invalid(format!(
            "{} lines; the kernel takes at most {MAX_LINES}",
            maps.len()
        ));
    }
    let end = |start: u32, count: u32| u64::from(start) + u64::from(count);
    for (i, m) in maps.iter().enumerate() {
        if m.count == 0 {
            return invalid(format!("\"{m}\": a range of 0 IDs"));
        }
        // The kernel wants first + count to stay below 2^32.
        if end(m.inside, m.count) >= 1 << 32 || end(m.outside, m.count) >= 1 << 32 {
            return invalid(format!("\"{m}\": runs past the last ID (4294967295)"));
        }
        for other in &maps[..i] {
            let overlap = |a: u32, b: u32| {
                u64::from(a) < end(b, other.count) && u64::from(b) < end(a, m.count)
            };
            if overlap(m.inside, other.inside) {
                return invalid(format!("\"{m}\" and \"{other}\" overlap inside"));
            }
            if overlap(m.outside, other.outside) {
                return invalid(format!("\"{m}\" and \"{other}\" overlap outside"));
            }
        }
    }
    if outside_of(maps, 0).is_none() {
        return invalid("maps no inside ID 0: the container's root would be nobody".into());
    }
    Ok(())
}
// ANCHOR_END: validate

#[cfg(test)]
mod tests {
    use super::*;

    fn line(inside: u32, outside: u32, count: u32) -> IdMap {
        IdMap {
            inside,
            outside,
            count,
        }
    }

    #[test]
    fn the_kernels_format_round_trips() {
        // As /proc/PID/uid_map pads it.
        let shown = "         0     100000      65536\n     65536       1000          1\n";
        let maps = parse(shown).unwrap();
        assert_eq!(maps, vec![line(0, 100_000, 65_536), line(65_536, 1000, 1)]);
        assert_eq!(to_text(&maps), "0 100000 65536\n65536 1000 1\n");
        assert_eq!(outside_of(&maps, 0), Some(100_000));
        assert_eq!(outside_of(&maps, 65_535), Some(165_535));
        assert_eq!(outside_of(&maps, 65_536), Some(1000));
        assert_eq!(outside_of(&maps, 65_537), None);
        assert!(parse("0 1000")
            .unwrap_err()
            .to_string()
            .contains("INSIDE OUTSIDE COUNT"));
        assert!(parse("0 x 1")
            .unwrap_err()
            .to_string()
            .contains("not three numbers"));
    }

    #[test]
    fn bad_maps_are_refused_saying_why() {
        let refused = |maps: &[IdMap], says: &str| {
            let message = validate(maps, "linux.uidMappings").unwrap_err().to_string();
            assert!(message.starts_with("linux.uidMappings: "), "{message}");
            assert!(message.contains(says), "{says:?} not in {message:?}");
        };
        refused(&[], "empty");
        refused(&[line(1, 1000, 1)], "no inside ID 0");
        refused(&[line(0, 1000, 0)], "a range of 0 IDs");
        refused(&[line(0, u32::MAX, 2)], "runs past the last ID");
        refused(&[line(0, u32::MAX, 1)], "runs past the last ID");
        refused(&[line(0, 1000, 10), line(5, 2000, 10)], "overlap inside");
        refused(&[line(0, 1000, 10), line(10, 1005, 10)], "overlap outside");
        let many: Vec<IdMap> = (0..341).map(|i| line(i, 1000 + i, 1)).collect();
        refused(&many, "at most 340");
        validate(&[line(0, 1000, 1)], "x").unwrap();
        validate(&[line(0, 100_000, 65_536), line(65_536, 1000, 1)], "x").unwrap();
    }
}
