//! `BatchReadBlobs` with its answer decoded in place: each blob's data is
//! a slice of the received message, not a copy of it. A pull receives
//! hundreds of megabytes this way; the generated client would copy every
//! blob into a new allocation (and the allocator would fault in fresh
//! pages for each) before it is hashed and written.

use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bytes::{Buf, Bytes};
use prost::Message as _;
use prost::encoding::{DecodeContext, WireType, decode_key, decode_varint, skip_field};
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// The method's path.
pub const PATH: &str = "/build.bazel.remote.execution.v2.ContentAddressableStorage/BatchReadBlobs";

/// One blob of the answer.
#[derive(Debug, Default)]
pub struct Answer {
    /// The digest the server names (hash, size).
    pub digest: Option<(String, i64)>,
    /// The blob, a slice of the received message.
    pub data: Bytes,
    /// The status code (0: found) and its message.
    pub status: (i32, String),
}

/// The codec: the request encoded by prost, the answer by [`decode`].
#[derive(Default)]
pub struct BatchReadCodec;

impl Codec for BatchReadCodec {
    type Encode = re::BatchReadBlobsRequest;
    type Decode = Vec<Answer>;
    type Encoder = RequestEncoder;
    type Decoder = AnswerDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RequestEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        AnswerDecoder
    }
}

/// Encodes the request as the generated client would.
pub struct RequestEncoder;

impl Encoder for RequestEncoder {
    type Item = re::BatchReadBlobsRequest;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst).map_err(|e| Status::internal(e.to_string()))
    }
}

/// Decodes the answer with [`decode`].
pub struct AnswerDecoder;

impl Decoder for AnswerDecoder {
    type Item = Vec<Answer>;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        // The whole message, taken out of the receive buffer (no copy).
        let message = src.copy_to_bytes(src.remaining());
        decode(message)
            .map(Some)
            .map_err(|e| Status::internal(format!("BatchReadBlobs answer: {e}")))
    }
}

/// What is wrong with a message.
type Malformed = String;

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

/// Decodes a `BatchReadBlobsResponse`: `responses` (field 1), each with
/// `digest` (1), `data` (2) and `status` (3); other fields are skipped as
/// protobuf says.
pub fn decode(mut message: Bytes) -> Result<Vec<Answer>, Malformed> {
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
        let answers = decode(bytes.clone()).unwrap();
        assert_eq!(answers.len(), 2);
        assert_eq!(answers[0].digest, Some(("ab".repeat(32), 5)));
        assert_eq!(&answers[0].data[..], b"hello");
        let at = answers[0].data.as_ptr() as usize;
        assert!(at > start && at < start + bytes.len(), "a slice, not a copy");
        assert_eq!(answers[1].status, (5, "not found".to_string()));
        assert!(decode(Bytes::from_static(&[0x0a, 0x05, 0x12])).is_err(), "truncated");
    }
}
