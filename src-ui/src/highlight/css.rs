//! CSS: selectors, at-rules, properties and their values, told apart by what ends each statement.

use super::{Tok, Writer, char_len, find_end};

fn is_css_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b >= 0x80
}

/// The first of `{`, `;` or `}` at or after `from` (0 if none): whether a CSS statement is a
/// rule's selector or a declaration.
fn css_statement_end(bytes: &[u8], from: usize) -> u8 {
    bytes[from.min(bytes.len())..]
        .iter()
        .copied()
        .find(|b| matches!(b, b'{' | b';' | b'}'))
        .unwrap_or(0)
}

pub(super) fn css(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let ident_end = |mut i: usize| {
        while i < n && is_css_ident_byte(bytes[i]) {
            i += 1;
        }
        i
    };
    let ident_start = |i: usize| {
        let b = at(i);
        b.is_ascii_alphabetic()
            || b == b'_'
            || b >= 0x80
            || (b == b'-' && (at(i + 1).is_ascii_alphabetic() || matches!(at(i + 1), b'-' | b'_')))
    };
    let mut w = Writer::new(text, out);
    let mut depth = 0usize;
    // Each statement (up to `{`, `;` or `}`) is scanned once ahead to know what it is.
    let mut statement_start = true;
    let mut selector = true;
    let mut in_value = false;
    let mut i = 0;
    while i < n {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && at(i + 1) == b'*' {
            let end = find_end(text, i + 2, "*/");
            w.token(Tok::Com, i, end);
            i = end;
            continue;
        }
        if statement_start {
            statement_start = false;
            in_value = false;
            selector = match css_statement_end(bytes, i) {
                b'{' => true,
                0 => depth == 0,
                _ => false,
            };
        }
        let next = match c {
            b'"' | b'\'' => {
                let mut j = i + 1;
                while j < n && bytes[j] != c && bytes[j] != b'\n' {
                    j += if bytes[j] == b'\\' {
                        1 + char_len(at(j + 1))
                    } else {
                        1
                    };
                }
                let end = if j < n && bytes[j] == c {
                    j + 1
                } else {
                    j.min(n)
                };
                w.token(Tok::Str, i, end);
                end
            }
            b'{' => {
                depth += 1;
                statement_start = true;
                i + 1
            }
            b'}' => {
                depth = depth.saturating_sub(1);
                statement_start = true;
                i + 1
            }
            b';' => {
                statement_start = true;
                i + 1
            }
            b'@' if ident_start(i + 1) => {
                let end = ident_end(i + 1);
                w.token(Tok::Kw, i, end);
                end
            }
            b'!' if bytes.len() >= i + 10
                && bytes[i + 1..i + 10].eq_ignore_ascii_case(b"important") =>
            {
                w.token(Tok::Kw, i, i + 10);
                i + 10
            }
            b'#' if !selector => {
                let end = ident_end(i + 1);
                w.token(Tok::Num, i, end);
                end
            }
            b'#' | b'.' if selector && ident_start(i + 1) => {
                let end = ident_end(i + 1);
                w.token(Tok::Type, i, end);
                end
            }
            b':' if !selector => {
                in_value = true;
                i + 1
            }
            b':' if ident_start(i + 1) || at(i + 1) == b':' => {
                let start = if at(i + 1) == b':' { i + 2 } else { i + 1 };
                let end = ident_end(start);
                w.token(Tok::Type, i, end);
                end
            }
            _ if c.is_ascii_digit() || (c == b'.' && at(i + 1).is_ascii_digit()) => {
                let mut j = i;
                while j < n && (bytes[j].is_ascii_digit() || bytes[j] == b'.') {
                    j += 1;
                }
                while j < n && (bytes[j].is_ascii_alphabetic() || bytes[j] == b'%') {
                    j += 1;
                }
                w.token(Tok::Num, i, j);
                j
            }
            _ if ident_start(i) => {
                let end = ident_end(i);
                let tok = if at(end) == b'(' {
                    Tok::Fn
                } else if selector {
                    Tok::Kw
                } else if in_value {
                    Tok::Lit
                } else {
                    Tok::Fn
                };
                w.token(tok, i, end);
                end
            }
            _ => i + char_len(c),
        };
        i = next.max(i + 1).min(n);
        // Never stop inside a character.
        while i < n && !text.is_char_boundary(i) {
            i += 1;
        }
    }
    w.finish();
}
