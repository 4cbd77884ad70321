//! A tiny RFC 4180 CSV reader: comma-separated fields, fields in double quotes may hold commas,
//! line breaks and doubled quotes (`""` → `"`), records end at LF or CRLF. A quote inside an
//! unquoted field is kept literally (as most spreadsheets write it). A quoted field that is never
//! closed, or whose closing quote is followed by anything but a comma or a line break (a stray
//! quote that swallowed the lines after it), is an error naming the line where the quote opened.
//!
//! ```
//! # use anytune_core::data::csv::parse_csv;
//! let rows = parse_csv("text\n\"a, \"\"b\"\"\nc\"\n", "d.csv")?;
//! assert_eq!(rows[1], (2, vec!["a, \"b\"\nc".to_string()]));
//! # Ok::<(), anytune_core::Error>(())
//! ```

use crate::error::{Error, Result};

/// Records as (1-based line where the record starts, fields). Empty lines are skipped.
pub fn parse_csv(text: &str, file: &str) -> Result<Vec<(usize, Vec<String>)>> {
    let mut rows = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1; // current physical line
    let mut start_line = 1; // line where the current record started
    let mut in_quotes = false;
    let mut quoted_field = false; // the current field opened with a quote
    let mut quote_line = 1; // line where the last quoted field opened
    let mut just_closed = false; // the previous character closed a quoted field
    let mut chars = text.chars().peekable();
    let mut record_empty = true;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    in_quotes = false;
                    just_closed = true;
                }
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        if std::mem::take(&mut just_closed) && !matches!(c, ',' | '\n' | '\r') {
            return Err(Error::format(
                format!("{file}:{quote_line}"),
                format!(
                    "the quoted field opened here closes on line {line} and is followed by {c:?}, not by a comma or \
                     a line break (a quote inside a quoted field is written \"\")"
                ),
            ));
        }
        match c {
            '"' if field.is_empty() && !quoted_field => {
                in_quotes = true;
                quoted_field = true;
                quote_line = line;
                record_empty = false;
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                quoted_field = false;
                record_empty = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                if !record_empty || !field.is_empty() {
                    fields.push(std::mem::take(&mut field));
                    rows.push((start_line, std::mem::take(&mut fields)));
                }
                quoted_field = false;
                record_empty = true;
                line += 1;
                start_line = line;
            }
            _ => {
                field.push(c);
                record_empty = false;
            }
        }
    }
    if in_quotes {
        return Err(Error::format(
            format!("{file}:{quote_line}"),
            "the quoted field opened here is never closed (missing '\"'); a quote inside a quoted field is written \"\"",
        ));
    }
    if !record_empty || !field.is_empty() {
        fields.push(field);
        rows.push((start_line, fields));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_crlf_and_lines() {
        let rows =
            parse_csv("prompt,completion\r\n\"a,b\",\"x\"\"y\"\r\n\r\n\"multi\nline\",z\nlast,1", "t.csv").unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1], (2, vec!["a,b".into(), "x\"y".into()]));
        assert_eq!(rows[2], (4, vec!["multi\nline".into(), "z".into()]));
        assert_eq!(rows[3], (6, vec!["last".into(), "1".into()]));
        assert_eq!(parse_csv("a,,\n", "t.csv").unwrap()[0].1, vec!["a", "", ""]);
    }

    #[test]
    fn unterminated_quote_names_the_line() {
        let e = parse_csv("text\nok\n\"never\nclosed\n", "t.csv").unwrap_err().to_string();
        assert!(e.starts_with("t.csv:3:") && e.contains("never closed"), "{e}");
        // The quote opens in the second field of a record that starts on line 2.
        let e = parse_csv("a,b\n\"x\ny\",\"open\nz\n", "t.csv").unwrap_err().to_string();
        assert!(e.starts_with("t.csv:3:"), "{e}");
    }

    #[test]
    fn stray_quote_that_swallows_lines_names_the_line_it_opened() {
        // Line 2's field opens a quote meant literally; it closes at the quote on line 4.
        let e = parse_csv("prompt,completion\n\"5 ft, 2\" tall,x\nnext,row\n\"a\",b\n", "t.csv").unwrap_err();
        let e = e.to_string();
        assert!(e.starts_with("t.csv:2:") && e.contains("closes on line 2"), "{e}");
        let e = parse_csv("text\n\"it's\nok\nnot\"ok\n", "t.csv").unwrap_err().to_string();
        assert!(e.starts_with("t.csv:2:") && e.contains("closes on line 4") && e.contains("'o'"), "{e}");
    }
}
