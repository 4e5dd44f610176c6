//! The handshake between the runtime and the container's first process.
//!
//! Introduced by rung 01; chapter 1 explains it.
//!
//! After `clone3` there are two processes, and some set-up must happen on
//! each side *in order*: the runtime (outside) may need to do things to the
//! child — put it in a cgroup (rung 02), write its uid map (rung 06) —
//! before the child (inside) may go on. So the child's first act is to wait
//! for [`Message::Go`].
//!
//! The other direction carries bad news. If the child's set-up fails, or the
//! user's command cannot be executed, the child says why before it dies, so
//! the runtime can print "ls: command not found" instead of a bare exit
//! status. Good news needs no message: the channel is close-on-exec, so when
//! the user's command starts, the child's end closes and the runtime reads
//! end-of-file. *EOF means the command is running.*
//!
//! The channel is a `SOCK_SEQPACKET` socket pair: one `send` is one
//! `recv`, so messages need no framing.

use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{recv, send, socketpair, AddressFamily, MsgFlags, SockFlag, SockType};

use crate::{Error, Result};

// ANCHOR: message
/// What the two sides say to each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Runtime → child: the outside set-up is done; carry on.
    Go,
    /// Child → runtime: a set-up stage failed, and this is why.
    Failed(String),
    /// Child → runtime: `execvp` of the user's command failed.
    ExecFailed(Errno),
    /// Child → runtime: set up, and waiting for `start` (rung 04).
    Created,
}
// ANCHOR_END: message

impl Message {
    fn encode(&self) -> Vec<u8> {
        match self {
            Message::Go => vec![b'G'],
            Message::Created => vec![b'C'],
            Message::Failed(why) => [b"F".as_slice(), why.as_bytes()].concat(),
            Message::ExecFailed(errno) => {
                [b"E".as_slice(), &(*errno as i32).to_le_bytes()].concat()
            }
        }
    }

    fn decode(bytes: &[u8]) -> Result<Message> {
        match bytes {
            [b'G'] => Ok(Message::Go),
            [b'C'] => Ok(Message::Created),
            [b'F', why @ ..] => Ok(Message::Failed(String::from_utf8_lossy(why).into_owned())),
            [b'E', a, b, c, d] => Ok(Message::ExecFailed(Errno::from_raw(i32::from_le_bytes([
                *a, *b, *c, *d,
            ])))),
            _ => Err(Error::Invalid(format!(
                "unreadable message on the set-up channel: {bytes:?}"
            ))),
        }
    }
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel(OwnedFd);

/// A connected pair: give one end to each side of the fork, and drop the
/// other end on each side right after it.
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("creating the set-up channel (socketpair)", e))?;
    Ok((Channel(a), Channel(b)))
}

impl Channel {
    /// Send one message.
    pub fn send(&self, message: &Message) -> Result<()> {
        loop {
            match send(self.raw_fd(), &message.encode(), MsgFlags::MSG_NOSIGNAL) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("writing to the set-up channel", e)),
                Ok(_) => return Ok(()),
            }
        }
    }

    /// Wait for one message; `None` when the other side has closed its end
    /// (for the runtime: the user's command is running).
    pub fn recv(&self) -> Result<Option<Message>> {
        let mut buf = [0u8; 4096];
        loop {
            match recv(self.raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("reading the set-up channel", e)),
                Ok(0) => return Ok(None),
                Ok(n) => return Message::decode(&buf[..n]).map(Some),
            }
        }
    }

    /// The descriptor number, for the list of descriptors a process must
    /// keep open when it closes all others.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.0.as_fd().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_the_trip() {
        let (a, b) = pair().unwrap();
        for m in [
            Message::Go,
            Message::Failed("mounting proc: EPERM".into()),
            Message::ExecFailed(Errno::ENOENT),
            Message::Created,
        ] {
            a.send(&m).unwrap();
            assert_eq!(b.recv().unwrap(), Some(m));
        }
    }

    #[test]
    fn a_closed_end_reads_as_eof() {
        let (a, b) = pair().unwrap();
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }
}
