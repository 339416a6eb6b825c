//! Answers decoded in place: the blobs of a `BatchReadBlobs` answer and
//! the chunks of a `ByteStream.Read` are slices of the received message,
//! not copies of it. A pull receives hundreds of megabytes this way; the
//! generated clients would copy every blob into a new allocation (and the
//! allocator would fault in fresh pages for each) before it is hashed and
//! written.

use std::marker::PhantomData;

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::bytestream as bs;
use bytes::{Buf, Bytes};
use prost::Message as _;
use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// The path of `BatchReadBlobs`.
pub const BATCH_READ_PATH: &str = "/build.bazel.remote.execution.v2.ContentAddressableStorage/BatchReadBlobs";
/// The path of `ByteStream.Read`.
pub const READ_PATH: &str = "/google.bytestream.ByteStream/Read";

/// One blob of a `BatchReadBlobs` answer.
#[derive(Debug, Default)]
pub struct Answer {
    /// The digest the server names (hash, size).
    pub digest: Option<(String, i64)>,
    /// The blob, a slice of the received message.
    pub data: Bytes,
    /// The status code (0: found) and its message.
    pub status: (i32, String),
}

/// A codec whose requests `Q` are encoded by prost and whose answers are
/// decoded in place by `D`.
pub struct InPlaceCodec<Q, D>(PhantomData<(Q, D)>);

impl<Q, D> Default for InPlaceCodec<Q, D> {
    fn default() -> Self {
        InPlaceCodec(PhantomData)
    }
}

/// How an answer is decoded from the whole message.
pub trait DecodeInPlace: Send + 'static {
    /// The decoded answer.
    type Item: Send + 'static;
    /// Its name, for errors.
    const WHAT: &'static str;
    /// Decodes `message`, slicing it.
    fn decode(message: Bytes) -> Result<Self::Item, Malformed>;
}

/// `BatchReadBlobs` answers, by [`decode_batch`].
pub struct BatchRead;

impl DecodeInPlace for BatchRead {
    type Item = Vec<Answer>;
    const WHAT: &'static str = "BatchReadBlobs answer";
    fn decode(message: Bytes) -> Result<Self::Item, Malformed> {
        decode_batch(message)
    }
}

/// `ByteStream.Read` answers (the chunk's data), by [`decode_read`].
pub struct Read;

impl DecodeInPlace for Read {
    type Item = Bytes;
    const WHAT: &'static str = "ByteStream.Read answer";
    fn decode(message: Bytes) -> Result<Self::Item, Malformed> {
        decode_read(message)
    }
}

/// The codec of `BatchReadBlobs`.
pub type BatchReadCodec = InPlaceCodec<re::BatchReadBlobsRequest, BatchRead>;
/// The codec of `ByteStream.Read`.
pub type ReadCodec = InPlaceCodec<bs::ReadRequest, Read>;

impl<Q, D> Codec for InPlaceCodec<Q, D>
where
    Q: prost::Message + Send + 'static,
    D: DecodeInPlace,
{
    type Encode = Q;
    type Decode = D::Item;
    type Encoder = ProstEncoder<Q>;
    type Decoder = InPlaceDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        InPlaceDecoder(PhantomData)
    }
}

/// Encodes a request as the generated client would.
pub struct ProstEncoder<Q>(PhantomData<Q>);

impl<Q: prost::Message + Send + 'static> Encoder for ProstEncoder<Q> {
    type Item = Q;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst).map_err(|e| Status::internal(e.to_string()))
    }
}

/// Decodes an answer with `D`.
pub struct InPlaceDecoder<D>(PhantomData<D>);

impl<D: DecodeInPlace> Decoder for InPlaceDecoder<D> {
    type Item = D::Item;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        // The whole message, taken out of the receive buffer (no copy).
        let message = src.copy_to_bytes(src.remaining());
        D::decode(message)
            .map(Some)
            .map_err(|e| Status::internal(format!("{}: {e}", D::WHAT)))
    }
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

/// Decodes a `ByteStream.ReadResponse`: `data` (field 10), the last one
/// if it is repeated, as protobuf says; other fields are skipped.
pub fn decode_read(mut message: Bytes) -> Result<Bytes, Malformed> {
    let ctx = DecodeContext::default();
    let mut data = Bytes::new();
    while message.has_remaining() {
        let (tag, wire_type) = wire(decode_key(&mut message))?;
        match (tag, wire_type) {
            (10, WireType::LengthDelimited) => data = field_bytes(&mut message)?,
            _ => wire(skip_field(wire_type, tag, &mut message, ctx.clone()))?,
        }
    }
    Ok(data)
}

/// Decodes a `BatchReadBlobsResponse`: `responses` (field 1), each with
/// `digest` (1), `data` (2) and `status` (3); other fields are skipped as
/// protobuf says.
pub fn decode_batch(mut message: Bytes) -> Result<Vec<Answer>, Malformed> {
    let ctx = DecodeContext::default();
    let mut answers = Vec::new();
    while message.has_remaining() {
        let (tag, wire_type) = wire(decode_key(&mut message))?;
        if tag != 1 || wire_type != WireType::LengthDelimited {
            wire(skip_field(wire_type, tag, &mut message, ctx.clone()))?;
            continue;
        }
        let mut entry = field_bytes(&mut message)?;
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
        answers.push(answer);
    }
    Ok(answers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_prost_encodes_and_slices_the_data() {
        let response = re::BatchReadBlobsResponse {
            responses: vec![
                re::batch_read_blobs_response::Response {
                    digest: Some(re::Digest {
                        hash: "ab".repeat(32),
                        size_bytes: 5,
                    }),
                    data: b"hello".to_vec(),
                    status: Some(bazel_remote_apis::google::rpc::Status {
                        code: 0,
                        message: String::new(),
                        details: Vec::new(),
                    }),
                    compressor: 0,
                },
                re::batch_read_blobs_response::Response {
                    digest: Some(re::Digest {
                        hash: "cd".repeat(32),
                        size_bytes: 3,
                    }),
                    data: Vec::new(),
                    status: Some(bazel_remote_apis::google::rpc::Status {
                        code: 5,
                        message: "not found".into(),
                        details: Vec::new(),
                    }),
                    compressor: 0,
                },
            ],
        };
        let bytes = Bytes::from(response.encode_to_vec());
        let start = bytes.as_ptr() as usize;
        let answers = decode_batch(bytes.clone()).unwrap();
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0].digest, Some(("ab".repeat(32), 5)));
        assert_eq!(&answers[0].data[..], b"hello");
        let at = answers[0].data.as_ptr() as usize;
        assert!(at > start && at < start + bytes.len(), "a slice, not a copy");
        assert_eq!(answers[1].status, (5, "not found".to_string()));
        assert!(
            decode_batch(Bytes::from_static(&[0x0a, 0x05, 0x12])).is_err(),
            "truncated"
        );
    }

    #[test]
    fn decodes_read_chunks_in_place() {
        let chunk = bs::ReadResponse {
            data: b"a chunk of a blob".to_vec(),
        };
        let bytes = Bytes::from(chunk.encode_to_vec());
        let data = decode_read(bytes.clone()).unwrap();
        assert_eq!(&data[..], b"a chunk of a blob");
        let at = data.as_ptr() as usize;
        let start = bytes.as_ptr() as usize;
        assert!(at > start && at < start + bytes.len(), "a slice, not a copy");
        assert!(decode_read(Bytes::new()).unwrap().is_empty());
        assert!(
            decode_read(Bytes::from_static(&[0x52, 0x09, 0x61])).is_err(),
            "truncated"
        );
    }
}
