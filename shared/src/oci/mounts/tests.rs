//! Mount options as runc reads them.

use libc::{MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, MOUNT_ATTR_STRICTATIME, MOUNT_ATTR__ATIME};
use nix::mount::MsFlags;

use super::*;

#[test]
fn options_split_into_flags_propagation_and_data() {
    let options: Vec<String> = [
        "nosuid",
        "strictatime",
        "mode=755",
        "size=65536k",
        "rslave",
        "ro",
    ]
    .map(String::from)
    .to_vec();
    let parsed = parse_options(&options);
    assert_eq!(
        parsed.flags,
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME | MsFlags::MS_RDONLY
    );
    assert_eq!(parsed.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
    assert_eq!(parsed.data, "mode=755,size=65536k");
    let flags = parse_options(&["ro".into(), "rw".into()]).flags;
    assert!(flags.is_empty(), "the last word wins");
}

#[test]
fn recursive_options_set_and_clear_mount_attributes() {
    let options: Vec<String> = ["rro", "rnosuid", "rnoatime", "rrw", "rstrictatime"]
        .map(String::from)
        .to_vec();
    let parsed = parse_options(&options);
    let (set, clear) = parsed.recursive;
    assert_eq!(set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME);
    // rrw clears read-only; the access-time field is cleared whole
    // before its new value is set.
    assert_eq!(clear, MOUNT_ATTR_RDONLY | MOUNT_ATTR__ATIME);
    assert!(parsed.flags.is_empty() && parsed.data.is_empty());
}

#[test]
fn the_cgroup_of_a_hierarchy_is_found_by_its_controllers() {
    let own = "9:name=systemd:/user\n4:memory:/berth/web\n2:cpu,cpuacct:/berth/web\n0::/init";
    assert_eq!(own_cgroup(own, "cgroup", &["memory"]), Some("/berth/web"));
    assert_eq!(
        own_cgroup(own, "cgroup", &["cpu", "cpuacct"]),
        Some("/berth/web")
    );
    assert_eq!(
        own_cgroup(own, "cgroup", &["xattr", "name=systemd"]),
        Some("/user")
    );
    assert_eq!(own_cgroup(own, "cgroup2", &[]), Some("/init"));
    assert_eq!(own_cgroup(own, "cgroup", &["freezer"]), None);
}
