//! The one lexer of programming languages and data formats: what it marks is read from the
//! language's [`Spec`].
//!
//! It never looks further back than one byte and never rescans what it has consumed (beyond a
//! bounded look-ahead), so the time is linear in the input. It works on bytes and only ever
//! splits the text at ASCII bytes, which keeps every split on a UTF-8 character boundary.

use super::spec::{Flavor, Quote, Spec, Words, q};
use super::{Tok, Writer, char_len, find_end, line_end, slice};

pub(super) fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

pub(super) struct CodeLexer<'a> {
    spec: &'static Spec,
    text: &'a str,
    bytes: &'a [u8],
    w: Writer<'a>,
    /// What the next identifier is, after `fn`, `class`…
    pending: Option<Tok>,
}

impl<'a> CodeLexer<'a> {
    pub(super) fn new(spec: &'static Spec, text: &'a str, out: &'a mut String) -> Self {
        CodeLexer {
            spec,
            text,
            bytes: text.as_bytes(),
            w: Writer::new(text, out),
            pending: None,
        }
    }

    fn at(&self, i: usize) -> u8 {
        self.bytes.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, i: usize, pat: &str) -> bool {
        self.bytes
            .get(i..)
            .is_some_and(|rest| rest.starts_with(pat.as_bytes()))
    }

    fn ident_start(&self, b: u8) -> bool {
        b.is_ascii_alphabetic()
            || b == b'_'
            || b >= 0x80
            || self.spec.ident_start_extra.contains(&b)
    }

    fn ident_continue(&self, b: u8) -> bool {
        is_word_byte(b) || self.spec.ident_extra.contains(&b)
    }

    /// The end of the identifier that starts at `i`.
    fn ident_end(&self, mut i: usize) -> usize {
        while i < self.bytes.len() && self.ident_continue(self.bytes[i]) {
            i += 1;
        }
        i
    }

    /// The first position at or after `i` that is not a space or tab.
    fn skip_blanks(&self, mut i: usize) -> usize {
        while matches!(self.at(i), b' ' | b'\t') {
            i += 1;
        }
        i
    }

    pub(super) fn run(mut self) {
        let n = self.bytes.len();
        let mut i = 0;
        // Only blanks since the last line break.
        let mut line_start = true;
        while i < n {
            let c = self.bytes[i];
            match c {
                b'\n' => {
                    line_start = true;
                    i += 1;
                    continue;
                }
                b' ' | b'\t' | b'\r' | b'\x0c' => {
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let at_line_start = line_start;
            line_start = false;
            let next = self.step(i, at_line_start);
            // Always move on, whatever the step found.
            i = next.max(i + char_len(c)).min(n);
            debug_assert!(self.text.is_char_boundary(i));
        }
        self.w.finish();
    }

    /// Lexes the token that starts at `i` (not a blank) and returns where the next one starts.
    fn step(&mut self, i: usize, at_line_start: bool) -> usize {
        let spec = self.spec;
        let c = self.bytes[i];

        if spec.flavor == Flavor::Shell && c == b'$' {
            return self.shell_variable(i);
        }
        if spec.preprocessor && at_line_start && c == b'#' {
            return self.directive(i);
        }
        if spec.section_headers && at_line_start && c == b'[' {
            let end = self.section_header(i);
            self.pending = None;
            return end;
        }
        if let Some(end) = self.comment(i) {
            self.w.token(Tok::Com, i, end);
            return end;
        }
        if spec.flavor == Flavor::Rust && c == b'\'' {
            return self.rust_quote(i, i);
        }
        if spec.flavor == Flavor::CSharp
            && (c == b'@' || c == b'$')
            && let Some(end) = self.csharp_string(i)
        {
            return end;
        }
        if let Some(quote) = spec.quotes.iter().find(|q| q.ch == c) {
            let after_word = i > 0 && is_word_byte(self.bytes[i - 1]);
            if !(spec.quote_after_word_is_text && after_word) {
                let end = self.string(i, quote);
                self.string_token(i, end);
                return end;
            }
        }
        if c.is_ascii_digit() || (c == b'.' && self.at(i + 1).is_ascii_digit()) {
            let after_word = i > 0 && self.ident_continue(self.bytes[i - 1]);
            if !after_word {
                let end = self.number(i);
                self.w.token(Tok::Num, i, end);
                self.pending = None;
                return end;
            }
        }
        if spec.decorators && c == b'@' && self.ident_start(self.at(i + 1)) {
            let end = self.ident_end(i + 1);
            self.w.token(Tok::Fn, i, end);
            return end;
        }
        if spec.yaml_marks {
            if (c == b'&' || c == b'*') && self.ident_start(self.at(i + 1)) {
                let end = self.ident_end(i + 1);
                self.w.token(Tok::Lit, i, end);
                return end;
            }
            if c == b'!' && (self.at(i + 1) == b'!' || self.ident_start(self.at(i + 1))) {
                let start = if self.at(i + 1) == b'!' { i + 2 } else { i + 1 };
                let end = self.ident_end(start);
                self.w.token(Tok::Type, i, end);
                return end;
            }
            if c == b'~' {
                self.w.token(Tok::Lit, i, i + 1);
                return i + 1;
            }
        }
        if self.ident_start(c) {
            return self.identifier(i);
        }
        // Punctuation and anything else: plain text.
        self.pending = None;
        i + char_len(c)
    }

    /// A comment starting at `i`: its end.
    fn comment(&self, i: usize) -> Option<usize> {
        let spec = self.spec;
        for open in spec.line_comments {
            if self.starts_with(i, open) {
                if *open == "#" && spec.hash_comment_at_word && i > 0 {
                    let prev = self.bytes[i - 1];
                    if !matches!(
                        prev,
                        b' ' | b'\t' | b'\n' | b'\r' | b';' | b'&' | b'|' | b'('
                    ) {
                        continue;
                    }
                }
                return Some(line_end(self.bytes, i));
            }
        }
        let (open, close) = spec.block_comment?;
        if !self.starts_with(i, open) {
            return None;
        }
        if !spec.nested_comments {
            return Some(find_end(self.text, i + open.len(), close));
        }
        let mut depth = 0usize;
        let mut j = i;
        while j < self.bytes.len() {
            if self.starts_with(j, open) {
                depth += 1;
                j += open.len();
            } else if self.starts_with(j, close) {
                depth -= 1;
                j += close.len();
                if depth == 0 {
                    return Some(j);
                }
            } else {
                j += 1;
            }
        }
        Some(self.bytes.len())
    }

    /// The end of a string whose opening quote is at `q`.
    fn string(&self, q: usize, quote: &Quote) -> usize {
        let n = self.bytes.len();
        let ch = quote.ch;
        if self.spec.triple_quotes.contains(&ch) && self.at(q + 1) == ch && self.at(q + 2) == ch {
            let mut j = q + 3;
            while j < n {
                let b = self.bytes[j];
                if b == b'\\' && quote.escapes {
                    j += 1 + char_len(self.at(j + 1)).min(n - j - 1);
                } else if b == ch && self.at(j + 1) == ch && self.at(j + 2) == ch {
                    return j + 3;
                } else {
                    j += 1;
                }
            }
            return n;
        }
        let mut j = q + 1;
        while j < n {
            let b = self.bytes[j];
            if b == b'\\' && quote.escapes {
                if j + 1 >= n {
                    return n;
                }
                j += 1 + char_len(self.bytes[j + 1]);
            } else if b == ch {
                return j + 1;
            } else if b == b'\n' && !quote.multiline {
                return j;
            } else {
                j += 1;
            }
        }
        n
    }

    /// Writes the string `[start, end)`, as a key when one follows (JSON).
    fn string_token(&mut self, start: usize, end: usize) {
        let end = end.min(self.bytes.len());
        let key = self.spec.string_keys && self.at(self.skip_blanks(end)) == b':';
        self.w
            .token(if key { Tok::Fn } else { Tok::Str }, start, end);
        self.pending = None;
    }

    /// A number starting at `i`: its end.
    fn number(&self, i: usize) -> usize {
        let n = self.bytes.len();
        let hex = self.at(i) == b'0' && matches!(self.at(i + 1), b'x' | b'X');
        let mut j = i;
        while j < n {
            let b = self.bytes[j];
            let prev = if j > i { self.bytes[j - 1] } else { 0 };
            let more = b.is_ascii_alphanumeric()
                || b == b'_'
                || (b == b'.' && self.at(j + 1).is_ascii_digit())
                || (matches!(b, b'+' | b'-') && !hex && matches!(prev, b'e' | b'E'));
            if !more {
                break;
            }
            j += 1;
        }
        j
    }

    /// An identifier (keyword, name, or a string prefix) starting at `i`.
    fn identifier(&mut self, i: usize) -> usize {
        let spec = self.spec;
        let end = self.ident_end(i);
        let word = slice(self.text, i, end);
        let next = self.at(end);

        if let Some(string_end) = self.prefixed_string(i, end, word) {
            return string_end;
        }

        let is = |words: Words| words.contains(word, spec.case_insensitive);

        let pending = self.pending.take();
        let first = word.as_bytes()[0];
        let tok = if is(spec.keywords) || is(spec.extra_keywords) {
            if is(spec.fn_keywords) {
                self.pending = Some(Tok::Fn);
            } else if is(spec.type_keywords) {
                self.pending = Some(Tok::Type);
            }
            // A keyword used as a key (`type = "x"` in TOML) is still a key below.
            Some(Tok::Kw)
        } else if is(spec.literals) {
            Some(Tok::Lit)
        } else if is(spec.types) || is(spec.extra_types) {
            Some(Tok::Type)
        } else if is(spec.builtins) {
            Some(Tok::Fn)
        } else {
            pending
        };

        if spec.flavor == Flavor::Rust
            && tok.is_none()
            && next == b'!'
            && matches!(self.at(end + 1), b'(' | b'[' | b'{')
        {
            self.w.token(Tok::Fn, i, end + 1);
            return end + 1;
        }

        if let Some(sep) = spec.key_sep {
            let after = self.skip_blanks(end);
            let follows = self.at(after) == sep
                && (sep != b':' || matches!(self.at(after + 1), b' ' | b'\t' | b'\r' | b'\n' | 0));
            if follows {
                self.w.token(Tok::Fn, i, end);
                return end;
            }
        }

        let tok = tok.or_else(|| {
            let capitalised = first.is_ascii_uppercase();
            if next == b'(' && !(capitalised && spec.caps_types && !spec.caps_calls_are_fns) {
                Some(Tok::Fn)
            } else if capitalised && spec.caps_types {
                let all_caps = word
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                Some(if all_caps && word.len() > 1 {
                    Tok::Lit
                } else {
                    Tok::Type
                })
            } else {
                None
            }
        });
        if let Some(tok) = tok {
            self.w.token(tok, i, end);
        }
        end
    }

    /// A string with a prefix (`b"…"`, `r#"…"#`, `f'…'`, `u8"…"`, `R"(…)"`) whose prefix is the
    /// identifier `[i, end)`: the string's end.
    fn prefixed_string(&mut self, i: usize, end: usize, word: &str) -> Option<usize> {
        let next = self.at(end);
        match self.spec.flavor {
            Flavor::Rust => {
                if matches!(word, "r" | "br" | "cr") && matches!(next, b'"' | b'#') {
                    let close = self.rust_raw_string(end)?;
                    self.w.token(Tok::Str, i, close);
                    self.pending = None;
                    return Some(close);
                }
                if word == "b" && next == b'\'' {
                    return Some(self.rust_quote(i, end));
                }
                if matches!(word, "b" | "c") && next == b'"' {
                    let close = self.string(end, &RUST_STRING);
                    self.string_token(i, close);
                    return Some(close);
                }
                None
            }
            Flavor::Python => {
                let is_prefix = word.len() <= 2
                    && word
                        .bytes()
                        .all(|b| matches!(b.to_ascii_lowercase(), b'r' | b'b' | b'u' | b'f'));
                let quote = self.spec.quotes.iter().find(|q| q.ch == next)?;
                if !is_prefix {
                    return None;
                }
                let close = self.string(end, quote);
                self.string_token(i, close);
                Some(close)
            }
            Flavor::C => {
                if matches!(word, "R" | "LR" | "uR" | "UR" | "u8R")
                    && next == b'"'
                    && let Some(close) = self.cpp_raw_string(end)
                {
                    self.w.token(Tok::Str, i, close);
                    self.pending = None;
                    return Some(close);
                }
                if matches!(word, "L" | "u" | "U" | "u8") {
                    let quote = self.spec.quotes.iter().find(|q| q.ch == next)?;
                    let close = self.string(end, quote);
                    self.string_token(i, close);
                    return Some(close);
                }
                None
            }
            _ => None,
        }
    }

    /// A Rust raw string whose hashes or quote start at `j`: its end, or `None` if this is not
    /// one (a raw identifier `r#name`).
    fn rust_raw_string(&self, j: usize) -> Option<usize> {
        let n = self.bytes.len();
        let mut k = j;
        while self.at(k) == b'#' {
            k += 1;
        }
        if self.at(k) != b'"' {
            return None;
        }
        let hashes = k - j;
        let mut m = k + 1;
        while m < n {
            if self.bytes[m] == b'"' {
                let mut h = 0;
                while h < hashes && self.at(m + 1 + h) == b'#' {
                    h += 1;
                }
                if h == hashes {
                    return Some(m + 1 + hashes);
                }
                m += 1 + h;
            } else {
                m += 1;
            }
        }
        Some(n)
    }

    /// A C++ raw string `R"delim(…)delim"` whose quote is at `j`: its end, or `None` if the
    /// delimiter is not valid.
    fn cpp_raw_string(&self, j: usize) -> Option<usize> {
        let mut k = j + 1;
        while k < self.bytes.len() && k - j <= 17 {
            match self.bytes[k] {
                b'(' => {
                    let delim = slice(self.text, j + 1, k);
                    let close = format!("){delim}\"");
                    return Some(find_end(self.text, k + 1, &close));
                }
                b' ' | b')' | b'\\' | b'\t' | b'\n' | b'"' => return None,
                b if b >= 0x80 => return None,
                _ => k += 1,
            }
        }
        None
    }

    /// A Rust `'`: a character literal (possibly with a prefix starting at `start`), a lifetime
    /// or a label. The quote is at `q`.
    fn rust_quote(&mut self, start: usize, q: usize) -> usize {
        let n = self.bytes.len();
        let c = self.at(q + 1);
        if c == b'\\' {
            let end = self.string(q, &CHAR_QUOTE);
            self.w.token(Tok::Str, start, end);
            self.pending = None;
            return end;
        }
        if q + 1 < n && c != b'\n' && c != b'\'' {
            let len = char_len(c);
            if self.at(q + 1 + len) == b'\'' {
                let end = q + 2 + len;
                self.w.token(Tok::Str, start, end);
                self.pending = None;
                return end;
            }
            if self.ident_start(c) && start == q {
                let end = self.ident_end(q + 1);
                self.w.token(Tok::Lit, q, end);
                return end;
            }
        }
        self.pending = None;
        q + 1
    }

    /// C# `@"…"`, `$"…"`, `$@"…"`, `@$"…"` at `i`: the end, or `None` when not a string.
    fn csharp_string(&mut self, i: usize) -> Option<usize> {
        let mut j = i;
        let mut verbatim = false;
        while j < i + 2 && matches!(self.at(j), b'@' | b'$') {
            verbatim |= self.at(j) == b'@';
            j += 1;
        }
        if self.at(j) != b'"' {
            return None;
        }
        let end = if verbatim {
            // `""` inside is an escaped quote; lexing it as two strings keeps the text intact.
            self.string(j, &q(b'"', false, true))
        } else {
            self.string(j, &q(b'"', true, false))
        };
        self.string_token(i, end);
        Some(end)
    }

    /// A preprocessor line start `#include <x.h>` at `i`: where lexing goes on.
    fn directive(&mut self, i: usize) -> usize {
        let name_start = self.skip_blanks(i + 1);
        let end = self.ident_end(name_start);
        if end == name_start {
            return i + 1;
        }
        self.w.token(Tok::Kw, i, end);
        let word = slice(self.text, name_start, end);
        if matches!(word, "include" | "import" | "include_next") {
            let path = self.skip_blanks(end);
            if self.at(path) == b'<' {
                let line = line_end(self.bytes, path);
                let close = self.bytes[path..line]
                    .iter()
                    .position(|&b| b == b'>')
                    .map_or(line, |p| path + p + 1);
                self.w.token(Tok::Str, path, close);
                return close;
            }
        }
        end
    }

    /// A TOML `[section]` or `[[array]]` header at `i`: its end.
    fn section_header(&mut self, i: usize) -> usize {
        let line = line_end(self.bytes, i);
        let Some(close) = self.bytes[i..line].iter().rposition(|&b| b == b']') else {
            return i + 1;
        };
        // Only a header if nothing but a comment follows.
        let rest = self.skip_blanks(i + close + 1);
        if rest < line && self.at(rest) != b'#' && self.at(rest) != b'\r' {
            return i + 1;
        }
        self.w.token(Tok::Type, i, i + close + 1);
        i + close + 1
    }

    /// A shell `$` at `i`: a variable or parameter, or a plain `$`.
    fn shell_variable(&mut self, i: usize) -> usize {
        let c = self.at(i + 1);
        let end = if c == b'{' {
            let line = line_end(self.bytes, i);
            self.bytes[i..line]
                .iter()
                .position(|&b| b == b'}')
                .map_or(line, |p| i + p + 1)
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let mut j = i + 1;
            while self.at(j).is_ascii_alphanumeric() || self.at(j) == b'_' {
                j += 1;
            }
            j
        } else if c.is_ascii_digit() || matches!(c, b'#' | b'?' | b'@' | b'*' | b'!' | b'$' | b'-')
        {
            i + 2
        } else {
            self.pending = None;
            return i + 1;
        };
        self.w.token(Tok::Lit, i, end);
        self.pending = None;
        end
    }
}

/// A character literal: one line, with escapes.
const CHAR_QUOTE: Quote = q(b'\'', true, false);

/// A Rust string: over several lines, with escapes.
const RUST_STRING: Quote = q(b'"', true, true);
