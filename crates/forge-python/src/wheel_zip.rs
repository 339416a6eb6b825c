//! A wheel's zip archive, read for installing: the central directory once,
//! then each member with positioned reads on one shared file, so any
//! number of threads read members at once without seeking.
//!
//! Small members are inflated whole with libdeflate (their sizes are known
//! from the central directory; about twice as fast as a streaming
//! inflate); large ones are streamed in bounded memory. Either way a
//! member must inflate to exactly its declared size and CRC-32, and its
//! local header must be there and carry the central directory's name
//! (archives whose two names differ show different files to different
//! tools). Names that appear twice are refused when the archive is opened.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use sha2::{Digest, Sha256};

/// The largest member read whole into memory, inflated and compressed:
/// larger ones are streamed.
pub const WHOLE_MEMBER_LIMIT: u64 = 8 << 20;

/// The fixed part of a local file header.
const LOCAL_HEADER: usize = 30;

/// Bytes of a local header's extra field read with the data in one go;
/// wheels have none, or a few.
const EXTRA_GUESS: u64 = 64;

/// Deflate cannot expand by more than about 1032:1; a member that claims
/// more is lying about its size.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// An opened wheel.
pub struct WheelZip {
    file: fs::File,
    file_size: u64,
    members: Vec<Member>,
}

/// One entry of the central directory.
pub struct Member {
    /// Its name, as the central directory gives it.
    pub name: String,
    name_raw: Vec<u8>,
    /// A directory entry (no content).
    pub is_dir: bool,
    /// Its Unix mode has an execute bit.
    pub executable: bool,
    /// Its uncompressed size, as declared.
    pub size: u64,
    packed: u64,
    deflated: bool,
    crc: u32,
    header_start: u64,
}

impl Member {
    /// Whether [`WheelZip::read_whole`] takes it: both its declared size
    /// and its compressed data are small. The size alone is not enough: a
    /// deflate stream can carry any amount of empty blocks that inflate
    /// to nothing.
    pub fn fits_in_memory(&self) -> bool {
        self.size <= WHOLE_MEMBER_LIMIT && self.packed <= WHOLE_MEMBER_LIMIT
    }
}

impl WheelZip {
    /// Reads the central directory of the wheel at `path`. Refuses
    /// duplicate names, symlinks, encryption and methods other than store
    /// and deflate (the only ones PEP 427 wheels use).
    pub fn open(path: &Path) -> Result<WheelZip, String> {
        let file = fs::File::open(path).map_err(|e| e.to_string())?;
        let file_size = file.metadata().map_err(|e| e.to_string())?.len();
        let directory = io::BufReader::new(file.try_clone().map_err(|e| e.to_string())?);
        let archive = zip::ZipArchive::new(directory).map_err(|e| format!("not a zip archive: {e}"))?;
        if archive.has_duplicate_names() {
            return Err(
                "a member name appears twice in the archive (tools would disagree on which copy is installed)".into(),
            );
        }
        let mut members = Vec::with_capacity(archive.len());
        for i in 0..archive.len() {
            let entry = archive.by_index_data(i).map_err(|e| e.to_string())?;
            let name = entry
                .name()
                .map_err(|e| format!("unreadable member name: {e}"))?
                .to_string();
            let mode = entry.unix_mode().unwrap_or(0o644);
            if mode & 0o170000 == 0o120000 {
                return Err(format!("member '{name}' is a symlink; wheels may not hold symlinks"));
            }
            if entry.encrypted() {
                return Err(format!("member '{name}' is encrypted"));
            }
            let deflated = match entry.compression() {
                zip::CompressionMethod::Stored => false,
                zip::CompressionMethod::Deflated => true,
                other => {
                    return Err(format!(
                        "member '{name}' uses compression method {other:?}; wheels use deflate or store"
                    ));
                }
            };
            members.push(Member {
                is_dir: entry.is_dir(),
                executable: mode & 0o111 != 0,
                size: entry.size(),
                packed: entry.compressed_size(),
                deflated,
                crc: entry.crc32(),
                header_start: entry.header_start(),
                name_raw: entry.name_raw().to_vec(),
                name,
            });
        }
        Ok(WheelZip {
            file,
            file_size,
            members,
        })
    }

    /// The entries, in central-directory order.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Where `member`'s compressed data lies, checked against its local
    /// header and the file's size.
    fn data_range(&self, member: &Member) -> Result<(u64, u64), String> {
        let mut header = vec![0u8; LOCAL_HEADER + member.name_raw.len()];
        self.file
            .read_exact_at(&mut header, member.header_start)
            .map_err(|e| format!("its local header cannot be read: {e}"))?;
        self.checked_range(member, &header)
    }

    /// [`WheelZip::data_range`] from the first bytes of the member's local
    /// header (at least its fixed part and name).
    fn checked_range(&self, member: &Member, header: &[u8]) -> Result<(u64, u64), String> {
        if header.len() < LOCAL_HEADER || header[..4] != *b"PK\x03\x04" {
            return Err("its local header is missing".into());
        }
        let name_len = u16::from_le_bytes([header[26], header[27]]) as usize;
        let extra_len = u64::from(u16::from_le_bytes([header[28], header[29]]));
        if name_len != member.name_raw.len()
            || header.get(LOCAL_HEADER..LOCAL_HEADER + name_len) != Some(&member.name_raw[..])
        {
            return Err("its local header names another file".into());
        }
        let start = member.header_start + (LOCAL_HEADER + name_len) as u64 + extra_len;
        if start.checked_add(member.packed).is_none_or(|end| end > self.file_size) {
            return Err(format!(
                "its {} compressed bytes run past the end of the file",
                member.packed
            ));
        }
        if member.deflated && member.size > member.packed.saturating_mul(MAX_DEFLATE_RATIO).saturating_add(64) {
            return Err(format!(
                "it claims {} bytes from {} compressed, more than deflate can expand",
                member.size, member.packed
            ));
        }
        if !member.deflated && member.size != member.packed {
            return Err(format!(
                "it is stored with {} bytes but claims {}",
                member.packed, member.size
            ));
        }
        Ok((start, member.packed))
    }

    /// The content of a member of at most [`WHOLE_MEMBER_LIMIT`] bytes,
    /// in `reader`'s buffers: they are kept between calls (grown, never
    /// cleared), so members cost no allocation and no zeroing of their own.
    /// Header and data come in one read where the header's extra field is
    /// short, as it is in wheels.
    pub fn read_whole<'r>(&self, member: &Member, reader: &'r mut WholeReader) -> Result<&'r [u8], String> {
        if !member.fits_in_memory() {
            return Err(format!(
                "it holds {} bytes ({} compressed), more than the {WHOLE_MEMBER_LIMIT} read into memory",
                member.size, member.packed
            ));
        }
        // Bounded: `packed` is checked against the file's size first.
        let fixed = LOCAL_HEADER + member.name_raw.len();
        if member.header_start.saturating_add(fixed as u64 + member.packed) > self.file_size {
            return Err(format!(
                "its {} compressed bytes run past the end of the file",
                member.packed
            ));
        }
        let guess = (fixed as u64 + EXTRA_GUESS + member.packed).min(self.file_size - member.header_start) as usize;
        room(&mut reader.compressed, guess);
        self.file
            .read_exact_at(&mut reader.compressed[..guess], member.header_start)
            .map_err(|e| format!("its local header cannot be read: {e}"))?;
        let (start, packed) = self.checked_range(member, &reader.compressed[..guess])?;
        let offset = (start - member.header_start) as usize;
        let packed = packed as usize;
        let data = if offset + packed <= guess {
            offset..offset + packed
        } else {
            // A long extra field: the data is read again, from its start.
            room(&mut reader.compressed, packed);
            self.file
                .read_exact_at(&mut reader.compressed[..packed], start)
                .map_err(|e| e.to_string())?;
            0..packed
        };
        let bytes: &[u8] = if member.deflated {
            let size = member.size as usize;
            room(&mut reader.inflated, size);
            let written = reader
                .inflater
                .deflate_decompress(&reader.compressed[data], &mut reader.inflated[..size])
                .map_err(|e| match e {
                    libdeflater::DecompressionError::InsufficientSpace => {
                        format!("it inflates to more than the {} bytes it claims", member.size)
                    }
                    libdeflater::DecompressionError::BadData => "its deflate data is corrupt".to_string(),
                })?;
            if written != size {
                return Err(format!("it inflates to {written} bytes but claims {}", member.size));
            }
            &reader.inflated[..size]
        } else {
            &reader.compressed[data]
        };
        if libdeflater::crc32(bytes) != member.crc {
            return Err("its CRC-32 does not match the archive's".into());
        }
        Ok(bytes)
    }

    /// The content of a member of any size, streamed; see [`MemberStream`].
    pub fn stream<'z>(&'z self, member: &'z Member) -> Result<MemberStream<'z>, String> {
        let (start, packed) = self.data_range(member)?;
        let raw = Section {
            file: &self.file,
            position: start,
            end: start + packed,
        };
        let inner: Box<dyn Read + 'z> = if member.deflated {
            Box::new(flate2::read::DeflateDecoder::new(raw))
        } else {
            Box::new(io::BufReader::with_capacity(64 << 10, raw))
        };
        Ok(MemberStream {
            member,
            inner,
            read: 0,
            crc: libdeflater::Crc::new(),
            sha256: Sha256::new(),
        })
    }
}

/// The inflater and buffer that [`WheelZip::read_whole`] reuses.
pub struct WholeReader {
    inflater: libdeflater::Decompressor,
    compressed: Vec<u8>,
    inflated: Vec<u8>,
}

impl Default for WholeReader {
    fn default() -> Self {
        WholeReader {
            inflater: libdeflater::Decompressor::new(),
            compressed: Vec::new(),
            inflated: Vec::new(),
        }
    }
}

/// Makes `buffer` at least `size` bytes long. It grows by doubling, into
/// a new allocation: what it held is not needed, so it is not copied.
fn room(buffer: &mut Vec<u8>, size: usize) {
    if buffer.len() < size {
        *buffer = vec![0; size.next_power_of_two()];
    }
}

/// Readers kept between wheels, at most this many (one per installer
/// thread that ran at once).
const POOL_LIMIT: usize = 8;

static POOL: std::sync::Mutex<Vec<WholeReader>> = std::sync::Mutex::new(Vec::new());

/// A [`WholeReader`] from the process's pool, returned to it when dropped:
/// a fresh one grows its buffers again, and each page of them is faulted
/// in and zeroed, which was a tenth of a cold build's time.
pub struct PooledReader(Option<WholeReader>);

impl PooledReader {
    /// A reader from the pool, or a new one.
    pub fn take() -> PooledReader {
        let kept = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop();
        PooledReader(Some(kept.unwrap_or_default()))
    }
}

impl std::ops::Deref for PooledReader {
    type Target = WholeReader;
    fn deref(&self) -> &WholeReader {
        self.0.as_ref().expect("held until dropped")
    }
}

impl std::ops::DerefMut for PooledReader {
    fn deref_mut(&mut self) -> &mut WholeReader {
        self.0.as_mut().expect("held until dropped")
    }
}

impl Drop for PooledReader {
    fn drop(&mut self) {
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < POOL_LIMIT
            && let Some(reader) = self.0.take()
        {
            pool.push(reader);
        }
    }
}

/// A byte range of the file, read with positioned reads.
struct Section<'f> {
    file: &'f fs::File,
    position: u64,
    end: u64,
}

impl Read for Section<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = (self.end - self.position).min(buf.len() as u64) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.position)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the wheel ends early"));
        }
        self.position += n as u64;
        Ok(n)
    }
}

/// A member's content as it inflates, hashed on the way (SHA-256 and
/// CRC-32). Reading past the declared size is an error, so a lying member
/// cannot fill a disk; [`MemberStream::finish`] checks the rest.
pub struct MemberStream<'z> {
    member: &'z Member,
    inner: Box<dyn Read + 'z>,
    read: u64,
    crc: libdeflater::Crc,
    sha256: Sha256,
}

impl Read for MemberStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.member.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("it inflates to more than the {} bytes it claims", self.member.size),
            ));
        }
        self.crc.update(&buf[..n]);
        self.sha256.update(&buf[..n]);
        Ok(n)
    }
}

impl MemberStream<'_> {
    /// How many bytes were read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    /// Once read to the end: its SHA-256, if it had its declared size and
    /// CRC-32.
    pub fn finish(&mut self) -> Result<[u8; 32], String> {
        if self.read != self.member.size {
            return Err(format!(
                "it inflates to {} bytes but claims {}",
                self.read, self.member.size
            ));
        }
        if self.crc.sum() != self.member.crc {
            return Err("its CRC-32 does not match the archive's".into());
        }
        Ok(std::mem::take(&mut self.sha256).finalize().into())
    }
}
