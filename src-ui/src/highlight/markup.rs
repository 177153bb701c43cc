//! HTML and XML: tags, attributes, comments, entities, and the code inside `<script>` and
//! `<style>` highlighted as JavaScript and CSS.

use super::{Tok, Writer, char_len, find_end, highlight, slice};

fn is_tag_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b':' | b'_' | b'.') || b >= 0x80
}

/// The position of `</name` (any case) at or after `from`, or the end.
fn find_closing_tag(bytes: &[u8], from: usize, name: &[u8]) -> usize {
    let need = name.len() + 2;
    let mut i = from;
    while i + need <= bytes.len() {
        if bytes[i] == b'<'
            && bytes[i + 1] == b'/'
            && bytes[i + 2..i + need].eq_ignore_ascii_case(name)
        {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

pub(super) fn markup(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut w = Writer::new(text, out);
    let mut i = 0;
    while i < n {
        let c = bytes[i];
        if c == b'<' && bytes[i..].starts_with(b"<!--") {
            let end = find_end(text, i + 4, "-->");
            w.token(Tok::Com, i, end);
            i = end;
        } else if c == b'<' && bytes[i..].starts_with(b"<![CDATA[") {
            let end = find_end(text, i + 9, "]]>");
            w.token(Tok::Str, i, end);
            i = end;
        } else if c == b'<' && at(i + 1) == b'!' {
            let end = find_end(text, i + 2, ">");
            w.token(Tok::Kw, i, end);
            i = end;
        } else if c == b'<'
            && (at(i + 1).is_ascii_alphabetic()
                || (matches!(at(i + 1), b'/' | b'?') && at(i + 2).is_ascii_alphabetic()))
        {
            let closing = at(i + 1) == b'/';
            let name_start = if matches!(at(i + 1), b'/' | b'?') {
                i + 2
            } else {
                i + 1
            };
            let mut name_end = name_start;
            while name_end < n && is_tag_name_byte(bytes[name_end]) {
                name_end += 1;
            }
            w.token(Tok::Kw, name_start, name_end);
            let (end, self_closing) = tag_attributes(text, name_end, &mut w);
            i = end;
            let name = &bytes[name_start..name_end];
            let embedded = if name.eq_ignore_ascii_case(b"script") {
                Some("javascript")
            } else if name.eq_ignore_ascii_case(b"style") {
                Some("css")
            } else {
                None
            };
            if let Some(lang) = embedded.filter(|_| !closing && !self_closing && i <= n) {
                let close = find_closing_tag(bytes, i, name);
                let inner = highlight(lang, slice(text, i, close));
                w.embed(i, &inner, close);
                i = close;
            }
        } else if c == b'&' {
            let mut j = i + 1;
            while j < n && j - i <= 32 && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'#') {
                j += 1;
            }
            if j > i + 1 && at(j) == b';' {
                w.token(Tok::Lit, i, j + 1);
                i = j + 1;
            } else {
                i += 1;
            }
        } else {
            i += char_len(c);
        }
        i = i.min(n);
    }
    w.finish();
}

/// The attributes of a tag whose name ends at `from`: where the tag ends, and whether it closed
/// with `/>`.
fn tag_attributes(text: &str, from: usize, w: &mut Writer<'_>) -> (usize, bool) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let mut i = from;
    while i < n {
        match bytes[i] {
            b'>' => return (i + 1, i > from && bytes[i - 1] == b'/'),
            b'<' => return (i, false),
            b'"' | b'\'' => {
                let quote = bytes[i];
                let end = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == quote)
                    .map_or(n, |p| i + 1 + p + 1);
                w.token(Tok::Str, i, end);
                i = end;
            }
            b'=' | b'/' | b'?' | b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            _ => {
                let start = i;
                while i < n
                    && !matches!(
                        bytes[i],
                        b' ' | b'\t' | b'\r' | b'\n' | b'>' | b'<' | b'/' | b'=' | b'"' | b'\''
                    )
                {
                    i += 1;
                }
                // An unquoted value follows `=`; anything else is a name.
                let value = start > from && bytes[start - 1] == b'=';
                w.token(if value { Tok::Str } else { Tok::Fn }, start, i);
            }
        }
    }
    (n, false)
}
