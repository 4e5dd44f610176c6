//! Plain, gzip or zstd: a tarball's compression, told by its first bytes.

use std::io::{self, BufReader, Read};

use crate::{Error, Result};

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

// ANCHOR: decompress
/// The tar stream inside a blob. The magic bytes decide (as containerd
/// does): tools have been known to label a plain tarball `tar.gzip`, and
/// the bytes cannot lie about their own format. (The caller has checked
/// that the media type names a layer at all.)
pub(super) fn decompress<'r>(mut reader: impl Read + 'r) -> io::Result<Box<dyn Read + 'r>> {
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
pub(super) fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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
