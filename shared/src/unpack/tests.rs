//! The unpacker's tests: hostile layers, metadata, whiteouts, crashes.

use std::ffi::{CString, OsStr};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::FlockArg;
use nix::sys::stat::makedev;
use nix::sys::time::TimeSpec;
use tar::EntryType;

use super::layer::*;
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
        let base =
            std::env::temp_dir().join(format!("berth-unpack-{name}-{}-{n}", std::process::id()));
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
        let message = match unpack_layer(&blob[..], "", &scratch.target(), None) {
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
    let message = unpack_layer(&blob[..], "", &scratch.target(), None)
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
    let message = unpack_layer(&blob[..], "", &scratch.target(), None)
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
    let summary = unpack_layer(
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
        let summary = unpack_layer(blob, media_type, &scratch.target(), None)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!((summary.files, summary.bytes), (1, 5), "{case}");
        assert_eq!(
            std::fs::read(scratch.target().join("hello")).unwrap(),
            b"world",
            "{case}"
        );
    }
    let scratch = Scratch::new("not-a-layer");
    let message = unpack_layer(
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
    let message = unpack_layer(&gz[..gz.len() - 6], "", &scratch.target(), None)
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
    assert!(Compression::from_media_type("application/vnd.oci.image.manifest.v1+json").is_err());
    assert!(Compression::from_media_type("application/vnd.oci.image.layer.v1.tar+bzip2").is_err());
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
        std::os::unix::fs::chown(orphan.join("usr/lib/file"), Some(12345), Some(12345)).unwrap();
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
