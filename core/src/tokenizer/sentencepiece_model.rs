//! SentencePiece's `tokenizer.model` (a `ModelProto` in protobuf wire format), read and written
//! without a protobuf library. Only what a vocabulary needs is read: field 1, the repeated
//! `SentencePiece { 1: piece (string), 2: score (float), 3: type (enum) }`; every other field
//! (trainer and normalizer specs, self-test data) is skipped. [`write()`] adds the trainer and
//! normalizer specs of a model family ([`SpmSpec`]) so `sentencepiece` and transformers' slow
//! tokenizers load the file.
//!
//! Reading is bounds-checked: truncated or garbage input is an error naming the file and the
//! byte offset, never a panic.
//!
//! ```
//! use anytune_core::tokenizer::sentencepiece_model::{Piece, PieceType, SpmSpec, parse, write};
//! let pieces = vec![Piece { piece: "<unk>".into(), score: 0.0, ty: PieceType::Unknown }, Piece { piece: "▁a".into(), score: -1.0, ty: PieceType::Normal }];
//! let bytes = write(&pieces, &SpmSpec::llama(true, None, None, None));
//! assert_eq!(parse(&bytes, "tokenizer.model").unwrap(), pieces);
//! ```

use crate::error::{Error, Result};

/// `SentencePiece.Type`, numbered as in `sentencepiece_model.proto` (llama.cpp's token types
/// use the same numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceType {
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

impl PieceType {
    /// The type numbered `n`, if there is one.
    pub fn from_number(n: u64) -> Option<PieceType> {
        use PieceType::*;
        [Normal, Unknown, Control, UserDefined, Unused, Byte].into_iter().find(|t| *t as u64 == n)
    }
}

/// One vocabulary entry of a `ModelProto`.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    pub piece: String,
    pub score: f32,
    pub ty: PieceType,
}

/// Wire types of the protobuf encoding.
const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

/// The pieces of the `tokenizer.model` bytes `bytes` (`file` names it in errors), in id order.
pub fn parse(bytes: &[u8], file: &str) -> Result<Vec<Piece>> {
    let mut r = Reader { bytes, at: 0, base: 0, file };
    let mut pieces = Vec::new();
    while !r.done() {
        let (field, wire) = r.tag()?;
        match (field, wire) {
            (1, LEN) => {
                let (start, body) = r.len_delimited()?;
                pieces.push(parse_piece(body, start, file, pieces.len())?);
            }
            _ => r.skip(wire)?,
        }
    }
    if pieces.is_empty() {
        return Err(Error::format(file, "no SentencePiece pieces (field 1 of ModelProto): not a SentencePiece tokenizer.model"));
    }
    Ok(pieces)
}

/// Piece number `index`, whose message `body` starts at byte `base` of the file.
fn parse_piece(body: &[u8], base: usize, file: &str, index: usize) -> Result<Piece> {
    let mut r = Reader { bytes: body, at: 0, base, file };
    let (mut piece, mut score, mut ty) = (None, 0.0, PieceType::Normal);
    while !r.done() {
        let at = r.offset();
        match r.tag()? {
            (1, LEN) => {
                let (_, text) = r.len_delimited()?;
                let text = std::str::from_utf8(text).map_err(|_| r.error(at, format!("piece {index}'s text is not UTF-8")))?;
                piece = Some(text.to_string());
            }
            (2, FIXED32) => score = f32::from_le_bytes(r.fixed::<4>()?),
            (3, VARINT) => {
                let n = r.varint()?;
                ty = PieceType::from_number(n).ok_or_else(|| r.error(at, format!("piece {index} has type {n} (known: 1 to 6)")))?;
            }
            (_, wire) => r.skip(wire)?,
        }
    }
    let piece = piece.ok_or_else(|| r.error(base, format!("piece {index} has no text (field 1)")))?;
    Ok(Piece { piece, score, ty })
}

/// A cursor over protobuf bytes; `base` is where `bytes` starts in the file, for errors.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    base: usize,
    file: &'a str,
}

impl<'a> Reader<'a> {
    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn offset(&self) -> usize {
        self.base + self.at
    }

    fn error(&self, offset: usize, what: String) -> Error {
        Error::format(self.file, format!("byte {offset}: {what} (not a valid SentencePiece model)"))
    }

    fn varint(&mut self) -> Result<u64> {
        let start = self.offset();
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err(self.error(start, "the file ends inside a varint".into()));
            };
            self.at += 1;
            if shift == 63 && b > 1 {
                return Err(self.error(start, "a varint longer than 64 bits".into()));
            }
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(self.error(start, "a varint longer than 10 bytes".into()))
    }

    /// A field's number and wire type.
    fn tag(&mut self) -> Result<(u64, u64)> {
        let at = self.offset();
        let tag = self.varint()?;
        if tag >> 3 == 0 {
            return Err(self.error(at, "field number 0".into()));
        }
        Ok((tag >> 3, tag & 7))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let start = self.offset();
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| self.error(start, format!("a field of {n} bytes runs past the end ({} left)", self.bytes.len() - self.at)))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A length-delimited field's bytes and the file offset where they start.
    fn len_delimited(&mut self) -> Result<(usize, &'a [u8])> {
        let n = self.varint()?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let start = self.offset();
        Ok((start, self.take(n)?))
    }

    fn skip(&mut self, wire: u64) -> Result<()> {
        let at = self.offset();
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.len_delimited().map(drop),
            FIXED32 => self.take(4).map(drop),
            other => Err(self.error(at, format!("wire type {other} (groups are not used by SentencePiece)"))),
        }
    }
}

/// The trainer and normalizer settings a written `tokenizer.model` declares: those of the model
/// family whose vocabulary it holds. Both families are BPE with byte fallback (where the pieces
/// have bytes), digits split,
/// whitespace-only pieces allowed, identity normalization (no NFKC) and spaces escaped as `▁`.
#[derive(Clone, Debug, PartialEq)]
pub struct SpmSpec {
    /// `normalizer_spec.add_dummy_prefix`: a `▁` before the text (Llama 2: yes; Gemma: no).
    pub add_dummy_prefix: bool,
    /// `trainer_spec.split_by_whitespace` (Llama 2: true; Gemma: false, it has pieces spanning words).
    pub split_by_whitespace: bool,
    /// Special pieces, as `trainer_spec.{bos,eos,pad}_{id,piece}` (`None`: id -1); `unk_id` is
    /// the piece of type [`PieceType::Unknown`].
    pub bos: Option<(u32, String)>,
    pub eos: Option<(u32, String)>,
    pub pad: Option<(u32, String)>,
}

impl SpmSpec {
    /// Llama 2 / TinyLlama / Mistral's `tokenizer.model` settings (`unk` as its pieces say).
    pub fn llama(add_dummy_prefix: bool, bos: Option<(u32, String)>, eos: Option<(u32, String)>, pad: Option<(u32, String)>) -> SpmSpec {
        SpmSpec { add_dummy_prefix, split_by_whitespace: true, bos, eos, pad }
    }

    /// Gemma 1–3's `tokenizer.model` settings: no dummy prefix, no split at whitespace.
    pub fn gemma(bos: Option<(u32, String)>, eos: Option<(u32, String)>, pad: Option<(u32, String)>) -> SpmSpec {
        SpmSpec { add_dummy_prefix: false, split_by_whitespace: false, bos, eos, pad }
    }
}

/// `pieces` as a `tokenizer.model` declaring `spec`.
pub fn write(pieces: &[Piece], spec: &SpmSpec) -> Vec<u8> {
    let mut out = Vec::new();
    for p in pieces {
        let mut m = Vec::new();
        put_bytes(&mut m, 1, p.piece.as_bytes());
        put_tag(&mut m, 2, FIXED32);
        m.extend_from_slice(&p.score.to_le_bytes());
        put_int(&mut m, 3, p.ty as i64);
        put_bytes(&mut out, 1, &m);
    }
    let unk = pieces.iter().position(|p| p.ty == PieceType::Unknown).map(|i| (i as u32, pieces[i].piece.clone()));
    let mut t = Vec::new();
    put_int(&mut t, 3, 2); // model_type: BPE
    put_int(&mut t, 4, pieces.len() as i64); // vocab_size
    put_int(&mut t, 21, 1); // split_by_unicode_script
    put_int(&mut t, 22, i64::from(spec.split_by_whitespace));
    put_int(&mut t, 23, 1); // split_by_number
    put_int(&mut t, 24, 0); // treat_whitespace_as_suffix
    put_int(&mut t, 25, 1); // split_digits
    put_int(&mut t, 26, 1); // allow_whitespace_only_pieces
    put_int(&mut t, 35, i64::from(pieces.iter().any(|p| p.ty == PieceType::Byte))); // byte_fallback
    for (id_field, piece_field, special) in [(40, 45, &unk), (41, 46, &spec.bos), (42, 47, &spec.eos), (43, 48, &spec.pad)] {
        match special {
            Some((id, piece)) => {
                put_int(&mut t, id_field, i64::from(*id));
                put_bytes(&mut t, piece_field, piece.as_bytes());
            }
            None => put_int(&mut t, id_field, -1),
        }
    }
    put_bytes(&mut out, 2, &t);
    let mut n = Vec::new();
    put_bytes(&mut n, 1, b"identity");
    put_bytes(&mut n, 2, b""); // precompiled_charsmap: none
    put_int(&mut n, 3, i64::from(spec.add_dummy_prefix));
    put_int(&mut n, 4, 0); // remove_extra_whitespaces
    put_int(&mut n, 5, 1); // escape_whitespaces
    put_bytes(&mut out, 3, &n);
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_tag(out: &mut Vec<u8>, field: u64, wire: u64) {
    put_varint(out, field << 3 | wire);
}

/// An int32/enum/bool field (negative values as protobuf writes them: ten bytes).
fn put_int(out: &mut Vec<u8>, field: u64, v: i64) {
    put_tag(out, field, VARINT);
    put_varint(out, v as u64);
}

fn put_bytes(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_tag(out, field, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}
