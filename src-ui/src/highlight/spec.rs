//! What a language spec says: the data [`super::lexer`] reads to lex one language.

/// Words separated by single spaces (keywords, type names, literals), ASCII only.
#[derive(Clone, Copy)]
pub(super) struct Words(pub &'static str);

impl Words {
    pub const NONE: Words = Words("");

    /// Whether `word` is one of the words, in the same case unless `ignore_case`.
    pub fn contains(self, word: &str, ignore_case: bool) -> bool {
        !word.is_empty()
            && self.0.split(' ').any(|w| {
                if ignore_case {
                    w.eq_ignore_ascii_case(word)
                } else {
                    w == word
                }
            })
    }

    #[cfg(test)]
    pub fn iter(self) -> impl Iterator<Item = &'static str> {
        self.0.split(' ').filter(|w| !w.is_empty())
    }
}

/// Language-specific rules that differ from the common C-like and script-like ones.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    Plain,
    /// Lifetimes and character literals after `'`, raw strings `r#"…"#`, byte and C strings,
    /// macros `name!(`.
    Rust,
    /// String prefixes `r`, `b`, `u`, `f` and pairs of them.
    Python,
    /// C and C++: string prefixes and raw strings `R"d(…)d"`.
    C,
    /// Verbatim and interpolated strings `@"…"`, `$"…"`.
    CSharp,
    /// Variables `$name`, `${…}`, `$1`, `$?`.
    Shell,
}

/// A quote that opens a string.
pub(super) struct Quote {
    pub ch: u8,
    /// A backslash escapes the next character.
    pub escapes: bool,
    /// The string may run over several lines; otherwise it ends at the line's end.
    pub multiline: bool,
}

pub(super) const fn q(ch: u8, escapes: bool, multiline: bool) -> Quote {
    Quote {
        ch,
        escapes,
        multiline,
    }
}

/// `"…"` and `'…'`, one line each, with backslash escapes.
pub(super) const C_QUOTES: &[Quote] = &[q(b'"', true, false), q(b'\'', true, false)];

/// How one language is lexed by [`super::lexer::CodeLexer`].
pub(super) struct Spec {
    pub flavor: Flavor,
    pub line_comments: &'static [&'static str],
    pub block_comment: Option<(&'static str, &'static str)>,
    pub nested_comments: bool,
    /// `#` opens a comment only at the start of a word (shell, YAML).
    pub hash_comment_at_word: bool,
    pub quotes: &'static [Quote],
    /// Quotes that also open `"""…"""` strings (with backslash escapes, over several lines).
    pub triple_quotes: &'static [u8],
    /// A quote right after a word character does not open a string (YAML `don't`).
    pub quote_after_word_is_text: bool,
    pub keywords: Words,
    /// More keywords, for a language that extends another's (C++ over C).
    pub extra_keywords: Words,
    pub types: Words,
    /// More type names, for a language that extends another's.
    pub extra_types: Words,
    pub literals: Words,
    /// Names shown as functions even without a `(` (shell builtins).
    pub builtins: Words,
    /// Keywords after which the next identifier names a function.
    pub fn_keywords: Words,
    /// Keywords after which the next identifier names a type.
    pub type_keywords: Words,
    /// Keywords, types and literals match whatever their case.
    pub case_insensitive: bool,
    /// Bytes that may continue an identifier besides letters, digits, `_` and non-ASCII.
    pub ident_extra: &'static [u8],
    /// Bytes that may start an identifier besides letters, `_` and non-ASCII.
    pub ident_start_extra: &'static [u8],
    /// Capitalised identifiers are types, all-caps ones constants.
    pub caps_types: bool,
    /// A capitalised identifier followed by `(` is a function (Go, C#), not a type.
    pub caps_calls_are_fns: bool,
    /// An identifier followed by this byte is a key (TOML `=`, YAML `:`).
    pub key_sep: Option<u8>,
    /// A string followed by `:` is a key (JSON, YAML).
    pub string_keys: bool,
    /// `@name` is a decorator or annotation.
    pub decorators: bool,
    /// `#directive` at the start of a line is a preprocessor keyword.
    pub preprocessor: bool,
    /// `[section]` at the start of a line is a header (TOML).
    pub section_headers: bool,
    /// YAML anchors `&a`, aliases `*a`, tags `!!str` and `~`.
    pub yaml_marks: bool,
}

/// A language with nothing: specs name what they have and take the rest from here.
pub(super) const BASE: Spec = Spec {
    flavor: Flavor::Plain,
    line_comments: &[],
    block_comment: None,
    nested_comments: false,
    hash_comment_at_word: false,
    quotes: &[],
    triple_quotes: &[],
    quote_after_word_is_text: false,
    keywords: Words::NONE,
    extra_keywords: Words::NONE,
    types: Words::NONE,
    extra_types: Words::NONE,
    literals: Words::NONE,
    builtins: Words::NONE,
    fn_keywords: Words::NONE,
    type_keywords: Words::NONE,
    case_insensitive: false,
    ident_extra: &[],
    ident_start_extra: &[],
    caps_types: false,
    caps_calls_are_fns: false,
    key_sep: None,
    string_keys: false,
    decorators: false,
    preprocessor: false,
    section_headers: false,
    yaml_marks: false,
};

/// The comments and strings of C and of the many languages that took them: `// …`, `/* … */`,
/// `"…"` and `'…'`.
pub(super) const C_LIKE: Spec = Spec {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: C_QUOTES,
    ..BASE
};
