//! The kit's test image: a root filesystem made of Debian's static busybox.
//!
//! Introduced by rung 03. Every rung from 03 on uses it in its demo and its
//! tests, and chapter 5 pushes it to a registry as an image.
//!
//! One statically linked binary (`busybox-static`) plus a symbolic link
//! per applet (`sh`, `ls`, `ps`, …) is a complete, tiny userland: the image
//! needs no network to build and no shared libraries to run. It is built
//! once and cached in cargo's target directory.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, Result};

/// Where `busybox-static` installs the binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// The directories of the image.
const DIRS: [&str; 10] = [
    "bin", "dev", "etc", "proc", "root", "sys", "tmp", "var", "run", "home",
];

// ANCHOR: image
/// The image's directory, built on first use.
pub fn image() -> Result<PathBuf> {
    let dir = cache_dir().join("images/busybox");
    if dir.join("bin/sh").exists() {
        return Ok(dir);
    }
    let building = dir.with_extension(format!("building-{}", std::process::id()));
    let _ = fs::remove_dir_all(&building);
    build(&building)?;
    // Another process may have finished first: then keep its copy.
    if fs::rename(&building, &dir).is_err() {
        let _ = fs::remove_dir_all(&building);
    }
    Ok(dir)
}

/// Build the image in `dir`.
pub fn build(dir: &Path) -> Result<()> {
    let busybox = Path::new(BUSYBOX);
    if !busybox.exists() || !is_static(busybox) {
        return Err(Error::Invalid(format!(
            "{BUSYBOX} is missing or not static: install the busybox-static package (scripts/setup does)"
        )));
    }
    for sub in DIRS {
        fs::create_dir_all(dir.join(sub))
            .map_err(|e| Error::os(format!("creating {}", dir.display()), e))?;
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777))
        .map_err(|e| Error::os("chmod /tmp", e))?;
    fs::copy(busybox, dir.join("bin/busybox")).map_err(|e| Error::os("copying busybox", e))?;
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .map_err(|e| Error::os("running busybox --list", e))?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let link = dir.join("bin").join(applet);
        if applet != "busybox" && !link.exists() {
            symlink("busybox", &link).map_err(|e| Error::os(format!("linking {applet}"), e))?;
        }
    }
    let etc = [
        (
            "passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        ),
        ("group", "root:x:0:\nnogroup:x:65534:\n"),
        ("hostname", "busybox\n"),
    ];
    for (name, text) in etc {
        fs::write(dir.join("etc").join(name), text)
            .map_err(|e| Error::os(format!("writing /etc/{name}"), e))?;
    }
    Ok(())
}
// ANCHOR_END: image

/// A static binary has no program interpreter: `ldd` says so and fails.
fn is_static(binary: &Path) -> bool {
    Command::new("ldd")
        .arg(binary)
        .output()
        .is_ok_and(|o| !o.status.success())
}

/// cargo's target directory: the nearest folder above this program that
/// holds cargo's `CACHEDIR.TAG`, else a system cache folder.
fn cache_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .find(|d| d.join("CACHEDIR.TAG").exists())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| PathBuf::from("/var/cache/berth"))
}
