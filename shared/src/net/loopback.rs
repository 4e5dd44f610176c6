//! The loopback interface of a new network namespace, brought up.
//!
//! A new network namespace has one interface, `lo`, and it is *down*:
//! even `127.0.0.1` is unreachable. Programs expect to talk to themselves
//! (a database and its admin tool, a health check), so runc brings `lo` up
//! in every network namespace it creates, and so does the kit. Real
//! networking (an interface to the outside) is chapter 7's.

use std::os::fd::AsRawFd;

use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use crate::container::Stage;
use crate::{Error, Result};

/// Stage: `ip link set lo up`, inside the container's new network
/// namespace.
pub struct LoopbackUp;

impl Stage for LoopbackUp {
    fn name(&self) -> &'static str {
        "the loopback interface"
    }

    fn in_child(&mut self) -> Result<()> {
        // Interface flags are read and written with ioctls on any socket.
        let socket = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| Error::sys("a socket to configure lo", e))?;
        // SAFETY: ifreq is plain data; all zeros is a valid value.
        let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
            *slot = *byte as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS and SIOCSIFFLAGS read and write `request`,
        // which lives for both calls.
        unsafe {
            if libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) < 0 {
                return Err(Error::sys("reading lo's flags", nix::errno::Errno::last()));
            }
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) < 0 {
                return Err(Error::sys("bringing lo up", nix::errno::Errno::last()));
            }
        }
        Ok(())
    }
}
