//! `tokenizer.model` reading and writing (`sentencepiece_model`): a written model parses back to
//! its pieces; every truncation and random garbage is an error naming the file and a byte
//! offset, never a panic; fields the parser does not read are skipped.

use super::sentencepiece_model::{Piece, PieceType, SpmSpec, parse, write};
use crate::rng::Rng;

fn pieces() -> Vec<Piece> {
    let p = |piece: &str, score: f32, ty: PieceType| Piece { piece: piece.into(), score, ty };
    vec![
        p("<pad>", 0.0, PieceType::Control),
        p("<eos>", 0.0, PieceType::Control),
        p("<bos>", 0.0, PieceType::Control),
        p("<unk>", 0.0, PieceType::Unknown),
        p("\n", 0.0, PieceType::UserDefined),
        p("<0x00>", 0.0, PieceType::Byte),
        p("▁t", -0.5, PieceType::Normal),
        p("héllo", -1.25e3, PieceType::Normal),
        p("<unused0>", 0.0, PieceType::Unused),
    ]
}

fn gemma_model() -> Vec<u8> {
    write(&pieces(), &SpmSpec::gemma(Some((2, "<bos>".into())), Some((1, "<eos>".into())), Some((0, "<pad>".into()))))
}

#[test]
fn a_written_model_parses_back_to_its_pieces() {
    assert_eq!(parse(&gemma_model(), "tokenizer.model").unwrap(), pieces());
    let llama = write(&pieces(), &SpmSpec::llama(true, None, None, None));
    assert_eq!(parse(&llama, "tokenizer.model").unwrap(), pieces());
}

#[test]
fn every_truncation_is_an_error_naming_the_file_and_offset() {
    let bytes = gemma_model();
    // Cutting inside a field must fail; a cut between top-level fields parses to the pieces
    // before it (protobuf has no end marker).
    let mut whole = 0;
    for n in 0..bytes.len() {
        match parse(&bytes[..n], "cut.model") {
            Ok(got) => {
                assert!(pieces().starts_with(&got), "cut at {n}: {got:?}");
                whole += usize::from(got.len() == pieces().len());
            }
            Err(e) => {
                let e = e.to_string();
                assert!(e.contains("cut.model") && (e.contains("byte ") || e.contains("no SentencePiece pieces")), "cut at {n}: {e}");
            }
        }
    }
    assert_eq!(whole, 2, "only the cuts before the trainer and the normalizer spec keep every piece");
    let e = parse(&bytes[..5], "cut.model").unwrap_err().to_string();
    assert!(e.contains("byte 2") && e.contains("past the end"), "{e}");
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    let mut rng = Rng::new(5);
    for len in [1usize, 2, 7, 64, 1000] {
        for _ in 0..200 {
            let bytes: Vec<u8> = (0..len).map(|_| (rng.next_u64() & 0xff) as u8).collect();
            let _ = parse(&bytes, "garbage.model");
        }
    }
    let mut flipped = gemma_model();
    for i in 0..flipped.len() {
        let keep = flipped[i];
        flipped[i] ^= 0xa5;
        let _ = parse(&flipped, "flipped.model");
        flipped[i] = keep;
    }
    assert!(parse(b"", "empty.model").unwrap_err().to_string().contains("no SentencePiece pieces"));
    assert!(parse(b"{\"model\": 1}", "json.model").is_err());
}

#[test]
fn bad_fields_inside_a_piece_are_named() {
    // Piece { piece: [0xff] } — not UTF-8.
    let e = parse(&[0x0a, 0x03, 0x0a, 0x01, 0xff], "t.model").unwrap_err().to_string();
    assert!(e.contains("t.model") && e.contains("byte 2") && e.contains("not UTF-8"), "{e}");
    // Piece { piece: "a", type: 9 }.
    let e = parse(&[0x0a, 0x05, 0x0a, 0x01, b'a', 0x18, 0x09], "t.model").unwrap_err().to_string();
    assert!(e.contains("type 9"), "{e}");
    // Piece { score: 1.0 } without text.
    let e = parse(&[0x0a, 0x05, 0x15, 0, 0, 0x80, 0x3f], "t.model").unwrap_err().to_string();
    assert!(e.contains("no text"), "{e}");
    // A group (wire type 3) and a varint of 11 bytes.
    assert!(parse(&[0x0b], "t.model").unwrap_err().to_string().contains("wire type 3"));
    assert!(parse(&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], "t.model").is_err());
}

#[test]
fn unknown_fields_are_skipped() {
    // Top level: field 9 varint, field 10 fixed64, field 11 fixed32, then one piece with an
    // unknown field 7 inside.
    let mut bytes = vec![0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5d, 1, 2, 3, 4];
    bytes.extend([0x0a, 0x05, 0x0a, 0x01, b'x', 0x38, 0x01]);
    let got = parse(&bytes, "t.model").unwrap();
    assert_eq!(got, vec![Piece { piece: "x".into(), score: 0.0, ty: PieceType::Normal }]);
}
