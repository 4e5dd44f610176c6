//! An entry of the tarball, parsed from its header (and its PAX records)
//! before anything is written: what it asks for, and where.

use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{makedev, SFlag};
use nix::sys::time::TimeSpec;
use tar::EntryType;

use crate::Result;

use super::*;

/// Extended attributes to set: (name, value).
pub(super) type Xattrs = Vec<(CString, Vec<u8>)>;

/// What an entry asks for, parsed from its header before anything is
/// written.
pub(super) enum Kind {
    File,
    Dir,
    Symlink(OsString),
    Hardlink(PathBuf),
    Device(SFlag, u64),
    Fifo,
    /// `.wh.NAME`: delete NAME from the layers below.
    Whiteout(OsString),
    /// `.wh..wh..opq`: hide the lower layers' copy of this directory.
    Opaque,
    /// Nothing to create (a PAX global header, aufs bookkeeping).
    Skip,
}

/// The metadata every created entry gets.
pub(super) struct Meta {
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mtime: TimeSpec,
    pub(super) xattrs: Xattrs,
}

/// One tar entry, checked and ready to apply.
pub(super) struct Item {
    /// The path as the tarball spells it, for error messages.
    pub(super) shown: String,
    /// Its plain names, from the target down; the last one is created.
    pub(super) parts: Vec<OsString>,
    pub(super) kind: Kind,
    pub(super) meta: Meta,
}

/// Read an entry's header (and PAX records) into an [`Item`], refusing
/// what can never be safe before touching the disk.
impl Layer {
    pub(super) fn parse<R: Read>(&self, entry: &mut tar::Entry<'_, R>) -> Result<Item> {
        let (pax_mtime, xattrs) = pax_records(entry).map_err(|e| self.read_error(e))?;
        let header = entry.header();
        let raw_path = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let path = Path::new(OsStr::from_bytes(&raw_path));
        let mut parts = plain_names(path).map_err(|why| self.refuse(&shown, why))?;
        let bad_header = |e: io::Error| self.refuse(&shown, &format!("unreadable header: {e}"));
        let mtime = match pax_mtime {
            Some(mtime) => mtime,
            None => TimeSpec::new(header.mtime().map_err(bad_header)? as i64, 0),
        };
        let meta = Meta {
            mode: header.mode().map_err(bad_header)? & 0o7777,
            uid: id(header.uid().map_err(bad_header)?)
                .ok_or_else(|| self.refuse(&shown, "uid out of range"))?,
            gid: id(header.gid().map_err(bad_header)?)
                .ok_or_else(|| self.refuse(&shown, "gid out of range"))?,
            mtime,
            xattrs,
        };
        let kind = match header.entry_type() {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse
                if raw_path.ends_with(b"/") =>
            {
                Kind::Dir // an old (v7) tar's way of writing a directory
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => Kind::File,
            EntryType::Directory => Kind::Dir,
            EntryType::Symlink => Kind::Symlink(
                link_name(entry)
                    .ok_or_else(|| self.refuse(&shown, "a symlink without a target"))?,
            ),
            EntryType::Link => Kind::Hardlink(PathBuf::from(
                link_name(entry)
                    .ok_or_else(|| self.refuse(&shown, "a hard link without a target"))?,
            )),
            kind @ (EntryType::Char | EntryType::Block) => {
                let major = header.device_major().map_err(bad_header)?.unwrap_or(0);
                let minor = header.device_minor().map_err(bad_header)?.unwrap_or(0);
                let flag = if kind == EntryType::Char {
                    SFlag::S_IFCHR
                } else {
                    SFlag::S_IFBLK
                };
                Kind::Device(flag, makedev(major.into(), minor.into()))
            }
            EntryType::Fifo => Kind::Fifo,
            EntryType::XGlobalHeader => Kind::Skip,
            other => {
                return Err(self.refuse(
                    &shown,
                    &format!("unsupported entry type {:?}", other.as_byte() as char),
                ))
            }
        };
        let kind = self.whiteout_kind(kind, &mut parts, &shown)?;
        if parts.is_empty() && !matches!(kind, Kind::Dir | Kind::Opaque | Kind::Skip) {
            return Err(self.refuse(&shown, "only a directory can be the layer's root"));
        }
        Ok(Item {
            shown,
            parts,
            kind,
            meta,
        })
    }
}

/// PAX records the `tar` crate leaves to us: a precise `mtime`, and
/// extended attributes (`SCHILY.xattr.NAME`, as GNU tar and Docker write
/// them). `trusted.overlay.*` attributes are dropped: they steer overlayfs
/// itself (opaque, redirect, metacopy), and only this module's own
/// whiteout handling may set them.
pub(super) fn pax_records<R: Read>(
    entry: &mut tar::Entry<'_, R>,
) -> io::Result<(Option<TimeSpec>, Xattrs)> {
    let mut mtime = None;
    let mut xattrs = Vec::new();
    let Some(records) = entry.pax_extensions()? else {
        return Ok((None, xattrs));
    };
    for record in records {
        let record = record?;
        let key = record.key_bytes();
        if key == b"mtime" {
            mtime = parse_pax_time(record.value_bytes());
        } else if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
            if name.starts_with(b"trusted.overlay.") {
                continue;
            }
            let name = CString::new(name)
                .map_err(|_| io::Error::other("an xattr name with a NUL byte"))?;
            xattrs.push((name, record.value_bytes().to_vec()));
        }
    }
    Ok((mtime, xattrs))
}

/// `1700000000.123456789` → seconds and nanoseconds.
pub(super) fn parse_pax_time(text: &[u8]) -> Option<TimeSpec> {
    let text = std::str::from_utf8(text).ok()?;
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let nanos: i64 = if digits.is_empty() {
        0
    } else {
        format!("{digits:0<9}").parse().ok()?
    };
    Some(TimeSpec::new(secs, if secs < 0 { -nanos } else { nanos }))
}

pub(super) fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> Option<OsString> {
    let bytes = entry.link_name_bytes()?;
    (!bytes.is_empty()).then(|| OsString::from_vec(bytes.into_owned()))
}

pub(super) fn id(value: u64) -> Option<u32> {
    u32::try_from(value).ok()
}
