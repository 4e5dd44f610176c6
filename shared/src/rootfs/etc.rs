//! `/etc/hostname`, `/etc/hosts`, `/etc/resolv.conf`: the container's own.
//!
//! Introduced by rung 03; chapter 3 explains it.
//!
//! An image's `/etc/hostname` names the machine it was built on, and its
//! `/etc/hosts` knows nothing of the container's hostname. Like Docker, the
//! runtime writes these three files into its state directory and
//! bind-mounts them over the image's, so the image itself is not changed
//! (and a read-only root still gets them).

use std::fs;
use std::path::Path;

use nix::mount::{mount, MsFlags};

use crate::{Error, Result};

/// The files, as the runtime writes them.
pub const FILES: [&str; 3] = ["hostname", "hosts", "resolv.conf"];

/// Write the three files into `dir`.
pub fn write(dir: &Path, hostname: &str) -> Result<()> {
    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
    );
    // The host's resolver configuration is the best guess until the
    // container has a network of its own (chapter 7).
    let resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    for (name, text) in [
        ("hostname", format!("{hostname}\n")),
        ("hosts", hosts),
        ("resolv.conf", resolv),
    ] {
        fs::write(dir.join(name), text).map_err(|e| Error::os(format!("writing {name}"), e))?;
    }
    Ok(())
}

/// Bind-mount the files from `dir` over `root/etc/…`.
pub fn bind(dir: &Path, root: &Path) -> Result<()> {
    let etc = root.join("etc");
    fs::create_dir_all(&etc).map_err(|e| Error::os("creating /etc", e))?;
    for name in FILES {
        let target = etc.join(name);
        // A symbolic link here could point anywhere on the host once
        // followed by mount(2): replace it by a plain file.
        if target
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            fs::remove_file(&target).map_err(|e| Error::os(format!("replacing /etc/{name}"), e))?;
        }
        if !target.exists() {
            fs::write(&target, b"").map_err(|e| Error::os(format!("creating /etc/{name}"), e))?;
        }
        mount(
            Some(&dir.join(name)),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| Error::sys(format!("binding /etc/{name}"), e))?;
    }
    Ok(())
}
