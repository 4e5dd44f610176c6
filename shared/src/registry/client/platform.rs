//! Platforms: which manifest of an index this machine (or `--platform`)
//! wants.

use oci_spec::image::{Arch, Descriptor, Os, Platform, PlatformBuilder};

use super::*;

// ANCHOR: platform
/// This host's platform in the names Go (and so every registry) uses:
/// Rust's `x86_64` is `amd64`, `aarch64` is `arm64` (variant `v8`).
pub fn host_platform() -> Platform {
    let (architecture, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "x86" => ("386", None),
        "arm" => ("arm", Some("v7")),
        "powerpc64" if cfg!(target_endian = "little") => ("ppc64le", None),
        "loongarch64" => ("loong64", None),
        "mips64" if cfg!(target_endian = "little") => ("mips64le", None),
        other => (other, None),
    };
    platform(architecture, variant)
}

/// A Linux platform for `architecture` (Go's name) and an optional variant.
pub fn platform(architecture: &str, variant: Option<&str>) -> Platform {
    let mut builder = PlatformBuilder::default()
        .os(Os::Linux)
        .architecture(Arch::from(architecture));
    if let Some(variant) = variant {
        builder = builder.variant(variant.to_string());
    }
    builder.build().expect("os and architecture are set")
}

/// Parse `os/arch[/variant]` (`linux/arm64`, `linux/arm/v7`), as Docker's
/// and Podman's `--platform`.
pub fn parse_platform(text: &str) -> Result<Platform> {
    let parts: Vec<&str> = text.split('/').collect();
    match parts.as_slice() {
        ["linux", arch] if !arch.is_empty() => Ok(platform(arch, None)),
        ["linux", arch, variant] if !arch.is_empty() && !variant.is_empty() => {
            Ok(platform(arch, Some(variant)))
        }
        _ => Err(Error::Invalid(format!(
            "{text:?} is not a platform: write linux/ARCH or linux/ARCH/VARIANT (linux/arm64, linux/arm/v7)"
        ))),
    }
}

/// `linux/arm64/v8`.
pub fn platform_name(p: &Platform) -> String {
    let mut name = format!("{}/{}", p.os(), p.architecture());
    if let Some(variant) = p.variant() {
        name = format!("{name}/{variant}");
    }
    name
}

/// Choose the entry of an index that runs on `wanted`: the same OS and
/// architecture; among those, the same variant, else one that names no
/// variant (`arm64` images often do not say `v8`). Entries without a
/// platform, or for `unknown/unknown` (build attestations), never match.
///
/// `Err` lists the platforms the index offers, for the error message.
pub fn choose_platform<'a>(
    entries: &'a [Descriptor],
    wanted: &Platform,
) -> std::result::Result<&'a Descriptor, String> {
    let same_machine = |d: &&Descriptor| {
        d.platform()
            .as_ref()
            .is_some_and(|p| p.os() == wanted.os() && p.architecture() == wanted.architecture())
    };
    let variant = |d: &Descriptor| d.platform().as_ref().and_then(|p| p.variant().clone());
    let candidates: Vec<&Descriptor> = entries.iter().filter(same_machine).collect();
    let exact = candidates.iter().find(|d| variant(d) == *wanted.variant());
    let unspecified = candidates.iter().find(|d| variant(d).is_none());
    let any = if wanted.variant().is_none() {
        candidates.first()
    } else {
        None
    };
    exact.or(unspecified).or(any).copied().ok_or_else(|| {
        let names: Vec<String> = entries
            .iter()
            .filter_map(|d| d.platform().as_ref().map(platform_name))
            .collect();
        if names.is_empty() {
            "no platforms listed".to_string()
        } else {
            names.join(", ")
        }
    })
}
// ANCHOR_END: platform
