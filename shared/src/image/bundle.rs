//! A pulled image as an OCI bundle, for rung 04's runtime.
//!
//! The image's config says how its program wants to run (`Entrypoint`,
//! `Cmd`, `Env`, `WorkingDir`, `User`); rung 04 wants a `config.json` and a
//! root filesystem. So: the layers stacked by overlayfs under a fresh
//! writable layer (rung 03's code) become the root, and the image config
//! is translated onto the default `config.json`:
//!
//! ```text
//!   image config                 config.json
//!   Entrypoint + Cmd        →    process.args     (a command given replaces Cmd)
//!   Env                     →    process.env
//!   WorkingDir              →    process.cwd      ("/" if empty)
//!   User  "uid[:gid]"       →    process.user     (a name is looked up in the image)
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::store::Store;
use crate::oci::generate;
use crate::rootfs::{overlay, Paths, Storage};
use crate::{Error, Result};

/// What an image needs to run: its layers and its config.
#[derive(Debug, Clone)]
pub struct Image {
    /// The unpacked layers, lowest first.
    pub layers: Vec<PathBuf>,
    /// The image config's `config` object (Entrypoint, Cmd, Env…).
    pub config: Value,
}

/// Look `name` up in the store.
pub fn image(store: &Store, name: &str) -> Result<Image> {
    let images = store.images()?;
    let manifest = images
        .get(name)
        .ok_or_else(|| Error::Invalid(format!("no image {name:?} in the store: pull it first")))?;
    let read = |digest: &str| -> Result<Value> {
        let path = store.blob(digest)?;
        let text = fs::read_to_string(&path)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
    };
    let manifest = read(manifest)?;
    let config = manifest["config"]["digest"]
        .as_str()
        .ok_or_else(|| Error::Invalid(format!("{name}: the manifest has no config")))?;
    let config = read(config)?["config"].clone();
    let mut layers = Vec::new();
    for layer in manifest["layers"].as_array().into_iter().flatten() {
        let digest = layer["digest"].as_str().unwrap_or_default();
        let dir = store.layer(digest)?;
        if !dir.is_dir() {
            return Err(Error::Invalid(format!(
                "{name}: layer {digest} is not unpacked: pull it again"
            )));
        }
        layers.push(dir);
    }
    Ok(Image { layers, config })
}

// ANCHOR: bundle
/// Make `dir` a bundle for `image`: the layers mounted under a writable
/// layer at `dir/rootfs`, and a `config.json` running `command` (or the
/// image's own). The mount belongs to the caller's mount namespace: make
/// that a private one, and the mount goes when the namespace does.
pub fn make(image: &Image, command: &[String], dir: &Path) -> Result<()> {
    let paths = Paths {
        dir: dir.to_path_buf(),
        upper: dir.join("upper"),
        work: dir.join("work"),
        merged: dir.join("rootfs"),
        etc: dir.join("etc"),
        unpacked: dir.join("unpacked"),
    };
    for d in [&paths.upper, &paths.work, &paths.merged] {
        fs::create_dir_all(d).map_err(|e| Error::io("creating", d, e))?;
    }
    overlay::assemble(&image.layers, &paths, Storage::Auto)?;
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    let c = &image.config;
    let mut args = strings(&c["Entrypoint"]);
    if command.is_empty() {
        args.extend(strings(&c["Cmd"]));
    } else {
        args.extend(command.iter().cloned());
    }
    if args.is_empty() {
        return Err(Error::Invalid(
            "the image has no Entrypoint or Cmd, and no command was given".into(),
        ));
    }
    let mut env = strings(&c["Env"]);
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    }
    let cwd = c["WorkingDir"]
        .as_str()
        .filter(|w| !w.is_empty())
        .unwrap_or("/");
    let (uid, gid) = user(c["User"].as_str().unwrap_or(""), &paths.merged)?;
    let mut spec = serde_json::to_value(generate::default_spec(false))
        .map_err(|e| Error::Invalid(e.to_string()))?;
    spec["root"] = serde_json::json!({"path": paths.merged, "readonly": false});
    spec["process"]["args"] = serde_json::json!(args);
    spec["process"]["env"] = serde_json::json!(env);
    spec["process"]["cwd"] = serde_json::json!(cwd);
    spec["process"]["user"] = serde_json::json!({"uid": uid, "gid": gid});
    let text = serde_json::to_string_pretty(&spec).map_err(|e| Error::Invalid(e.to_string()))?;
    fs::write(dir.join("config.json"), text)
        .map_err(|e| Error::Invalid(format!("{}: {e}", dir.display())))
}
// ANCHOR_END: bundle

/// The image's `User`: `uid[:gid]` as numbers, or a name looked up in the
/// image's own `/etc/passwd` (resolved inside the root: the image is not
/// trusted).
fn user(spec: &str, root: &Path) -> Result<(u32, u32)> {
    if spec.is_empty() {
        return Ok((0, 0));
    }
    let (user, group) = spec.split_once(':').unwrap_or((spec, ""));
    let uid = match user.parse::<u32>() {
        Ok(uid) => (uid, None),
        Err(_) => {
            let inside = crate::oci::inroot::Root::open(root)?;
            let fd = inside
                .resolve(Path::new("/etc/passwd"))
                .map_err(|e| Error::sys("looking up the image's /etc/passwd", e))?;
            let passwd = fs::read_to_string(crate::oci::inroot::proc_path(&fd))
                .map_err(|e| Error::os("reading the image's /etc/passwd", e))?;
            let found = passwd.lines().find_map(|line| {
                let f: Vec<&str> = line.split(':').collect();
                (f.len() >= 4 && f[0] == user).then(|| (f[2].parse().ok(), f[3].parse().ok()))
            });
            match found {
                Some((Some(uid), gid)) => (uid, gid),
                _ => {
                    return Err(Error::Invalid(format!(
                        "User {user:?}: not in the image's /etc/passwd"
                    )))
                }
            }
        }
    };
    let gid = if group.is_empty() {
        uid.1.unwrap_or(0)
    } else {
        group.parse().map_err(|_| {
            Error::Invalid(format!(
                "User {spec:?}: group names are not supported, only numbers"
            ))
        })?
    };
    Ok((uid.0, gid))
}
