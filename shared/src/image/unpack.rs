//! Unpacking a layer: a tarball into a directory overlayfs can stack.
//!
//! Introduced by rung 05; chapter 5 explains it.
//!
//! An image layer is a tar archive of the files one build step added or
//! changed. Unpacked side by side, one directory per layer, the layers
//! become overlayfs's `lowerdir=` stack (rung 03), and two things need
//! translating on the way:
//!
//! - **Deletions.** A tarball can only *add* files, so the image format
//!   records "this layer deletes `/etc/motd`" as an empty file named
//!   `etc/.wh.motd` (a *whiteout*), and "this directory replaces, rather
//!   than merges with, the one below" as `dir/.wh..wh..opq`. Overlayfs
//!   spells the same things differently: a character device 0/0 named
//!   `motd`, and the extended attribute `trusted.overlay.opaque="y"` on
//!   the directory.
//! - **Metadata.** Owners (numbers, never names: the image's `/etc/passwd`
//!   is not the host's), modes including setuid, mtimes, extended
//!   attributes (file capabilities such as `cap_net_raw` on `ping` live in
//!   `security.capability`), hard links, symlinks, device nodes and fifos.
//!
//! # A layer is hostile input
//!
//! A tarball is a list of *instructions* — "create this path" — written by
//! whoever built the image. Followed naively, they write wherever they
//! point: `../../etc/cron.d/x`, `/root/.ssh/authorized_keys`, or, more
//! subtly, a symlink `l -> /etc` followed by a file `l/passwd`, or a hard
//! link to `/etc/shadow` that a later container can read. Each of these
//! has been a real CVE in a real container tool.
//!
//! Checking the *text* of a path for `..` catches the first two only: the
//! symlink case has no `..` anywhere. So the checks here are made by the
//! kernel, on the real directory tree, one step at a time:
//!
//! 1. The target directory is opened once and held as a file descriptor;
//!    no path handed to the kernel afterwards starts anywhere else.
//! 2. An entry's path must be relative with plain names only (`..` and a
//!    leading `/` are refused outright: there is no honest reason for them).
//! 3. Its parent directory is opened with `openat2(2)` and
//!    `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`: the kernel refuses to leave
//!    the target and refuses to follow *any* symlink on the way, so a link
//!    planted by an earlier entry cannot redirect a later one.
//! 4. The entry itself is created *by name in that directory*
//!    (`openat(O_CREAT|O_EXCL|O_NOFOLLOW)`, `mkdirat`, `symlinkat`,
//!    `mknodat`, `linkat`), and a hard link's target is resolved the same
//!    way as a path.
//!
//! The `tar` crate only parses (headers, long names, PAX records); every
//! write is done here. Nothing is buffered: each file's bytes stream from
//! the decompressor into the file.

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, AtFlags, Flock, FlockArg, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{
    fchmod, fchmodat, fstatat, futimens, makedev, mkdirat, mknodat, utimensat, FchmodatFlags, Mode,
    SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use tar::EntryType;

use super::digest::{Digest, VerifyingReader};
use crate::{Error, Result};

/// The prefix that marks a whiteout entry.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The entry that marks its directory opaque.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The extended attribute overlayfs reads to treat a directory as opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// What an unpack created, for the command line to print.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Regular files written.
    pub files: u64,
    /// Bytes written into regular files (the layer's uncompressed content).
    pub bytes: u64,
    /// Directories created or updated.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Hard links.
    pub hardlinks: u64,
    /// Device nodes and fifos.
    pub specials: u64,
    /// Whiteouts turned into overlayfs whiteouts (deleted paths).
    pub whiteouts: u64,
    /// Directories marked opaque.
    pub opaque_dirs: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} files ({} bytes), {} directories, {} symlinks, {} hard links, \
             {} special files, {} whiteouts, {} opaque directories",
            self.files,
            self.bytes,
            self.dirs,
            self.symlinks,
            self.hardlinks,
            self.specials,
            self.whiteouts,
            self.opaque_dirs
        )
    }
}

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar archive.
    None,
    /// gzip (the Docker default).
    Gzip,
    /// zstd (smaller and much faster to decompress; OCI only).
    Zstd,
}

impl Compression {
    /// What a layer's media type promises, or `None` when the type says
    /// nothing (empty, `application/octet-stream`). Non-layer types (a
    /// config, a manifest) are refused: they are not tarballs.
    pub fn from_media_type(media_type: &str) -> Result<Option<Compression>> {
        const OCI: &str = "application/vnd.oci.image.layer.";
        const DOCKER: &str = "application/vnd.docker.image.rootfs.";
        match media_type {
            "" | "application/octet-stream" => return Ok(None),
            _ if !media_type.starts_with(OCI) && !media_type.starts_with(DOCKER) => {}
            // `…layer.v1.tar`, `…layer.nondistributable.v1.tar+gzip`,
            // `…rootfs.diff.tar.gzip`, `…rootfs.foreign.diff.tar.gzip`.
            _ if media_type.ends_with(".tar") => return Ok(Some(Compression::None)),
            _ if media_type.ends_with("+gzip") || media_type.ends_with(".tar.gzip") => {
                return Ok(Some(Compression::Gzip))
            }
            _ if media_type.ends_with("+zstd") || media_type.ends_with(".tar.zstd") => {
                return Ok(Some(Compression::Zstd))
            }
            _ => {}
        }
        Err(Error::Invalid(format!(
            "media type {media_type:?} is not a layer the kit can unpack \
             (tar, tar+gzip or tar+zstd)"
        )))
    }

    /// Recognise a stream by its first bytes (gzip `1f 8b`, zstd
    /// `28 b5 2f fd`; a tar archive has no magic at its start).
    pub fn sniff(magic: &[u8]) -> Compression {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// Unpack one layer, streaming, into `target` (which must exist; it is
/// usually empty). `media_type` is the layer descriptor's; pass `""` to
/// rely on the magic bytes alone.
///
/// On error the target holds whatever was unpacked before the bad entry
/// and must be thrown away — [`unpack_atomically`] does that for you —
/// but nothing was ever written outside it.
pub fn unpack(
    reader: impl Read,
    media_type: &str,
    target: &Path,
    diff_id: Option<&Digest>,
) -> Result<Summary> {
    Compression::from_media_type(media_type)?;
    let mut layer = Layer::open(target)?;
    let stream = decompress(reader).map_err(|e| layer.read_error(e))?;
    // The uncompressed stream is hashed as it is unpacked: the image
    // config names each layer's tar by that digest (its `diff_id`).
    let mut stream = VerifyingReader::new(stream);
    layer.extract(&mut stream)?;
    if let Some(diff_id) = diff_id {
        stream.finish(diff_id, "the layer's uncompressed tar (diff_id)")?;
    }
    layer.finish()
}

/// Unpack into a fresh sibling of `target` and rename it into place, so
/// `target` either does not exist or holds the whole layer — never half of
/// one, whatever happens (an error, a crash, `kill -9`).
///
/// The sibling is named `.NAME.unpacking-PID-N` (see [`is_temporary`]) and
/// locked for as long as the unpack works in it; a failed unpack removes
/// it, and one left by a crash is removed by [`sweep_temporaries`] (which
/// tells the two apart by the lock). If `target` appears meanwhile
/// (another pull unpacked the same layer: same digest, same content), ours
/// is discarded and the unpack still succeeds.
pub fn unpack_atomically(
    reader: impl Read,
    media_type: &str,
    target: &Path,
    diff_id: Option<&Digest>,
) -> Result<Summary> {
    let temporary = temporary_sibling(target)?;
    let owned = create_owned(&temporary)?;
    let unpacked = unpack(reader, media_type, &temporary, diff_id).and_then(|summary| {
        rename_no_replace(&temporary, target)?;
        Ok(summary)
    });
    if temporary.exists() {
        // Our copy lost a race, or the unpack failed. `remove_tree` does
        // not follow symlinks, so a hostile layer's links are safe to
        // delete.
        let _ = remove_tree(&temporary);
    }
    drop(owned);
    unpacked
}

/// Whether a directory name is a temporary one left by
/// [`unpack_atomically`] (for the store to sweep after a crash).
pub fn is_temporary(name: &OsStr) -> bool {
    let name = name.as_bytes();
    name.starts_with(b".") && name.windows(11).any(|w| w == b".unpacking-")
}

// ANCHOR: sweep
/// Remove the temporaries in `dir` that [`unpack_atomically`] left behind
/// when its process died mid-unpack (`kill -9`, a crash, a power cut), and
/// keep those whose unpack is still running. Returns what was removed.
///
/// # Whose temporary is it?
///
/// The PID in a temporary's name says which process made it, not whether
/// that process is still unpacking: PIDs are reused, so a live PID may be
/// a stranger's (a stale temporary would be kept forever), and a pull in
/// another PID namespace has a PID that means nothing here (a live unpack
/// would be deleted under its feet). A lock answers the question exactly:
/// the unpacking process holds `flock(2)` on its temporary directory for
/// as long as it works in it, and the kernel drops a process's locks when
/// the process ends, however it ends. A temporary that can be locked
/// without waiting has no owner left, and may go.
///
/// One gap remains: between `mkdir` and `flock` a fresh temporary exists
/// unlocked. So its creator holds a *shared* lock on `dir` itself across
/// those two steps, and the sweep an *exclusive* one while it looks:
/// unpacks still start side by side, and a sweep never sees one half-born.
pub fn sweep_temporaries(dir: &Path) -> Result<Vec<PathBuf>> {
    let _dir = lock_dir(dir, FlockArg::LockExclusive)
        .map_err(|e| Error::sys(format!("locking {} to sweep it", dir.display()), e))?;
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::os(format!("reading {}", dir.display()), e))?;
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !is_temporary(&entry.file_name()) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        match lock_dir(&path, FlockArg::LockExclusiveNonblock) {
            // No owner: its process died before it could rename or remove it.
            Ok(_orphan) => {
                remove_tree(&path)
                    .map_err(|e| Error::os(format!("removing {}", path.display()), e))?;
                removed.push(path);
            }
            // An unpack is working in it (EWOULDBLOCK), or it went away.
            Err(Errno::EWOULDBLOCK | Errno::ENOENT) => {}
            Err(e) => return Err(Error::sys(format!("locking {}", path.display()), e)),
        }
    }
    Ok(removed)
}
// ANCHOR_END: sweep

/// Create the directory `temporary` and lock it as its owner's, with its
/// parent locked shared meanwhile (see [`sweep_temporaries`]). The lock
/// lasts as long as the returned value.
fn create_owned(temporary: &Path) -> Result<Flock<File>> {
    let parent = match temporary.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let _parent = lock_dir(parent, FlockArg::LockShared)
        .map_err(|e| Error::sys(format!("locking {}", parent.display()), e))?;
    std::fs::create_dir(temporary)
        .map_err(|e| Error::os(format!("creating {}", temporary.display()), e))?;
    lock_dir(temporary, FlockArg::LockExclusive)
        .map_err(|e| Error::sys(format!("locking {}", temporary.display()), e))
}

/// `flock(2)` on the directory `dir` itself (never through a symlink).
fn lock_dir(dir: &Path, how: FlockArg) -> nix::Result<Flock<File>> {
    let fd = nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    Flock::lock(File::from(fd), how).map_err(|(_, e)| e)
}

/// Remove the tree at `path`, whatever modes its layer gave it.
///
/// A layer may hold read-only directories (`dr-xr-xr-x`): root removes
/// what is in them anyway, anyone else gets `EACCES`. Then every directory
/// of the tree is made `u+rwx` and the removal tried again. Symlinks are
/// never followed, neither to remove nor to change modes.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            make_writable(path)?;
            std::fs::remove_dir_all(path)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// `chmod u+rwx` every directory under (and including) `dir`.
fn make_writable(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Ok(());
    }
    let mode = meta.permissions().mode();
    if mode & 0o700 != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode | 0o700))?;
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            make_writable(&entry.path())?;
        }
    }
    Ok(())
}

fn temporary_sibling(target: &Path) -> Result<PathBuf> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = target.file_name().ok_or_else(|| {
        Error::Invalid(format!(
            "cannot unpack into {}: it has no name",
            target.display()
        ))
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut temporary = OsString::from(".");
    temporary.push(name);
    temporary.push(format!(".unpacking-{}-{n}", std::process::id()));
    Ok(target.with_file_name(temporary))
}

/// `rename(2)` that fails rather than replace an existing directory; a
/// target that already exists is success (it holds the same layer).
fn rename_no_replace(from: &Path, to: &Path) -> Result<()> {
    use nix::fcntl::{renameat2, RenameFlags, AT_FDCWD};
    match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(Error::sys(
            format!("renaming {} to {}", from.display(), to.display()),
            e,
        )),
    }
}

// ANCHOR: decompress
/// The tar stream inside a blob. The magic bytes decide (as containerd
/// does): tools have been known to label a plain tarball `tar.gzip`, and
/// the bytes cannot lie about their own format. (The caller has checked
/// that the media type names a layer at all.)
fn decompress<'r>(mut reader: impl Read + 'r) -> io::Result<Box<dyn Read + 'r>> {
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut reader, &mut magic)?;
    let kind = Compression::sniff(&magic[..got]);
    // Put the peeked bytes back in front of the rest of the stream.
    let whole = BufReader::with_capacity(
        1 << 16,
        io::Cursor::new(magic).take(got as u64).chain(reader),
    );
    Ok(match kind {
        Compression::None => Box::new(whole),
        // Multi-member: `pigz` and some registries write several gzip
        // members back to back; a plain decoder would stop after the first.
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(whole)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(whole)?),
    })
}
// ANCHOR_END: decompress

/// Fill `buf` unless the stream ends first (a short read from a pipe or
/// a socket is not the end); how many bytes arrived.
fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Extended attributes to set: (name, value).
type Xattrs = Vec<(CString, Vec<u8>)>;

/// What an entry asks for, parsed from its header before anything is
/// written.
enum Kind {
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
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: TimeSpec,
    xattrs: Xattrs,
}

/// One tar entry, checked and ready to apply.
struct Item {
    /// The path as the tarball spells it, for error messages.
    shown: String,
    /// Its plain names, from the target down; the last one is created.
    parts: Vec<OsString>,
    kind: Kind,
    meta: Meta,
}

/// A layer being unpacked: the target held open, and what is left to do
/// at the end.
struct Layer {
    root: OwnedFd,
    target: PathBuf,
    summary: Summary,
    /// Directory mtimes, set last: creating a file in a directory updates
    /// the directory's mtime, so setting it earlier would not stick.
    dir_times: Vec<(Vec<OsString>, TimeSpec)>,
    buffer: Vec<u8>,
    /// Only root may give files away (chown to another user); anyone else
    /// keeps them, like GNU tar does for non-root users.
    privileged: bool,
}

impl Layer {
    fn open(target: &Path) -> Result<Layer> {
        let root = nix::fcntl::open(
            target,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            Error::sys(
                format!("opening the layer directory {}", target.display()),
                e,
            )
        })?;
        Ok(Layer {
            root,
            target: target.to_path_buf(),
            summary: Summary::default(),
            dir_times: Vec::new(),
            buffer: vec![0; 1 << 17],
            privileged: nix::unistd::geteuid().is_root(),
        })
    }

    fn extract(&mut self, stream: impl Read) -> Result<()> {
        let mut archive = tar::Archive::new(stream);
        let entries = archive.entries().map_err(|e| self.read_error(e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| self.read_error(e))?;
            let item = self.parse(&mut entry)?;
            self.apply(&item, &mut entry)?;
        }
        // Read to the very end: a compressed stream checks its checksum
        // there, and a truncated blob must fail rather than pass as short.
        let mut rest = archive.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(|e| self.read_error(e))?;
        Ok(())
    }

    fn finish(self) -> Result<Summary> {
        // In tarball order, so a directory listed twice gets the later time.
        for (parts, mtime) in &self.dir_times {
            let (parent, name) = match parts.split_last() {
                Some((name, parents)) => (open_beneath(&self.root, parents), name.as_os_str()),
                None => (reopen_path(&self.root), OsStr::new(".")),
            };
            // The directory may have been replaced by a later entry; the
            // walk refuses links as always, and a missing one is skipped.
            if let Ok(parent) = parent {
                let _ = utimensat(&parent, name, mtime, mtime, UtimensatFlags::NoFollowSymlink);
            }
        }
        Ok(self.summary)
    }

    fn read_error(&self, e: io::Error) -> Error {
        Error::Invalid(format!(
            "reading the layer (unpacking into {}): {e}",
            self.target.display()
        ))
    }

    fn refuse(&self, shown: &str, why: &str) -> Error {
        Error::Invalid(format!(
            "refusing layer entry {shown:?} (unpacking into {}): {why}",
            self.target.display()
        ))
    }

    fn sys(&self, shown: &str, errno: Errno) -> Error {
        let hint = match errno {
            Errno::EPERM if !self.privileged => {
                " — device nodes, whiteouts and trusted.* attributes need root"
            }
            _ => "",
        };
        Error::sys(
            format!("unpacking {shown:?} into {}{hint}", self.target.display()),
            errno,
        )
    }
}

/// Read an entry's header (and PAX records) into an [`Item`], refusing
/// what can never be safe before touching the disk.
impl Layer {
    fn parse<R: Read>(&self, entry: &mut tar::Entry<'_, R>) -> Result<Item> {
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

// ANCHOR: whiteout
impl Layer {
    /// Recognise the image format's deletion markers by name, whatever
    /// their entry type: `.wh..wh..opq` marks the directory it is in
    /// opaque, `.wh.NAME` deletes NAME. Both describe the layers *below*,
    /// so neither is created as a file.
    fn whiteout_kind(&self, kind: Kind, parts: &mut Vec<OsString>, shown: &str) -> Result<Kind> {
        let Some(last) = parts.last().map(|name| name.as_bytes().to_vec()) else {
            return Ok(kind);
        };
        if last == OPAQUE_MARKER.as_bytes() {
            parts.pop();
            return Ok(Kind::Opaque);
        }
        let Some(hidden) = last.strip_prefix(WHITEOUT_PREFIX.as_bytes()) else {
            return Ok(kind);
        };
        if hidden.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            // `.wh..wh.plnk` and friends: aufs bookkeeping, not content.
            return Ok(Kind::Skip);
        }
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            let what = String::from_utf8_lossy(hidden);
            return Err(self.refuse(
                shown,
                &format!("a whiteout of {what:?}, which is not a name in its directory"),
            ));
        }
        let hidden = OsString::from_vec(hidden.to_vec());
        parts.pop();
        parts.push(hidden.clone());
        Ok(Kind::Whiteout(hidden))
    }

    /// Overlayfs's whiteout: a character device 0/0 where the deleted
    /// file was. Whatever this layer had there is replaced.
    fn whiteout(&mut self, parent: &OwnedFd, name: &OsStr, shown: &str) -> Result<()> {
        self.fresh(parent, name, shown, || {
            mknodat(parent, name, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
        })?;
        self.summary.whiteouts += 1;
        Ok(())
    }

    /// Overlayfs's opaque directory: an extended attribute on it.
    fn opaque(&mut self, dir: &OwnedFd, shown: &str) -> Result<()> {
        let dir = reopen_dir(dir).map_err(|e| self.sys(shown, e))?;
        let name = CString::new(OPAQUE_XATTR).expect("no NUL in a constant");
        fset_xattr(&dir, &name, b"y").map_err(|e| self.sys(shown, e))?;
        self.summary.opaque_dirs += 1;
        Ok(())
    }
}
// ANCHOR_END: whiteout

// ANCHOR: walk
/// An entry's path as plain names: `./usr/bin/` → `[usr, bin]`. A `..`
/// or a leading `/` is refused here, by its text; everything else the
/// kernel checks in [`open_beneath`].
fn plain_names(path: &Path) -> std::result::Result<Vec<OsString>, &'static str> {
    let mut names = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(name) => names.push(name.to_os_string()),
            Component::CurDir => {}
            Component::ParentDir => return Err("its path climbs out of the layer with `..`"),
            Component::RootDir | Component::Prefix(_) => return Err("it is an absolute path"),
        }
    }
    Ok(names)
}

/// How `openat2(2)` may resolve a path inside the layer: never above the
/// starting directory, never through a symlink (not even one pointing
/// inside: it could be replaced), never across a mount.
fn beneath(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS
                | ResolveFlag::RESOLVE_NO_XDEV,
        )
}

/// Open the directory `names` under `root`, which must already exist.
fn open_beneath(root: &OwnedFd, names: &[OsString]) -> nix::Result<OwnedFd> {
    let path: PathBuf = names.iter().collect();
    let path = if names.is_empty() {
        PathBuf::from(".")
    } else {
        path
    };
    openat2(root, &path, beneath(OFlag::O_PATH))
}

impl Layer {
    /// Open the directory `names` below the target, creating what is
    /// missing (a tarball need not list every parent) with mode 0755, as
    /// tar does. One name at a time, each resolved by the kernel: a
    /// symlink anywhere on the way is refused, not followed.
    fn walk(&self, names: &[OsString], shown: &str) -> Result<OwnedFd> {
        // The usual case, every directory already there: one system call.
        match open_beneath(&self.root, names) {
            Err(Errno::ENOENT) => {}
            other => return other.map_err(|e| self.walk_error(shown, e)),
        }
        let mut dir = reopen_path(&self.root).map_err(|e| self.sys(shown, e))?;
        for name in names {
            let step = std::slice::from_ref(name);
            dir = match open_beneath(&dir, step) {
                Err(Errno::ENOENT) => {
                    match mkdirat(&dir, name.as_os_str(), Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(Errno::EEXIST) => {}
                        Err(e) => return Err(self.sys(shown, e)),
                    }
                    open_beneath(&dir, step)
                }
                other => other,
            }
            .map_err(|e| self.walk_error(shown, e))?;
        }
        Ok(dir)
    }

    /// The directory an entry goes in.
    fn parent_of(&self, item: &Item) -> Result<OwnedFd> {
        let parents = &item.parts[..item.parts.len().saturating_sub(1)];
        self.walk(parents, &item.shown)
    }

    /// Why the kernel stopped a walk, in the learner's words.
    fn walk_error(&self, shown: &str, errno: Errno) -> Error {
        match errno {
            Errno::ELOOP => self.refuse(shown, "its path goes through a symbolic link"),
            Errno::EXDEV => self.refuse(shown, "its path leaves the layer directory"),
            Errno::ENOTDIR => self.refuse(
                shown,
                "its path goes through something that is not a directory",
            ),
            other => self.sys(shown, other),
        }
    }
}
// ANCHOR_END: walk

impl Layer {
    /// Open the directory a hard link's target is in. Unlike an entry's
    /// own parent, nothing is created: the target must already be in this
    /// layer.
    fn link_source(&self, item: &Item, target: &Path) -> Result<(OwnedFd, OsString)> {
        let names = plain_names(target).map_err(|why| {
            let why = why
                .replace("its path", "its link target")
                .replace("it is an", "it links to an");
            self.refuse(&item.shown, &why)
        })?;
        let Some((name, parents)) = names.split_last() else {
            return Err(self.refuse(&item.shown, "a hard link to the layer's root"));
        };
        if names == item.parts {
            return Err(self.refuse(&item.shown, "a hard link to itself"));
        }
        let dir = open_beneath(&self.root, parents).map_err(|e| match e {
            Errno::ELOOP => {
                self.refuse(&item.shown, "its link target goes through a symbolic link")
            }
            Errno::EXDEV => self.refuse(
                &item.shown,
                "its link target is outside the layer directory",
            ),
            Errno::ENOENT | Errno::ENOTDIR => self.refuse(
                &item.shown,
                &format!(
                    "its link target {:?} is not in this layer",
                    target.display()
                ),
            ),
            other => self.sys(&item.shown, other),
        })?;
        Ok((dir, name.clone()))
    }
}

/// Creating each kind of entry, by name in its (already checked) parent.
impl Layer {
    fn apply<R: Read>(&mut self, item: &Item, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        match &item.kind {
            Kind::Skip => return Ok(()),
            Kind::Opaque => {
                // The marker's own name was dropped: `parts` name the
                // directory it marks.
                let dir = self.walk(&item.parts, &item.shown)?;
                return self.opaque(&dir, &item.shown);
            }
            _ if item.parts.is_empty() => {
                let root = reopen_path(&self.root).map_err(|e| self.sys(&item.shown, e))?;
                return self.directory_metadata(&root, item);
            }
            _ => {}
        }
        let parent = self.parent_of(item)?;
        let name = item.parts.last().expect("checked non-empty").as_os_str();
        match &item.kind {
            Kind::File => self.file(&parent, name, item, entry),
            Kind::Dir => self.directory(&parent, name, item),
            Kind::Symlink(to) => self.symlink(&parent, name, to, item),
            Kind::Hardlink(to) => self.hardlink(&parent, name, to, item),
            Kind::Device(flag, dev) => self.special(&parent, name, *flag, *dev, item),
            Kind::Fifo => self.special(&parent, name, SFlag::S_IFIFO, 0, item),
            Kind::Whiteout(hidden) => self.whiteout(&parent, hidden, &item.shown),
            Kind::Opaque | Kind::Skip => Ok(()),
        }
    }

    /// Create `name` with `make`. If something is there already (an
    /// earlier entry for the same path: the later one wins), remove it and
    /// try once more. Trying first saves a `stat` per entry in the usual
    /// case, a fresh directory.
    fn fresh<T>(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        shown: &str,
        make: impl Fn() -> nix::Result<T>,
    ) -> Result<T> {
        match make() {
            Err(Errno::EEXIST) => {
                self.make_room(parent, name, false, shown)?;
                make().map_err(|e| self.sys(shown, e))
            }
            other => other.map_err(|e| self.sys(shown, e)),
        }
    }

    /// Clear `name` for a new entry: a later entry for the same path wins.
    /// An existing directory is kept when a directory is wanted (its
    /// metadata is updated); anything else there is removed.
    fn make_room(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        keep_dir: bool,
        shown: &str,
    ) -> Result<bool> {
        let stat = match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(stat) => stat,
            Err(Errno::ENOENT) => return Ok(false),
            Err(e) => return Err(self.sys(shown, e)),
        };
        let is_dir = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
        if is_dir && keep_dir {
            return Ok(true);
        }
        if is_dir {
            // `remove_dir_all` does not follow symlinks; the path goes
            // through the directory we hold, by descriptor.
            let path = proc_child(parent, name);
            std::fs::remove_dir_all(OsStr::from_bytes(path.as_bytes()))
                .map_err(|e| Error::os(format!("unpacking {shown:?}: replacing a directory"), e))?;
        } else {
            unlinkat(parent, name, UnlinkatFlags::NoRemoveDir).map_err(|e| self.sys(shown, e))?;
        }
        Ok(false)
    }

    fn file<R: Read>(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        item: &Item,
        entry: &mut R,
    ) -> Result<()> {
        let fd = self.fresh(parent, name, &item.shown, || {
            openat(
                parent,
                name,
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_WRONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )
        })?;
        let mut file = File::from(fd);
        let written = self
            .copy(entry, &mut file)
            .map_err(|e| Error::os(format!("writing {:?}", item.shown), e))?;
        self.owner(
            fchown(
                &file,
                Some(Uid::from_raw(item.meta.uid)),
                Some(Gid::from_raw(item.meta.gid)),
            ),
            &item.shown,
        )?;
        fchmod(&file, Mode::from_bits_truncate(item.meta.mode))
            .map_err(|e| self.sys(&item.shown, e))?;
        for (key, value) in &item.meta.xattrs {
            fset_xattr(&file, key, value).map_err(|e| self.sys(&item.shown, e))?;
        }
        futimens(&file, &item.meta.mtime, &item.meta.mtime)
            .map_err(|e| self.sys(&item.shown, e))?;
        self.summary.files += 1;
        self.summary.bytes += written;
        Ok(())
    }

    /// Stream an entry's bytes into its file through one reused buffer.
    fn copy(&mut self, from: &mut impl Read, to: &mut File) -> io::Result<u64> {
        let mut total = 0;
        loop {
            let n = match from.read(&mut self.buffer) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            to.write_all(&self.buffer[..n])?;
            total += n as u64;
        }
    }

    fn directory(&mut self, parent: &OwnedFd, name: &OsStr, item: &Item) -> Result<()> {
        let mkdir = || mkdirat(parent, name, Mode::from_bits_truncate(0o700));
        match mkdir() {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                // Already there: keep a directory, replace anything else.
                if !self.make_room(parent, name, true, &item.shown)? {
                    mkdir().map_err(|e| self.sys(&item.shown, e))?;
                }
            }
            Err(e) => return Err(self.sys(&item.shown, e)),
        }
        let dir = openat2(parent, name, beneath(OFlag::O_PATH))
            .map_err(|e| self.walk_error(&item.shown, e))?;
        self.directory_metadata(&dir, item)
    }

    fn directory_metadata(&mut self, dir: &OwnedFd, item: &Item) -> Result<()> {
        let dir = reopen_dir(dir).map_err(|e| self.sys(&item.shown, e))?;
        self.owner(
            fchown(
                &dir,
                Some(Uid::from_raw(item.meta.uid)),
                Some(Gid::from_raw(item.meta.gid)),
            ),
            &item.shown,
        )?;
        fchmod(&dir, Mode::from_bits_truncate(item.meta.mode))
            .map_err(|e| self.sys(&item.shown, e))?;
        for (key, value) in &item.meta.xattrs {
            fset_xattr(&dir, key, value).map_err(|e| self.sys(&item.shown, e))?;
        }
        self.dir_times.push((item.parts.clone(), item.meta.mtime));
        self.summary.dirs += 1;
        Ok(())
    }

    fn symlink(&mut self, parent: &OwnedFd, name: &OsStr, to: &OsStr, item: &Item) -> Result<()> {
        // The link's text is stored, never followed here: `/bin/sh ->
        // busybox` and even `l -> /etc` are fine *as links*; only a later
        // entry walking through one is refused.
        self.fresh(parent, name, &item.shown, || symlinkat(to, parent, name))?;
        self.by_name_metadata(parent, name, item, false)?;
        self.summary.symlinks += 1;
        Ok(())
    }

    fn hardlink(&mut self, parent: &OwnedFd, name: &OsStr, to: &Path, item: &Item) -> Result<()> {
        let (source_dir, source) = self.link_source(item, to)?;
        if let Err(Errno::ENOENT) = fstatat(
            &source_dir,
            source.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            let why = format!("its link target {:?} is not in this layer", to.display());
            return Err(self.refuse(&item.shown, &why));
        }
        // No AT_SYMLINK_FOLLOW: if the source is a symlink, the new name
        // is another link to that symlink, never to what it points at.
        self.fresh(parent, name, &item.shown, || {
            linkat(
                &source_dir,
                source.as_os_str(),
                parent,
                name,
                AtFlags::empty(),
            )
        })?;
        self.summary.hardlinks += 1;
        Ok(())
    }

    fn special(
        &mut self,
        parent: &OwnedFd,
        name: &OsStr,
        kind: SFlag,
        dev: u64,
        item: &Item,
    ) -> Result<()> {
        self.fresh(parent, name, &item.shown, || {
            mknodat(parent, name, kind, Mode::empty(), dev)
        })?;
        self.by_name_metadata(parent, name, item, true)?;
        self.summary.specials += 1;
        Ok(())
    }

    /// Metadata for what cannot be opened safely (opening a fifo blocks,
    /// opening a device talks to its driver, a symlink would be followed):
    /// set by name in the parent, never following a link.
    fn by_name_metadata(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        item: &Item,
        chmod: bool,
    ) -> Result<()> {
        let (uid, gid) = (Uid::from_raw(item.meta.uid), Gid::from_raw(item.meta.gid));
        self.owner(
            fchownat(
                parent,
                name,
                Some(uid),
                Some(gid),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            ),
            &item.shown,
        )?;
        if chmod {
            fchmodat(
                parent,
                name,
                Mode::from_bits_truncate(item.meta.mode),
                FchmodatFlags::NoFollowSymlink,
            )
            .map_err(|e| self.sys(&item.shown, e))?;
        }
        let path = proc_child(parent, name);
        for (key, value) in &item.meta.xattrs {
            lset_xattr(&path, key, value).map_err(|e| self.sys(&item.shown, e))?;
        }
        utimensat(
            parent,
            name,
            &item.meta.mtime,
            &item.meta.mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| self.sys(&item.shown, e))
    }

    /// A chown's result: refused ownership is an error for root, and the
    /// expected outcome for anyone else (the files stay theirs).
    fn owner(&self, result: nix::Result<()>, shown: &str) -> Result<()> {
        match result {
            Err(Errno::EPERM | Errno::EINVAL) if !self.privileged => Ok(()),
            other => other.map_err(|e| self.sys(shown, e)),
        }
    }
}

/// PAX records the `tar` crate leaves to us: a precise `mtime`, and
/// extended attributes (`SCHILY.xattr.NAME`, as GNU tar and Docker write
/// them). `trusted.overlay.*` attributes are dropped: they steer overlayfs
/// itself (opaque, redirect, metacopy), and only this module's own
/// whiteout handling may set them.
fn pax_records<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<(Option<TimeSpec>, Xattrs)> {
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
fn parse_pax_time(text: &[u8]) -> Option<TimeSpec> {
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

fn link_name<R: Read>(entry: &tar::Entry<'_, R>) -> Option<OsString> {
    let bytes = entry.link_name_bytes()?;
    (!bytes.is_empty()).then(|| OsString::from_vec(bytes.into_owned()))
}

fn id(value: u64) -> Option<u32> {
    u32::try_from(value).ok()
}

/// A readable descriptor for the directory `dir` holds (an `O_PATH`
/// descriptor cannot be used to change attributes).
fn reopen_dir(dir: &OwnedFd) -> nix::Result<OwnedFd> {
    openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// Another `O_PATH` descriptor for the same directory.
fn reopen_path(dir: &OwnedFd) -> nix::Result<OwnedFd> {
    openat(
        dir,
        ".",
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

/// `/proc/self/fd/N/NAME`: NAME inside the directory we hold. The kernel
/// resolves `N` to exactly that directory, and the `l*` calls do not
/// follow NAME if it is a link.
fn proc_child(dir: &OwnedFd, name: &OsStr) -> CString {
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.as_bytes());
    CString::new(path).unwrap_or_default()
}

fn fset_xattr(fd: &impl AsFd, name: &CString, value: &[u8]) -> nix::Result<()> {
    // SAFETY: `name` is NUL-terminated, `value` is valid for `value.len()`
    // bytes, and the descriptor is open for the duration of the call.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_fd().as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

fn lset_xattr(path: &CString, name: &CString, value: &[u8]) -> nix::Result<()> {
    // SAFETY: both strings are NUL-terminated and `value` is valid for
    // `value.len()` bytes.
    let rc = unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    Errno::result(rc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    use std::sync::atomic::{AtomicU64, Ordering};

    fn root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    /// A temporary `base/` holding the `target/` to unpack into and a
    /// sentinel `outside/` beside it that no layer may touch.
    struct Scratch {
        base: PathBuf,
    }

    impl Scratch {
        fn new(name: &str) -> Scratch {
            static N: AtomicU64 = AtomicU64::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let base = std::env::temp_dir()
                .join(format!("berth-unpack-{name}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&base);
            std::fs::create_dir_all(base.join("target")).unwrap();
            std::fs::create_dir_all(base.join("outside")).unwrap();
            std::fs::write(base.join("outside/sentinel"), "untouched").unwrap();
            Scratch { base }
        }

        fn target(&self) -> PathBuf {
            self.base.join("target")
        }

        fn outside(&self) -> PathBuf {
            self.base.join("outside")
        }

        /// Nothing appeared beside the target, nothing changed outside.
        fn assert_contained(&self, case: &str) {
            let names = |dir: &Path| {
                let mut names: Vec<String> = std::fs::read_dir(dir)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            };
            assert_eq!(
                names(&self.base),
                ["outside", "target"],
                "{case}: wrote beside the target"
            );
            assert_eq!(
                names(&self.outside()),
                ["sentinel"],
                "{case}: wrote outside"
            );
            let sentinel = self.outside().join("sentinel");
            assert_eq!(
                std::fs::read_to_string(&sentinel).unwrap(),
                "untouched",
                "{case}"
            );
            assert_eq!(
                std::fs::metadata(&sentinel).unwrap().nlink(),
                1,
                "{case}: sentinel was hard-linked"
            );
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = remove_tree(&self.base);
        }
    }

    /// One tar entry, written with raw header bytes so that the names the
    /// `tar` builder would refuse (`..`, absolute) can be written too.
    struct Raw<'a> {
        name: &'a [u8],
        kind: EntryType,
        link: &'a [u8],
        data: &'a [u8],
        mode: u32,
    }

    fn raw<'a>(name: &'a [u8], kind: EntryType) -> Raw<'a> {
        let mode = if kind == EntryType::Directory {
            0o755
        } else {
            0o644
        };
        Raw {
            name,
            kind,
            link: b"",
            data: b"",
            mode,
        }
    }

    impl<'a> Raw<'a> {
        fn link(mut self, link: &'a [u8]) -> Self {
            self.link = link;
            self
        }

        fn data(mut self, data: &'a [u8]) -> Self {
            self.data = data;
            self
        }

        fn append(&self, builder: &mut tar::Builder<Vec<u8>>) {
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(self.kind);
            header.set_mode(self.mode);
            header.set_size(self.data.len() as u64);
            header.set_mtime(1_600_000_000);
            header.set_uid(0);
            header.set_gid(0);
            let old = header.as_old_mut();
            old.name[..self.name.len()].copy_from_slice(self.name);
            old.linkname[..self.link.len()].copy_from_slice(self.link);
            header.set_cksum();
            builder.append(&header, self.data).unwrap();
        }
    }

    fn tarball(entries: &[Raw<'_>]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for entry in entries {
            entry.append(&mut builder);
        }
        builder.into_inner().unwrap()
    }

    /// A PAX extended header (`x`) carrying `records` for the next entry.
    fn pax(builder: &mut tar::Builder<Vec<u8>>, records: &[(&str, &[u8])]) {
        let mut body = Vec::new();
        for (key, value) in records {
            // "LEN KEY=VALUE\n", where LEN counts itself.
            let rest = key.len() + value.len() + 3;
            let mut len = rest + rest.to_string().len();
            if len.to_string().len() != rest.to_string().len() {
                len += 1;
            }
            body.extend_from_slice(format!("{len} {key}=").as_bytes());
            body.extend_from_slice(value);
            body.push(b'\n');
        }
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(EntryType::XHeader);
        header.set_path("PaxHeader").unwrap();
        header.set_size(body.len() as u64);
        header.set_cksum();
        builder.append(&header, &body[..]).unwrap();
    }

    // ---- the malicious-layer corpus -------------------------------------

    /// Each hostile layer is refused, with an error naming the entry, and
    /// leaves nothing outside its target.
    #[test]
    fn hostile_layers_are_refused_and_contained() {
        let scratch_for_paths = Scratch::new("paths");
        let outside = scratch_for_paths.outside();
        let outside = outside.as_os_str().as_bytes();
        let abs_file = [outside, b"/pwned"].concat();
        let abs_sentinel = [outside, b"/sentinel"].concat();
        let f = EntryType::Regular;
        let cases: Vec<(&str, Vec<Raw<'_>>, &str, &str)> = vec![
            (
                "dotdot",
                vec![raw(b"../x", f).data(b"evil")],
                "../x",
                "`..`",
            ),
            (
                "dot-dotdot",
                vec![raw(b"./../x", f).data(b"evil")],
                "./../x",
                "`..`",
            ),
            (
                "absolute",
                vec![raw(&abs_file, f).data(b"evil")],
                "/pwned",
                "absolute path",
            ),
            (
                "inner-dotdot",
                vec![raw(b"a/", EntryType::Directory), raw(b"a/../../x", f)],
                "a/../../x",
                "`..`",
            ),
            (
                "symlink-then-through",
                vec![
                    raw(b"l", EntryType::Symlink).link(outside),
                    raw(b"l/file", f).data(b"evil"),
                ],
                "l/file",
                "through a symbolic link",
            ),
            (
                "symlink-dotdot-then-through",
                vec![
                    raw(b"l", EntryType::Symlink).link(b".."),
                    raw(b"l/x", f).data(b"evil"),
                ],
                "l/x",
                "through a symbolic link",
            ),
            (
                "dir-replaced-by-symlink",
                vec![
                    raw(b"d/", EntryType::Directory),
                    raw(b"d", EntryType::Symlink).link(outside),
                    raw(b"d/x", f).data(b"evil"),
                ],
                "d/x",
                "through a symbolic link",
            ),
            (
                "symlink-deep-then-through",
                vec![
                    raw(b"a/b/", EntryType::Directory),
                    raw(b"a/b/l", EntryType::Symlink).link(b"../../.."),
                    raw(b"a/b/l/outside/sentinel", f).data(b"evil"),
                ],
                "a/b/l/outside/sentinel",
                "through a symbolic link",
            ),
            (
                "hardlink-dotdot",
                vec![raw(b"h", EntryType::Link).link(b"../outside/sentinel")],
                "h",
                "`..`",
            ),
            (
                "hardlink-absolute",
                vec![raw(b"h", EntryType::Link).link(&abs_sentinel)],
                "h",
                "absolute path",
            ),
            (
                "hardlink-through-symlink",
                vec![
                    raw(b"l", EntryType::Symlink).link(outside),
                    raw(b"h", EntryType::Link).link(b"l/sentinel"),
                ],
                "h",
                "through a symbolic link",
            ),
            (
                "hardlink-missing",
                vec![raw(b"h", EntryType::Link).link(b"nothing")],
                "h",
                "not in this layer",
            ),
            (
                "hardlink-named-dotdot",
                vec![raw(b"x", f), raw(b"../h", EntryType::Link).link(b"x")],
                "../h",
                "`..`",
            ),
            (
                "symlink-named-dotdot",
                vec![raw(b"../s", EntryType::Symlink).link(b"/etc")],
                "../s",
                "`..`",
            ),
            (
                "device-dotdot",
                vec![raw(b"../dev", EntryType::Char)],
                "../dev",
                "`..`",
            ),
            (
                "fifo-absolute",
                vec![raw(&abs_file, EntryType::Fifo)],
                "/pwned",
                "absolute path",
            ),
            (
                "whiteout-dotdot",
                vec![raw(b".wh...", f)],
                ".wh...",
                "whiteout of \"..\"",
            ),
            (
                "whiteout-dot",
                vec![raw(b"a/.wh..", f)],
                "a/.wh..",
                "whiteout of \".\"",
            ),
            (
                "whiteout-empty",
                vec![raw(b".wh.", f)],
                ".wh.",
                "whiteout of \"\"",
            ),
            (
                "whiteout-through-symlink",
                vec![
                    raw(b"l", EntryType::Symlink).link(outside),
                    raw(b"l/.wh.sentinel", f),
                ],
                "l/.wh.sentinel",
                "through a symbolic link",
            ),
            (
                "opaque-through-symlink",
                vec![
                    raw(b"l", EntryType::Symlink).link(outside),
                    raw(b"l/.wh..wh..opq", f),
                ],
                "l/.wh..wh..opq",
                "through a symbolic link",
            ),
        ];
        // ANCHOR: corpus
        for (case, entries, entry, why) in &cases {
            let scratch = Scratch::new(case);
            let blob = tarball(entries);
            let message = match unpack(&blob[..], "", &scratch.target(), None) {
                Ok(summary) => panic!("{case}: unpacked ({summary})"),
                Err(e) => e.to_string(),
            };
            assert!(
                message.starts_with("refusing layer entry \""),
                "{case}: {message}"
            );
            assert!(
                message.contains(entry),
                "{case}: the error should name {entry:?}: {message}"
            );
            assert!(
                message.contains(why),
                "{case}: the error should say {why:?}: {message}"
            );
            scratch.assert_contained(case);
        }
        // ANCHOR_END: corpus
        scratch_for_paths.assert_contained("paths");
    }

    /// A PAX `path` record overrides the header's name: the check must see
    /// the name the entry really gets.
    #[test]
    fn pax_and_long_names_are_checked_too() {
        let scratch = Scratch::new("pax");
        let mut builder = tar::Builder::new(Vec::new());
        pax(&mut builder, &[("path", b"../pax-escape")]);
        raw(b"innocent", EntryType::Regular)
            .data(b"evil")
            .append(&mut builder);
        let blob = builder.into_inner().unwrap();
        let message = unpack(&blob[..], "", &scratch.target(), None)
            .unwrap_err()
            .to_string();
        assert!(message.contains("\"../pax-escape\""), "{message}");
        scratch.assert_contained("pax path");

        let scratch = Scratch::new("gnu-long");
        let mut builder = tar::Builder::new(Vec::new());
        let long = format!("{}/../../../x", "d/".repeat(60));
        let mut header = gnu(EntryType::Regular);
        // The builder writes a GNU `L` record for a long name, but refuses
        // `..`; `append_data` → `set_path` checks, so write it by hand.
        let mut name_record = tar::Header::new_gnu();
        name_record.set_entry_type(EntryType::GNULongName);
        name_record.as_gnu_mut().unwrap().name[..13].copy_from_slice(b"././@LongLink");
        name_record.set_size(long.len() as u64 + 1);
        name_record.set_cksum();
        builder
            .append(&name_record, format!("{long}\0").as_bytes())
            .unwrap();
        header.as_old_mut().name[..5].copy_from_slice(b"short");
        header.set_cksum();
        builder.append(&header, &b""[..]).unwrap();
        let blob = builder.into_inner().unwrap();
        let message = unpack(&blob[..], "", &scratch.target(), None)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("`..`") && message.contains("/../../../x"),
            "{message}"
        );
        scratch.assert_contained("gnu long name");
    }

    // ---- what a layer should produce ------------------------------------

    /// A GNU header with every numeric field filled in (the builder
    /// leaves owner and time blank).
    fn gnu(kind: EntryType) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(0);
        h
    }

    fn sample_layer() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut dir = |path: &str, mode: u32, mtime: u64| {
            let mut h = gnu(EntryType::Directory);
            h.set_mode(mode);
            h.set_mtime(mtime);
            h.set_size(0);
            builder.append_data(&mut h, path, &b""[..]).unwrap();
        };
        dir("./", 0o755, 1_500_000_000);
        dir("bin/", 0o755, 1_500_000_001);
        dir("secret/", 0o700, 1_500_000_002);
        let mut h = gnu(EntryType::Regular);
        h.set_mode(0o4755);
        h.set_uid(1234);
        h.set_gid(5678);
        h.set_mtime(1_600_000_000);
        h.set_size(5);
        builder
            .append_data(&mut h, "bin/tool", &b"hello"[..])
            .unwrap();
        // A file whose parent directory is not in the tarball.
        let mut h = gnu(EntryType::Regular);
        h.set_mode(0o640);
        h.set_size(3);
        builder
            .append_data(&mut h, "implicit/parent/file", &b"abc"[..])
            .unwrap();
        // PAX: an extended attribute and a precise mtime.
        pax(
            &mut builder,
            &[
                ("SCHILY.xattr.user.berth", b"kit"),
                ("SCHILY.xattr.trusted.overlay.redirect", b"/elsewhere"),
                ("mtime", b"1600000000.25"),
            ],
        );
        let mut h = gnu(EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(2);
        h.set_mtime(1);
        builder.append_data(&mut h, "xattr", &b"xa"[..]).unwrap();
        let mut h = gnu(EntryType::Symlink);
        h.set_mtime(1_600_000_001);
        h.set_uid(42);
        h.set_size(0);
        builder.append_link(&mut h, "bin/sh", "/bin/tool").unwrap();
        let mut h = gnu(EntryType::Link);
        h.set_size(0);
        builder
            .append_link(&mut h, "bin/tool-again", "bin/tool")
            .unwrap();
        let mut h = gnu(EntryType::Char);
        h.set_mode(0o666);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        h.set_size(0);
        builder.append_data(&mut h, "dev-null", &b""[..]).unwrap();
        let mut h = gnu(EntryType::Fifo);
        h.set_mode(0o600);
        h.set_size(0);
        builder.append_data(&mut h, "fifo", &b""[..]).unwrap();
        // A later entry for the same path wins.
        let mut h = gnu(EntryType::Regular);
        h.set_mode(0o644);
        h.set_size(3);
        builder.append_data(&mut h, "twice", &b"one"[..]).unwrap();
        let mut h = gnu(EntryType::Regular);
        h.set_mode(0o600);
        h.set_size(3);
        builder.append_data(&mut h, "twice", &b"two"[..]).unwrap();
        // A directory listed again keeps its contents; a directory
        // replaced by a file loses them.
        let mut h = gnu(EntryType::Directory);
        h.set_mode(0o755);
        h.set_mtime(1_500_000_009);
        builder.append_data(&mut h, "bin/", &b""[..]).unwrap();
        let mut h = gnu(EntryType::Regular);
        h.set_size(1);
        builder
            .append_data(&mut h, "swap/child", &b"c"[..])
            .unwrap();
        let mut h = gnu(EntryType::Regular);
        h.set_size(4);
        builder.append_data(&mut h, "swap", &b"file"[..]).unwrap();
        // Deletions for the layers below.
        let mut h = gnu(EntryType::Regular);
        h.set_size(0);
        builder
            .append_data(&mut h, "etc/.wh.motd", &b""[..])
            .unwrap();
        let mut h = gnu(EntryType::Regular);
        h.set_size(0);
        builder
            .append_data(&mut h, "var/cache/.wh..wh..opq", &b""[..])
            .unwrap();
        builder.into_inner().unwrap()
    }

    #[test]
    #[ignore = "needs root (owners, devices, whiteouts); just test runs it as root"]
    fn a_layer_unpacks_with_its_metadata() {
        assert!(root(), "unpacking owners, devices and whiteouts needs root");
        let scratch = Scratch::new("sample");
        let t = scratch.target();
        let summary = unpack(
            &sample_layer()[..],
            "application/vnd.oci.image.layer.v1.tar",
            &t,
            None,
        )
        .unwrap();
        assert_eq!(
            summary,
            Summary {
                files: 7,
                bytes: 5 + 3 + 2 + 3 + 3 + 1 + 4,
                dirs: 4,
                symlinks: 1,
                hardlinks: 1,
                specials: 2,
                whiteouts: 1,
                opaque_dirs: 1,
            }
        );
        let meta = |p: &str| std::fs::symlink_metadata(t.join(p)).unwrap();
        // Regular file: content, setuid mode, owner, mtime.
        assert_eq!(std::fs::read(t.join("bin/tool")).unwrap(), b"hello");
        let tool = meta("bin/tool");
        assert_eq!(tool.mode() & 0o7777, 0o4755);
        assert_eq!((tool.uid(), tool.gid()), (1234, 5678));
        assert_eq!(tool.mtime(), 1_600_000_000);
        assert_eq!(tool.nlink(), 2);
        assert_eq!(meta("bin/tool-again").ino(), tool.ino());
        // Directories: mode, and an mtime that survived the files created in them.
        assert_eq!(meta("secret").mode() & 0o7777, 0o700);
        assert_eq!(meta("secret").mtime(), 1_500_000_002);
        assert_eq!(meta("bin").mtime(), 1_500_000_009, "the later entry wins");
        assert_eq!(meta("").mtime(), 1_500_000_000);
        assert_eq!(meta("implicit/parent").mode() & 0o7777, 0o755);
        assert_eq!(
            std::fs::read(t.join("implicit/parent/file")).unwrap(),
            b"abc"
        );
        assert_eq!(meta("implicit/parent/file").mode() & 0o7777, 0o640);
        // Symlink: stored as written, with its own owner and mtime.
        assert_eq!(
            std::fs::read_link(t.join("bin/sh")).unwrap(),
            Path::new("/bin/tool")
        );
        assert_eq!(meta("bin/sh").uid(), 42);
        assert_eq!(meta("bin/sh").mtime(), 1_600_000_001);
        // Special files.
        let null = meta("dev-null");
        assert!(null.file_type().is_char_device());
        assert_eq!(null.rdev(), makedev(1, 3));
        assert_eq!(null.mode() & 0o7777, 0o666);
        assert!(meta("fifo").file_type().is_fifo());
        assert_eq!(std::fs::read(t.join("twice")).unwrap(), b"two");
        assert_eq!(meta("twice").permissions().mode() & 0o777, 0o600);
        assert!(t.join("bin/tool").is_file());
        assert_eq!(std::fs::read(t.join("swap")).unwrap(), b"file");
        // PAX: the xattr is set, the overlay one dropped, the mtime precise.
        assert_eq!(
            get_xattr(&t.join("xattr"), "user.berth").as_deref(),
            Some(&b"kit"[..])
        );
        assert_eq!(
            get_xattr(&t.join("xattr"), "trusted.overlay.redirect"),
            None
        );
        assert_eq!(
            (meta("xattr").mtime(), meta("xattr").mtime_nsec()),
            (1_600_000_000, 250_000_000)
        );
        // Whiteouts in overlayfs's spelling.
        let motd = meta("etc/motd");
        assert!(motd.file_type().is_char_device());
        assert_eq!(motd.rdev(), 0);
        assert!(!t.join("etc/.wh.motd").exists());
        assert_eq!(
            get_xattr(&t.join("var/cache"), OPAQUE_XATTR).as_deref(),
            Some(&b"y"[..])
        );
        assert!(!t.join("var/cache/.wh..wh..opq").exists());
        scratch.assert_contained("sample");
    }

    fn get_xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
        let path = CString::new(path.as_os_str().as_bytes()).unwrap();
        let name = CString::new(name).unwrap();
        let mut buf = vec![0u8; 256];
        // SAFETY: both strings are NUL-terminated and `buf` is writable for its length.
        let n = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        (n >= 0).then(|| buf[..n as usize].to_vec())
    }

    #[test]
    fn gzip_and_zstd_layers_are_recognised() {
        let plain = tarball(&[raw(b"hello", EntryType::Regular).data(b"world")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&plain[..], 3).unwrap();
        let cases: [(&str, &[u8], &str); 6] = [
            ("plain", &plain, "application/vnd.oci.image.layer.v1.tar"),
            ("gzip", &gz, "application/vnd.oci.image.layer.v1.tar+gzip"),
            (
                "docker gzip",
                &gz,
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            ),
            ("zstd", &zst, "application/vnd.oci.image.layer.v1.tar+zstd"),
            ("sniffed zstd", &zst, ""),
            // Mislabelled: the bytes say what they are.
            (
                "mislabelled",
                &plain,
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            ),
        ];
        for (case, blob, media_type) in cases {
            let scratch = Scratch::new("compression");
            let summary = unpack(blob, media_type, &scratch.target(), None)
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!((summary.files, summary.bytes), (1, 5), "{case}");
            assert_eq!(
                std::fs::read(scratch.target().join("hello")).unwrap(),
                b"world",
                "{case}"
            );
        }
        let scratch = Scratch::new("not-a-layer");
        let message = unpack(
            &plain[..],
            "application/vnd.oci.image.config.v1+json",
            &scratch.target(),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            message.contains("is not a layer the kit can unpack"),
            "{message}"
        );
        // A truncated gzip stream fails instead of passing as a short layer.
        let message = unpack(&gz[..gz.len() - 6], "", &scratch.target(), None)
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("reading the layer"), "{message}");
    }

    #[test]
    fn media_types() {
        use Compression::*;
        let cases = [
            ("application/vnd.oci.image.layer.v1.tar", Some(None)),
            ("application/vnd.oci.image.layer.v1.tar+gzip", Some(Gzip)),
            ("application/vnd.oci.image.layer.v1.tar+zstd", Some(Zstd)),
            (
                "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                Some(Gzip),
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                Some(Gzip),
            ),
            (
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                Some(Gzip),
            ),
        ];
        for (media_type, wanted) in cases {
            assert_eq!(
                Compression::from_media_type(media_type).unwrap(),
                wanted,
                "{media_type}"
            );
        }
        assert_eq!(Compression::from_media_type("").unwrap(), Option::None);
        assert!(
            Compression::from_media_type("application/vnd.oci.image.manifest.v1+json").is_err()
        );
        assert!(
            Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+bzip2").is_err()
        );
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8, 0]), Gzip);
        assert_eq!(Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]), Zstd);
        assert_eq!(Compression::sniff(b"bin/"), None);
    }

    #[test]
    fn atomic_unpack_all_or_nothing() {
        let scratch = Scratch::new("atomic");
        let layer = scratch.base.join("layer");
        let good = tarball(&[raw(b"a", EntryType::Regular).data(b"1")]);
        let summary = unpack_atomically(&good[..], "", &layer, None).unwrap();
        assert_eq!(
            summary.to_string(),
            "1 files (1 bytes), 0 directories, 0 symlinks, 0 hard links, \
             0 special files, 0 whiteouts, 0 opaque directories"
        );
        assert_eq!(std::fs::read(layer.join("a")).unwrap(), b"1");
        // Already there (another pull won the race): still fine, ours is dropped.
        unpack_atomically(&good[..], "", &layer, None).unwrap();
        // A hostile layer leaves neither the target nor a temporary.
        let other = scratch.base.join("other");
        let bad = tarball(&[
            raw(b"a", EntryType::Regular),
            raw(b"../x", EntryType::Regular),
        ]);
        assert!(unpack_atomically(&bad[..], "", &other, None).is_err());
        std::fs::remove_dir_all(&layer).unwrap();
        scratch.assert_contained("atomic");
    }

    #[test]
    fn temporary_names() {
        assert!(is_temporary(OsStr::new(".abc.unpacking-12-0")));
        assert!(!is_temporary(OsStr::new("abc")));
        let t = temporary_sibling(Path::new("/store/layers/sha256/abc")).unwrap();
        assert!(t.starts_with("/store/layers/sha256"));
        assert!(is_temporary(t.file_name().unwrap()));
    }

    /// A reader that gives `first`, then waits for a word on `go` before
    /// giving `rest`: an unpack caught in the middle.
    struct Paused {
        first: io::Cursor<Vec<u8>>,
        rest: io::Cursor<Vec<u8>>,
        go: Option<std::sync::mpsc::Receiver<()>>,
    }

    impl Read for Paused {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.first.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if let Some(go) = self.go.take() {
                let _ = go.recv();
            }
            self.rest.read(buf)
        }
    }

    /// A child process, killed (SIGKILL) and reaped when dropped.
    struct Killed(std::process::Child);

    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Wait (up to 10 s) until `done` says so.
    fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !done() {
            assert!(
                std::time::Instant::now() < deadline,
                "waited 10 s for {what}"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn a_sweep_removes_orphaned_temporaries_and_keeps_live_ones() {
        let scratch = Scratch::new("sweep");
        let layers = scratch.target();
        // A finished layer: not a temporary, never touched.
        std::fs::create_dir(layers.join("done")).unwrap();

        // An orphan, as `kill -9` leaves one: the layer's read-only
        // directories, a file of another user (root only can make one),
        // and a link out that the removal must not follow.
        let orphan = layers.join(".dead.unpacking-4242-0");
        std::fs::create_dir_all(orphan.join("usr/lib")).unwrap();
        std::fs::write(orphan.join("usr/lib/file"), "x").unwrap();
        std::os::unix::fs::symlink(scratch.outside(), orphan.join("usr/out")).unwrap();
        if root() {
            std::os::unix::fs::chown(orphan.join("usr/lib/file"), Some(12345), Some(12345))
                .unwrap();
        }
        for (dir, mode) in [("usr/lib", 0o555), ("usr", 0o500), ("", 0o555)] {
            let perms = std::fs::Permissions::from_mode(mode);
            std::fs::set_permissions(orphan.join(dir), perms).unwrap();
        }

        // While another process holds the orphan's lock, it has an owner:
        // kept. (`flock(1)` from util-linux, turned into `sleep`, plays the
        // unpacking process.)
        let holder = std::process::Command::new("flock")
            .args(["--exclusive", "--no-fork"])
            .arg(&orphan)
            .args(["sleep", "600"])
            .spawn();
        match holder {
            Ok(holder) => {
                let holder = Killed(holder);
                wait_until("flock(1) to take the lock", || {
                    matches!(
                        lock_dir(&orphan, FlockArg::LockExclusiveNonblock),
                        Err(Errno::EWOULDBLOCK)
                    )
                });
                assert_eq!(sweep_temporaries(&layers).unwrap(), Vec::<PathBuf>::new());
                assert!(orphan.exists(), "a temporary whose owner runs is kept");
                // kill -9: the kernel drops the dead process's lock.
                drop(holder);
            }
            Err(e) => panic!("flock(1) (util-linux) did not run: {e}"),
        }

        // A live unpack of ours, paused after its first file.
        let tar = tarball(&[
            raw(b"a", EntryType::Regular).data(b"1"),
            raw(b"b", EntryType::Regular).data(b"2"),
        ]);
        let (go, wait) = std::sync::mpsc::channel();
        let reader = Paused {
            first: io::Cursor::new(tar[..1024].to_vec()),
            rest: io::Cursor::new(tar[1024..].to_vec()),
            go: Some(wait),
        };
        let live_target = layers.join("live");
        let worker = {
            let target = live_target.clone();
            std::thread::spawn(move || unpack_atomically(reader, "", &target, None))
        };
        let live = || {
            std::fs::read_dir(&layers)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| {
                    let name = p.file_name().unwrap();
                    is_temporary(name) && name.to_string_lossy().starts_with(".live.")
                })
        };
        wait_until("the unpack to write its first file", || {
            live().is_some_and(|t| t.join("a").exists())
        });
        let live = live().unwrap();

        let removed = sweep_temporaries(&layers).unwrap();
        assert_eq!(removed, vec![orphan.clone()], "only the orphan goes");
        assert!(!orphan.exists());
        assert!(live.exists(), "a temporary being unpacked is kept");

        go.send(()).unwrap();
        let summary = worker.join().unwrap().unwrap();
        assert_eq!(summary.files, 2);
        assert_eq!(std::fs::read(live_target.join("b")).unwrap(), b"2");
        let mut names: Vec<_> = std::fs::read_dir(&layers)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["done", "live"]);
        scratch.assert_contained("sweep");
    }

    #[test]
    fn remove_tree_opens_read_only_directories_first() {
        let scratch = Scratch::new("remove");
        let tree = scratch.target().join("tree");
        std::fs::create_dir_all(tree.join("a/b")).unwrap();
        std::fs::write(tree.join("a/b/f"), "x").unwrap();
        std::os::unix::fs::symlink(scratch.outside(), tree.join("a/out")).unwrap();
        std::fs::set_permissions(tree.join("a/b"), std::fs::Permissions::from_mode(0o000)).unwrap();
        std::fs::set_permissions(tree.join("a"), std::fs::Permissions::from_mode(0o555)).unwrap();
        make_writable(&tree).unwrap();
        let mode = |p: &str| std::fs::metadata(tree.join(p)).unwrap().mode() & 0o777;
        assert_eq!((mode("a"), mode("a/b")), (0o755, 0o700));
        // Not through the link: what it points at keeps its mode.
        assert_eq!(
            std::fs::metadata(scratch.outside()).unwrap().mode() & 0o777,
            0o755
        );
        std::fs::set_permissions(tree.join("a"), std::fs::Permissions::from_mode(0o555)).unwrap();
        remove_tree(&tree).unwrap();
        assert!(!tree.exists());
        remove_tree(&tree).unwrap(); // already gone is fine
        scratch.assert_contained("remove");
    }

    #[test]
    fn pax_times() {
        assert_eq!(parse_pax_time(b"12"), Some(TimeSpec::new(12, 0)));
        assert_eq!(
            parse_pax_time(b"12.5"),
            Some(TimeSpec::new(12, 500_000_000))
        );
        assert_eq!(
            parse_pax_time(b"12.1234567891"),
            Some(TimeSpec::new(12, 123_456_789))
        );
        assert_eq!(parse_pax_time(b"x"), Option::None);
    }
}
