//! Request text as written into the log: a client's bytes must not start a new log line, move
//! the cursor, or pass for another request.

/// `s` with every byte that is a control character, a space, non-ASCII, or `%` written as
/// `%XX`: a decoded path `/a\nb c` is shown as `/a%0Ab%20c`, the same as its escaped form.
pub fn shown(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn nothing_shown_starts_a_line() {
        assert_eq!(shown("/web/app.js"), "/web/app.js");
        assert_eq!(shown("/a\nanytune serve: GET / 200"), "/a%0Aanytune%20serve:%20GET%20/%20200");
        assert_eq!(shown("/\r\t\x1b[2J\x7f"), "/%0D%09%1B[2J%7F");
        assert_eq!(shown("/é%41"), "/%C3%A9%2541");
    }
}
