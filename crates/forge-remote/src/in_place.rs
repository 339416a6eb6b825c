//! Answers read in place. A pull receives hundreds of megabytes, and
//! tonic's decoder copies every received HTTP/2 frame into a message
//! buffer (which the allocator faults in) before a codec sees it. Here a
//! call's answer is read from the frames as they arrive instead: a
//! `BatchReadBlobs` blob is a slice of the frame it came in (copied only
//! when it straddles two frames), and a `ByteStream.Read` chunk is handed
//! on piece by piece, so nothing is held but the frames being read.

use std::collections::VecDeque;

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body_util::BodyExt as _;
use prost::Message as _;
use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
use tonic::codegen::Service as _;
use tonic::codegen::http;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// The path of `BatchReadBlobs`.
pub const BATCH_READ_PATH: &str = "/build.bazel.remote.execution.v2.ContentAddressableStorage/BatchReadBlobs";
/// The path of `ByteStream.Read`.
pub const READ_PATH: &str = "/google.bytestream.ByteStream/Read";

/// The most one message of an answer may say it holds (a batch is a few
/// MiB; a read's chunks are handed on as they come whatever their size).
const MAX_MESSAGE: usize = 64 << 20;

/// One blob of a `BatchReadBlobs` answer.
#[derive(Debug, Default)]
pub struct Answer {
    /// The digest the server names (hash, size).
    pub digest: Option<(String, i64)>,
    /// The blob, a slice of the received frames.
    pub data: Bytes,
    /// The status code (0: found) and its message.
    pub status: (i32, String),
}

/// Received bytes not yet read: the frames' data, in order.
#[derive(Default)]
pub struct Chunks {
    chunks: VecDeque<Bytes>,
    buffered: usize,
}

impl Chunks {
    /// Adds a frame's data.
    pub fn push(&mut self, data: Bytes) {
        if !data.is_empty() {
            self.buffered += data.len();
            self.chunks.push_back(data);
        }
    }

    /// Bytes held.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// The next `n` bytes (at most [`Chunks::buffered`]) in one piece: a
    /// slice of the frame that holds them all, else a copy.
    pub fn take(&mut self, n: usize) -> Bytes {
        assert!(n <= self.buffered, "take past what is held");
        self.buffered -= n;
        let front = self.chunks.front_mut().expect("bytes are held");
        if front.len() >= n {
            let taken = front.split_to(n);
            if front.is_empty() {
                self.chunks.pop_front();
            }
            return taken;
        }
        let mut joined = BytesMut::with_capacity(n);
        while joined.len() < n {
            let front = self.chunks.front_mut().expect("bytes are held");
            let part = front.split_to(front.len().min(n - joined.len()));
            joined.put(part);
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
        joined.freeze()
    }

    /// Up to `n` of the next bytes, as much as the first frame holds (at
    /// least one if any is held): a slice, never a copy.
    pub fn piece(&mut self, n: usize) -> Bytes {
        let Some(front) = self.chunks.front_mut() else {
            return Bytes::new();
        };
        let piece = front.split_to(front.len().min(n));
        if front.is_empty() {
            self.chunks.pop_front();
        }
        self.buffered -= piece.len();
        piece
    }

    /// The varint at the front and its length in bytes, consumed; `None`
    /// (nothing consumed) while it may continue past what is held.
    pub fn varint(&mut self) -> Result<Option<(u64, usize)>, Malformed> {
        let mut value = 0u64;
        let mut at = 0;
        for chunk in &self.chunks {
            for &byte in chunk.iter() {
                if at == 10 {
                    return Err("a varint is longer than ten bytes".into());
                }
                value |= u64::from(byte & 0x7f) << (7 * at);
                at += 1;
                if byte & 0x80 == 0 {
                    self.take(at);
                    return Ok(Some((value, at)));
                }
            }
        }
        Ok(None)
    }
}

/// One call's answer as it arrives: gRPC messages from the frames of the
/// response body, then the status in its trailers.
pub struct Call {
    body: tonic::body::Body,
    chunks: Chunks,
    /// Bytes of the current message not yet read.
    left: usize,
    /// The answer's headers said OK already (a "trailers-only" answer).
    ok_in_headers: bool,
}

impl Call {
    /// Sends `request` to `path` (with `authorization` as that header) and
    /// waits for the answer to begin. The server's error, if it answers
    /// with one at once, is the error.
    pub async fn start(
        channel: &Channel,
        authorization: Option<&http::HeaderValue>,
        path: &'static str,
        request: &impl prost::Message,
    ) -> Result<Call, Status> {
        let length = request.encoded_len();
        let mut body = BytesMut::with_capacity(5 + length);
        body.put_u8(0);
        body.put_u32(u32::try_from(length).map_err(|_| Status::internal("a request too large to send"))?);
        request.encode(&mut body).map_err(|e| Status::internal(e.to_string()))?;
        let mut builder = http::Request::builder()
            .method(http::Method::POST)
            .uri(path)
            .header(http::header::CONTENT_TYPE, "application/grpc")
            .header(http::header::TE, "trailers");
        if let Some(value) = authorization {
            builder = builder.header(http::header::AUTHORIZATION, value.clone());
        }
        let request = builder
            .body(tonic::body::Body::new(http_body_util::Full::new(body.freeze())))
            .map_err(|e| Status::internal(e.to_string()))?;
        let mut channel = channel.clone();
        std::future::poll_fn(|cx| channel.poll_ready(cx))
            .await
            .map_err(|e| Status::from_error(e.into()))?;
        let response = channel.call(request).await.map_err(|e| Status::from_error(e.into()))?;
        // An answer with no message may come in the headers alone.
        let in_headers = Status::from_header_map(response.headers());
        if let Some(status) = &in_headers
            && status.code() != Code::Ok
        {
            return Err(status.clone());
        }
        if response.status() != http::StatusCode::OK {
            return Err(http_status(response.status()));
        }
        Ok(Call {
            body: response.into_body(),
            chunks: Chunks::default(),
            left: 0,
            ok_in_headers: in_headers.is_some(),
        })
    }

    /// One more frame of data; `false` once the answer has ended, with
    /// status OK (another status is the error).
    async fn fill(&mut self) -> Result<bool, Status> {
        let mut status = None;
        while let Some(frame) = self.body.frame().await {
            let frame = frame?;
            match frame.into_data() {
                Ok(data) => {
                    if status.is_some() {
                        return Err(Status::internal("data came after the answer's status"));
                    }
                    if !data.is_empty() {
                        self.chunks.push(data);
                        return Ok(true);
                    }
                }
                Err(frame) => {
                    if let Ok(trailers) = frame.into_trailers() {
                        status = Status::from_header_map(&trailers);
                    }
                }
            }
        }
        match status {
            Some(status) if status.code() == Code::Ok => Ok(false),
            Some(status) => Err(status),
            None if self.ok_in_headers => Ok(false),
            None => Err(Status::internal("the answer ended without a status")),
        }
    }

    /// Holds at least `n` bytes, or fails: the answer ended short.
    async fn need(&mut self, n: usize) -> Result<(), Status> {
        while self.chunks.buffered() < n {
            if !self.fill().await? {
                return Err(Status::internal("the answer ends in the middle of a message"));
            }
        }
        Ok(())
    }

    /// The length of the next message, or `None` once the answer has ended
    /// with status OK. What is left of the current one is skipped.
    pub async fn next_message(&mut self) -> Result<Option<usize>, Status> {
        self.skip_bytes(self.left).await?;
        if self.chunks.buffered() == 0 && !self.fill().await? {
            return Ok(None);
        }
        self.need(5).await?;
        let mut prefix = self.chunks.take(5);
        if prefix.get_u8() != 0 {
            return Err(Status::internal("a compressed message, which was not asked for"));
        }
        let length = prefix.get_u32() as usize;
        if length > MAX_MESSAGE {
            return Err(Status::internal(format!("a message of {length} bytes, too large")));
        }
        self.left = length;
        Ok(Some(length))
    }

    /// A varint of the current message.
    async fn varint(&mut self) -> Result<u64, Status> {
        loop {
            if let Some((value, length)) = self.chunks.varint().map_err(Status::internal)? {
                self.left = self
                    .left
                    .checked_sub(length)
                    .ok_or_else(|| Status::internal("a field runs past its message"))?;
                return Ok(value);
            }
            if self.chunks.buffered() >= self.left.min(10) {
                return Err(Status::internal("a varint runs past its message"));
            }
            if !self.fill().await? {
                return Err(Status::internal("the answer ends in the middle of a message"));
            }
        }
    }

    /// The next field of the current message (number, wire type), or
    /// `None` at its end.
    pub async fn field(&mut self) -> Result<Option<(u32, WireType)>, Status> {
        if self.left == 0 {
            return Ok(None);
        }
        let key = self.varint().await?;
        let wire_type = WireType::try_from(key & 7).map_err(|e| Status::internal(e.to_string()))?;
        let number = u32::try_from(key >> 3)
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| Status::internal("a field numbered out of range"))?;
        Ok(Some((number, wire_type)))
    }

    /// The length of the length-delimited field just begun.
    pub async fn length(&mut self) -> Result<usize, Status> {
        let length = usize::try_from(self.varint().await?).unwrap_or(usize::MAX);
        if length > self.left {
            return Err(Status::internal("a field runs past its message"));
        }
        Ok(length)
    }

    /// The next `n` bytes of the message, in one piece (see
    /// [`Chunks::take`]).
    pub async fn bytes(&mut self, n: usize) -> Result<Bytes, Status> {
        assert!(n <= self.left, "within the message");
        self.need(n).await?;
        self.left -= n;
        Ok(self.chunks.take(n))
    }

    /// Up to `n` of the next bytes of the message, at least one (see
    /// [`Chunks::piece`]).
    pub async fn piece(&mut self, n: usize) -> Result<Bytes, Status> {
        assert!(n <= self.left, "within the message");
        self.need(n.min(1)).await?;
        let piece = self.chunks.piece(n);
        self.left -= piece.len();
        Ok(piece)
    }

    async fn skip_bytes(&mut self, mut n: usize) -> Result<(), Status> {
        while n > 0 {
            n -= self.piece(n).await?.len();
        }
        Ok(())
    }

    /// Skips the value of a field of `wire_type` just begun.
    pub async fn skip(&mut self, wire_type: WireType) -> Result<(), Status> {
        match wire_type {
            WireType::Varint => self.varint().await.map(drop),
            WireType::SixtyFourBit => self.skip_bytes(self.left.min(8)).await,
            WireType::ThirtyTwoBit => self.skip_bytes(self.left.min(4)).await,
            WireType::LengthDelimited => {
                let length = self.length().await?;
                self.skip_bytes(length).await
            }
            WireType::StartGroup | WireType::EndGroup => Err(Status::internal("a group, which REAPI never sends")),
        }
    }
}

/// The gRPC code of an HTTP status other than 200, as gRPC maps them.
fn http_status(status: http::StatusCode) -> Status {
    let code = match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    };
    Status::new(code, format!("HTTP status {status}"))
}

/// What is wrong with a message.
pub type Malformed = String;

fn wire<T>(result: Result<T, prost::DecodeError>) -> Result<T, Malformed> {
    result.map_err(|e| e.to_string())
}

fn field_bytes(buf: &mut Bytes) -> Result<Bytes, Malformed> {
    let len = wire(decode_varint(buf))? as usize;
    if len > buf.remaining() {
        return Err("a field runs past the message".into());
    }
    Ok(buf.split_to(len))
}

fn string(bytes: Bytes) -> Result<String, Malformed> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "a string is not UTF-8".to_string())
}

/// Decodes one entry of a `BatchReadBlobsResponse` (its field 1):
/// `digest` (1), `data` (2) and `status` (3); other fields are skipped as
/// protobuf says. The data is a slice of `entry`.
pub fn decode_entry(mut entry: Bytes) -> Result<Answer, Malformed> {
    let ctx = DecodeContext::default();
    let mut answer = Answer::default();
    while entry.has_remaining() {
        let (tag, wire_type) = wire(decode_key(&mut entry))?;
        match (tag, wire_type) {
            (1, WireType::LengthDelimited) => {
                let digest = wire(re::Digest::decode(field_bytes(&mut entry)?))?;
                answer.digest = Some((digest.hash, digest.size_bytes));
            }
            (2, WireType::LengthDelimited) => answer.data = field_bytes(&mut entry)?,
            (3, WireType::LengthDelimited) => {
                let mut status = field_bytes(&mut entry)?;
                while status.has_remaining() {
                    let (tag, wire_type) = wire(decode_key(&mut status))?;
                    match (tag, wire_type) {
                        (1, WireType::Varint) => answer.status.0 = wire(decode_varint(&mut status))? as i32,
                        (2, WireType::LengthDelimited) => answer.status.1 = string(field_bytes(&mut status)?)?,
                        _ => wire(skip_field(wire_type, tag, &mut status, ctx.clone()))?,
                    }
                }
            }
            _ => wire(skip_field(wire_type, tag, &mut entry, ctx.clone()))?,
        }
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(hash: &str, data: &[u8], code: i32, message: &str) -> re::batch_read_blobs_response::Response {
        re::batch_read_blobs_response::Response {
            digest: Some(re::Digest {
                hash: hash.into(),
                size_bytes: data.len() as i64,
            }),
            data: data.to_vec(),
            status: Some(bazel_remote_apis::google::rpc::Status {
                code,
                message: message.into(),
                details: Vec::new(),
            }),
            compressor: 0,
        }
    }

    #[test]
    fn decodes_an_entry_as_prost_encodes_it_and_slices_the_data() {
        let bytes = Bytes::from(entry(&"ab".repeat(32), b"hello", 0, "").encode_to_vec());
        let start = bytes.as_ptr() as usize;
        let answer = decode_entry(bytes.clone()).unwrap();
        assert_eq!(answer.digest, Some(("ab".repeat(32), 5)));
        assert_eq!(&answer.data[..], b"hello");
        let at = answer.data.as_ptr() as usize;
        assert!(at > start && at < start + bytes.len(), "a slice, not a copy");
        let missing = decode_entry(Bytes::from(
            entry(&"cd".repeat(32), b"", 5, "not found").encode_to_vec(),
        ))
        .unwrap();
        assert_eq!(missing.status, (5, "not found".to_string()));
        assert!(
            decode_entry(Bytes::from_static(&[0x12, 0x05, 0x61])).is_err(),
            "truncated"
        );
    }

    #[test]
    fn takes_within_a_frame_without_copying_and_joins_across_frames() {
        let first = Bytes::from_static(b"abcdef");
        let mut chunks = Chunks::default();
        chunks.push(first.clone());
        chunks.push(Bytes::new());
        chunks.push(Bytes::from_static(b"ghij"));
        assert_eq!(chunks.buffered(), 10);
        let taken = chunks.take(4);
        assert_eq!(&taken[..], b"abcd");
        assert_eq!(taken.as_ptr(), first.as_ptr(), "a slice, not a copy");
        assert_eq!(&chunks.take(4)[..], b"efgh", "joined across two frames");
        assert_eq!(&chunks.piece(10)[..], b"ij");
        assert_eq!(chunks.buffered(), 0);
        assert!(chunks.piece(3).is_empty());
    }

    #[test]
    fn reads_a_varint_split_between_frames_only_once_it_is_whole() {
        // 300 is 0xac 0x02.
        let mut chunks = Chunks::default();
        chunks.push(Bytes::from_static(&[0xac]));
        assert_eq!(chunks.varint().unwrap(), None, "not whole yet");
        assert_eq!(chunks.buffered(), 1, "nothing consumed");
        chunks.push(Bytes::from_static(&[0x02, 0x07]));
        assert_eq!(chunks.varint().unwrap(), Some((300, 2)));
        assert_eq!(chunks.varint().unwrap(), Some((7, 1)));
        let mut endless = Chunks::default();
        endless.push(Bytes::from_static(&[0xff; 11]));
        assert!(endless.varint().is_err());
    }
}
