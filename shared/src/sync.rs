//! The handshake between the runtime and the container's first process.
//!
//! Introduced by rung 01; chapter 1 explains it, and chapter 4 adds the
//! round trips.
//!
//! After `clone3` there are two processes, and some set-up must happen on
//! each side *in order*: the runtime (outside) may need to do things to the
//! child — put it in a cgroup (rung 02) — before the child (inside) may go
//! on. So the child's first act is to wait for [`Message::Go`].
//!
//! The other direction carries bad news. If the child's set-up fails, or the
//! user's command cannot be executed, the child says why before it dies, so
//! the runtime can print "ls: command not found" instead of a bare exit
//! status. Good news needs no message: the channel is close-on-exec, so when
//! the user's command starts, the child's end closes and the runtime reads
//! end-of-file. *EOF means the command is running.*
//!
//! The channel is a `SOCK_SEQPACKET` socket pair: one `send` is one
//! `recv`, so messages need no framing. A message can also carry open file
//! descriptors (`SCM_RIGHTS`): the kernel installs copies of them in the
//! receiving process, which is how one side can hand the other something
//! only it could open — a mount made outside, attached inside (rung 06).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

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
    // ANCHOR_END: message
    /// Child → runtime: stage number `stage` needs the runtime's half of a
    /// round trip now (rung 04's hooks: the state with my PID; rung 06:
    /// write my uid map).
    #[cfg(feature = "step-04")]
    Ask {
        /// The stage's place in the container's list.
        stage: u32,
    },
    /// Runtime → child: the answer to `Ask`, with whatever bytes the stage
    /// sends (and descriptors, beside the message).
    #[cfg(feature = "step-04")]
    Answer(Vec<u8>),
    /// Child → runtime: in every namespace it joins, its round trips done;
    /// the runtime's halves (`in_parent`) may act on it now.
    #[cfg(feature = "step-04")]
    Ready,
    /// Child → runtime: set up, and waiting for `start` (rung 04).
    #[cfg(feature = "step-04")]
    Created,
}

impl Message {
    fn encode(&self) -> Vec<u8> {
        match self {
            Message::Go => vec![b'G'],
            Message::Failed(why) => [b"F".as_slice(), why.as_bytes()].concat(),
            Message::ExecFailed(errno) => {
                [b"E".as_slice(), &(*errno as i32).to_le_bytes()].concat()
            }
            #[cfg(feature = "step-04")]
            Message::Ask { stage } => [b"A".as_slice(), &stage.to_le_bytes()].concat(),
            #[cfg(feature = "step-04")]
            Message::Answer(data) => [b"a".as_slice(), data].concat(),
            #[cfg(feature = "step-04")]
            Message::Ready => vec![b'R'],
            #[cfg(feature = "step-04")]
            Message::Created => vec![b'C'],
        }
    }

    fn decode(bytes: &[u8]) -> Result<Message> {
        match bytes {
            [b'G'] => Ok(Message::Go),
            [b'F', why @ ..] => Ok(Message::Failed(String::from_utf8_lossy(why).into_owned())),
            [b'E', a, b, c, d] => Ok(Message::ExecFailed(Errno::from_raw(i32::from_le_bytes([
                *a, *b, *c, *d,
            ])))),
            #[cfg(feature = "step-04")]
            [b'A', a, b, c, d] => Ok(Message::Ask {
                stage: u32::from_le_bytes([*a, *b, *c, *d]),
            }),
            #[cfg(feature = "step-04")]
            [b'a', data @ ..] => Ok(Message::Answer(data.to_vec())),
            #[cfg(feature = "step-04")]
            [b'R'] => Ok(Message::Ready),
            #[cfg(feature = "step-04")]
            [b'C'] => Ok(Message::Created),
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

/// The most descriptors one message carries.
const MAX_FDS: usize = 8;

/// The largest message read whole (a hook state with many annotations
/// fits; a larger one is an error, never read in part).
const MAX_MESSAGE: usize = 64 * 1024;

impl Channel {
    /// Send one message.
    pub fn send(&self, message: &Message) -> Result<()> {
        self.send_with(message, &[])
    }

    /// Send one message with open descriptors beside it (`SCM_RIGHTS`):
    /// the other side receives its own copies.
    pub fn send_with(&self, message: &Message, fds: &[BorrowedFd]) -> Result<()> {
        if fds.len() > MAX_FDS {
            return Err(Error::Invalid(format!(
                "{} descriptors in one message: at most {MAX_FDS}",
                fds.len()
            )));
        }
        let bytes = message.encode();
        let raw: Vec<RawFd> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
        let rights = [ControlMessage::ScmRights(&raw)];
        let control: &[ControlMessage] = if raw.is_empty() { &[] } else { &rights };
        loop {
            let iov = [IoSlice::new(&bytes)];
            match sendmsg::<()>(self.raw_fd(), &iov, control, MsgFlags::MSG_NOSIGNAL, None) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("writing to the set-up channel", e)),
                Ok(_) => return Ok(()),
            }
        }
    }

    /// Wait for one message; `None` when the other side has closed its end
    /// (for the runtime: the user's command is running).
    pub fn recv(&self) -> Result<Option<Message>> {
        Ok(self.recv_with()?.map(|(message, _fds)| message))
    }

    /// Wait for one message and the descriptors sent with it.
    pub fn recv_with(&self) -> Result<Option<(Message, Vec<OwnedFd>)>> {
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let received = match recvmsg::<()>(
                self.raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::sys("reading the set-up channel", e)),
                Ok(received) => received,
            };
            let mut fds = Vec::new();
            for control in received
                .cmsgs()
                .map_err(|e| Error::sys("reading SCM_RIGHTS", e))?
            {
                if let ControlMessageOwned::ScmRights(raw) = control {
                    // SAFETY: the kernel has just installed these
                    // descriptors in this process for us; nothing else
                    // owns them.
                    fds.extend(
                        raw.into_iter()
                            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                    );
                }
            }
            let n = received.bytes;
            if received
                .flags
                .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC)
            {
                // A message is read whole or not at all: never act on the
                // first part of one (a hook state cut in the middle).
                return Err(Error::Invalid(format!(
                    "a set-up message larger than {MAX_MESSAGE} bytes, or with more than {MAX_FDS} descriptors"
                )));
            }
            if n == 0 {
                return Ok(None);
            }
            return Message::decode(&buf[..n]).map(|m| Some((m, fds)));
        }
    }

    /// The descriptor number, for the list of descriptors a process must
    /// keep open when it closes all others.
    pub fn raw_fd(&self) -> RawFd {
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
            #[cfg(feature = "step-04")]
            Message::Ask { stage: 7 },
            #[cfg(feature = "step-04")]
            Message::Answer(b"{\"pid\": 42}".to_vec()),
            #[cfg(feature = "step-04")]
            Message::Ready,
            #[cfg(feature = "step-04")]
            Message::Created,
        ] {
            a.send(&m).unwrap();
            assert_eq!(b.recv().unwrap(), Some(m));
        }
    }

    #[test]
    fn a_message_too_large_is_refused_not_cut() {
        let (a, b) = pair().unwrap();
        a.send(&Message::Failed("x".repeat(MAX_MESSAGE + 10)))
            .unwrap();
        let error = b.recv().unwrap_err().to_string();
        assert!(error.contains("larger than"), "{error}");
    }

    #[test]
    fn a_closed_end_reads_as_eof() {
        let (a, b) = pair().unwrap();
        drop(a);
        assert_eq!(b.recv().unwrap(), None);
    }

    #[test]
    fn descriptors_cross_with_a_message() {
        use std::io::{Read, Seek, Write};
        let (a, b) = pair().unwrap();
        let temp = std::env::temp_dir().join(format!("berth-sync-{}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temp)
            .unwrap();
        file.write_all(b"made on one side").unwrap();
        std::fs::remove_file(&temp).unwrap();
        a.send_with(&Message::Go, &[file.as_fd()]).unwrap();
        let (message, fds) = b.recv_with().unwrap().unwrap();
        assert_eq!(message, Message::Go);
        assert_eq!(fds.len(), 1);
        // The copy is the same open file, though its name is gone.
        let mut copy = std::fs::File::from(fds.into_iter().next().unwrap());
        copy.rewind().unwrap();
        let mut text = String::new();
        copy.read_to_string(&mut text).unwrap();
        assert_eq!(text, "made on one side");
    }
}
