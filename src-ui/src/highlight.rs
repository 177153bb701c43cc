//! Syntax highlighting of code blocks: language specs read by one lexer.
//!
//! [`highlight`] turns source text into HTML in which tokens are wrapped in
//! `<span class="tok-…">` elements (classes listed on [`highlight`]). Everything else is escaped
//! text, so the text content of the result is always exactly the input: copying a highlighted
//! block copies the original code.
//!
//! Each programming language and data format is a [`spec::Spec`] in `highlight/languages/`
//! (its keywords, types and literals, comment and string syntax, and the few rules it adds),
//! all lexed by [`lexer::CodeLexer`]; HTML/XML ([`markup`]) and CSS ([`css`]) have lexers of
//! their own. Every lexer runs in one pass, in time linear in the input, and only ever splits the
//! text at ASCII bytes, which keeps every split on a UTF-8 character boundary.
//!
//! A maintained library was measured in this place and kept out: see `docs/desktop.md`
//! (Markdown and code in replies).

mod css;
mod languages;
mod lexer;
mod markup;
mod spec;
#[cfg(test)]
mod tests;

use languages::{Syntax, syntax_for};
use lexer::CodeLexer;

/// The kinds of token, each rendered as a `<span>` with its CSS class.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    /// Keywords, HTML tag names, CSS at-rules and element selectors.
    Kw,
    /// String and character literals, attribute values.
    Str,
    /// Comments.
    Com,
    /// Numbers (and CSS colours and dimensions).
    Num,
    /// Called or defined functions, macros, keys of data formats, HTML attribute names and CSS
    /// properties.
    Fn,
    /// Types, capitalised identifiers, CSS classes, ids and pseudo-classes.
    Type,
    /// Literal words (`true`, `null`, `None`), constants, shell variables, entities.
    Lit,
}

impl Tok {
    fn class(self) -> &'static str {
        match self {
            Tok::Kw => "tok-kw",
            Tok::Str => "tok-str",
            Tok::Com => "tok-com",
            Tok::Num => "tok-num",
            Tok::Fn => "tok-fn",
            Tok::Type => "tok-type",
            Tok::Lit => "tok-lit",
        }
    }
}

/// Highlights `code` written in `lang` and returns an HTML fragment.
///
/// `lang` is a code fence's language name, matched without regard to case: `rust` (`rs`),
/// `python` (`py`), `javascript`/`typescript` (`js`, `ts`, `jsx`, `tsx`), `c`, `cpp` (`c++`, `h`,
/// `hpp`), `go`, `java`, `kotlin` (`kt`), `c#` (`cs`, `csharp`), `bash` (`sh`, `shell`, `zsh`),
/// `json`, `toml`, `yaml` (`yml`), `sql`, `html`/`xml` and `css`. Any other name gives the escaped
/// text without markup.
///
/// Tokens are wrapped in `<span class="tok-kw|tok-str|tok-com|tok-num|tok-fn|tok-type|tok-lit">`.
/// All text is escaped (`&`, `<`, `>`, `"`, `'`), and the text content of the result (tags
/// removed, entities decoded) is exactly `code`. Never panics, and runs in time linear in the
/// length of `code`.
pub fn highlight(lang: &str, code: &str) -> String {
    let mut out = String::with_capacity(code.len() + code.len() / 2 + 16);
    match syntax_for(lang) {
        Some(Syntax::Code(spec)) => CodeLexer::new(spec, code, &mut out).run(),
        Some(Syntax::Markup) => markup::markup(code, &mut out),
        Some(Syntax::Css) => css::css(code, &mut out),
        None => escape_into(&mut out, code),
    }
    out
}

/// Appends `text` to `out` with the HTML special characters escaped, safe both as element content
/// and inside a double- or single-quoted attribute value.
pub(crate) fn escape_into(out: &mut String, text: &str) {
    let mut last = 0;
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[last..i]);
        out.push_str(entity);
        last = i + 1;
    }
    out.push_str(&text[last..]);
}

/// `text[start..end]`, or an empty string should the bounds ever be off (they never are: the
/// lexers only cut at ASCII bytes).
fn slice(text: &str, start: usize, end: usize) -> &str {
    let part = text.get(start..end);
    debug_assert!(part.is_some(), "cut inside a character at {start}..{end}");
    part.unwrap_or_default()
}

/// The length in bytes of the UTF-8 character that starts with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xff => 4,
        // A continuation byte: never a start in valid UTF-8; step over it alone.
        _ => 1,
    }
}

/// Where the line that contains `from` ends (the position of its `\n`, or the end).
fn line_end(bytes: &[u8], from: usize) -> usize {
    bytes[from.min(bytes.len())..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

/// The end of the first occurrence of `pat` at or after `from`, or the end of the text.
fn find_end(text: &str, from: usize, pat: &str) -> usize {
    match text.get(from..).and_then(|rest| rest.find(pat)) {
        Some(p) => from + p + pat.len(),
        None => text.len(),
    }
}

/// Writes tokens and the plain text between them.
struct Writer<'a> {
    text: &'a str,
    out: &'a mut String,
    /// Start of the plain text not yet written.
    plain_from: usize,
}

impl<'a> Writer<'a> {
    fn new(text: &'a str, out: &'a mut String) -> Self {
        Writer {
            text,
            out,
            plain_from: 0,
        }
    }

    /// Writes the plain text up to `start`, then `text[start..end]` as a token of kind `tok`.
    fn token(&mut self, tok: Tok, start: usize, end: usize) {
        let end = end.min(self.text.len());
        if start >= end {
            return;
        }
        self.flush(start);
        self.out.push_str("<span class=\"");
        self.out.push_str(tok.class());
        self.out.push_str("\">");
        escape_into(self.out, slice(self.text, start, end));
        self.out.push_str("</span>");
        self.plain_from = end;
    }

    /// Writes the plain text up to `upto`.
    fn flush(&mut self, upto: usize) {
        if upto > self.plain_from {
            escape_into(self.out, slice(self.text, self.plain_from, upto));
            self.plain_from = upto;
        }
    }

    /// Writes the plain text up to `upto`, then `html` as it is (already highlighted text of
    /// `text[upto..resume]`).
    fn embed(&mut self, upto: usize, html: &str, resume: usize) {
        self.flush(upto);
        self.out.push_str(html);
        self.plain_from = resume;
    }

    fn finish(mut self) {
        let len = self.text.len();
        self.flush(len);
    }
}

/// The text content of an HTML fragment: tags removed and entities decoded.
#[cfg(test)]
pub(crate) fn text_content(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        if c == '<' {
            let close = rest.find('>').expect("unclosed tag");
            rest = &rest[close + 1..];
        } else if c == '&' {
            let semi = rest.find(';').expect("unclosed entity");
            out.push(match &rest[..=semi] {
                "&amp;" => '&',
                "&lt;" => '<',
                "&gt;" => '>',
                "&quot;" => '"',
                "&#39;" => '\'',
                other => panic!("unexpected entity {other}"),
            });
            rest = &rest[semi + 1..];
        } else {
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}
