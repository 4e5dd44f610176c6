//! Subordinate IDs: `/etc/subuid` and `/etc/subgid`.
//!
//! An unprivileged user may map one ID into a user namespace: its own. To
//! give a container 65 536 users (an image's files belong to root, to
//! `www-data`, to `nobody`…), the administrator grants the user a range of
//! *subordinate* IDs, one line `NAME:START:COUNT` (or `UID:START:COUNT`) in
//! `/etc/subuid` and `/etc/subgid` — Debian's `useradd` does it for every
//! new user. The setuid helpers `newuidmap` and `newgidmap` (package
//! `uidmap`) check those files, then write a map that uses the ranges.

use std::path::Path;

use crate::{Error, Result};

/// Where the subordinate user IDs are granted.
pub const SUBUID: &str = "/etc/subuid";
/// Where the subordinate group IDs are granted.
pub const SUBGID: &str = "/etc/subgid";

/// A range of subordinate IDs: `count` IDs from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// The first ID.
    pub start: u32,
    /// How many.
    pub count: u32,
}

/// Every grant in `text` (the contents of `/etc/subuid` or `/etc/subgid`):
/// who (a name, or a uid as text) and which range, in the file's order.
pub fn grants(text: &str) -> Vec<(&str, Range)> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let (who, start, count) = (fields.next()?, fields.next()?, fields.next()?);
            let range = Range {
                start: start.parse().ok()?,
                count: count.parse().ok()?,
            };
            Some((who, range))
        })
        .collect()
}

// ANCHOR: lookup
/// The ranges `text` grants to the user called `name` with ID `id`, in
/// the file's order. Lines may name the user either way, as `newuidmap`
/// accepts.
pub fn lookup(text: &str, name: &str, id: u32) -> Vec<Range> {
    grants(text)
        .into_iter()
        .filter(|(who, range)| (*who == name || who.parse() == Ok(id)) && range.count > 0)
        .map(|(_, range)| range)
        .collect()
}
// ANCHOR_END: lookup

/// The first range of at least `needed` IDs that `file` grants the user
/// `name` (ID `id`), or an error that says what to add to which file.
pub fn range_for(file: &Path, name: &str, id: u32, needed: u32) -> Result<Range> {
    let text = std::fs::read_to_string(file).map_err(|e| Error::io("reading", file, e))?;
    let ranges = lookup(&text, name, id);
    ranges.iter().copied().find(|r| r.count >= needed).ok_or_else(|| {
        let found = match ranges.as_slice() {
            [] => "none".to_string(),
            some => some
                .iter()
                .map(|r| r.count.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        };
        Error::Invalid(format!(
            "{}: no range of {needed} IDs for {name} (found: {found}) — as root, add a line such as \
             \"{name}:100000:65536\" (usermod --add-subuids/--add-subgids does it)",
            file.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# granted by useradd\nalice:100000:65536\n1001:165536:65536\nbob:231072:10\nalice:300000:0\n";

    #[test]
    fn ranges_are_found_by_name_or_by_id() {
        assert_eq!(
            lookup(FILE, "alice", 1000),
            vec![Range {
                start: 100_000,
                count: 65_536
            }]
        );
        assert_eq!(lookup(FILE, "carol", 1001)[0].start, 165_536);
        assert_eq!(lookup(FILE, "nobody", 65534), vec![]);
    }

    #[test]
    fn a_missing_or_small_range_says_what_to_add() {
        let file = std::env::temp_dir().join(format!("berth-subuid-{}", std::process::id()));
        std::fs::write(&file, FILE).unwrap();
        let small = range_for(&file, "bob", 1002, 65_536)
            .unwrap_err()
            .to_string();
        let none = range_for(&file, "dave", 1003, 65_536)
            .unwrap_err()
            .to_string();
        let found = range_for(&file, "alice", 1000, 65_536).unwrap();
        std::fs::remove_file(&file).unwrap();
        assert!(
            small.contains("(found: 10)") && small.contains("bob:100000:65536"),
            "{small}"
        );
        assert!(
            none.contains("(found: none)") && none.contains("usermod"),
            "{none}"
        );
        assert_eq!(found.start, 100_000);
    }
}
