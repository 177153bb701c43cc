//! Syntax highlighting of code blocks: a small single-pass lexer per family of languages.
//!
//! [`highlight`] turns source text into HTML in which tokens are wrapped in
//! `<span class="tok-…">` elements (classes listed on [`highlight`]). Everything else is escaped
//! text, so the text content of the result is always exactly the input: copying a highlighted
//! block copies the original code.
//!
//! The lexers never look further back than one byte and never rescan what they have consumed
//! (beyond a bounded look-ahead), so the time is linear in the input. They work on bytes and only
//! ever split the text at ASCII bytes, which keeps every split on a UTF-8 character boundary.

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
        Some(Syntax::Markup) => markup(code, &mut out),
        Some(Syntax::Css) => css(code, &mut out),
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

// ---------------------------------------------------------------------------------------------
// Languages
// ---------------------------------------------------------------------------------------------

enum Syntax {
    Code(&'static Spec),
    Markup,
    Css,
}

fn syntax_for(lang: &str) -> Option<Syntax> {
    let lang = lang.trim().to_ascii_lowercase();
    let spec = match lang.as_str() {
        "rust" | "rs" => &RUST,
        "python" | "py" | "python3" | "py3" => &PYTHON,
        "javascript" | "js" | "jsx" | "mjs" | "cjs" | "typescript" | "ts" | "tsx" | "mts" => {
            &JAVASCRIPT
        }
        "c" => &C,
        "cpp" | "c++" | "cc" | "cxx" | "h" | "hpp" | "hh" | "hxx" => &CPP,
        "go" | "golang" => &GO,
        "java" => &JAVA,
        "kotlin" | "kt" | "kts" => &KOTLIN,
        "c#" | "cs" | "csharp" => &CSHARP,
        "bash" | "sh" | "shell" | "zsh" => &SHELL,
        "json" | "jsonc" | "json5" => &JSON,
        "toml" => &TOML,
        "yaml" | "yml" => &YAML,
        "sql" | "mysql" | "postgresql" | "postgres" | "sqlite" | "plsql" => &SQL,
        "html" | "htm" | "xhtml" | "xml" | "svg" => return Some(Syntax::Markup),
        "css" => return Some(Syntax::Css),
        _ => return None,
    };
    Some(Syntax::Code(spec))
}

/// Language-specific rules that differ from the common C-like and script-like ones.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Plain,
    Rust,
    Python,
    /// C and C++: string prefixes and raw strings `R"d(…)d"`.
    C,
    CSharp,
    Shell,
}

/// A quote that opens a string.
struct Quote {
    ch: u8,
    /// A backslash escapes the next character.
    escapes: bool,
    /// The string may run over several lines; otherwise it ends at the line's end.
    multiline: bool,
}

const fn q(ch: u8, escapes: bool, multiline: bool) -> Quote {
    Quote {
        ch,
        escapes,
        multiline,
    }
}

/// How one language is lexed by [`CodeLexer`].
struct Spec {
    flavor: Flavor,
    line_comments: &'static [&'static str],
    block_comment: Option<(&'static str, &'static str)>,
    nested_comments: bool,
    /// `#` opens a comment only at the start of a word (shell, YAML).
    hash_comment_at_word: bool,
    quotes: &'static [Quote],
    /// Quotes that also open `"""…"""` strings (with backslash escapes, over several lines).
    triple_quotes: &'static [u8],
    /// A quote right after a word character does not open a string (YAML `don't`).
    quote_after_word_is_text: bool,
    keywords: &'static [&'static str],
    /// More keywords, for a language that extends another's (C++ over C).
    extra_keywords: &'static [&'static str],
    types: &'static [&'static str],
    /// More type names, for a language that extends another's.
    extra_types: &'static [&'static str],
    literals: &'static [&'static str],
    /// Names shown as functions even without a `(` (shell builtins).
    builtins: &'static [&'static str],
    /// Keywords after which the next identifier names a function.
    fn_keywords: &'static [&'static str],
    /// Keywords after which the next identifier names a type.
    type_keywords: &'static [&'static str],
    case_insensitive: bool,
    /// Bytes that may continue an identifier besides letters, digits, `_` and non-ASCII.
    ident_extra: &'static [u8],
    /// Bytes that may start an identifier besides letters, `_` and non-ASCII.
    ident_start_extra: &'static [u8],
    /// Capitalised identifiers are types, all-caps ones constants.
    caps_types: bool,
    /// A capitalised identifier followed by `(` is a function (Go, C#), not a type.
    caps_calls_are_fns: bool,
    /// An identifier followed by this byte is a key (TOML `=`, YAML `:`).
    key_sep: Option<u8>,
    /// A string followed by `:` is a key (JSON, YAML).
    string_keys: bool,
    /// `@name` is a decorator or annotation.
    decorators: bool,
    /// `#directive` at the start of a line is a preprocessor keyword.
    preprocessor: bool,
    /// `[section]` at the start of a line is a header (TOML).
    section_headers: bool,
    /// YAML anchors `&a`, aliases `*a`, tags `!!str` and `~`.
    yaml_marks: bool,
}

const BASE: Spec = Spec {
    flavor: Flavor::Plain,
    line_comments: &[],
    block_comment: None,
    nested_comments: false,
    hash_comment_at_word: false,
    quotes: &[],
    triple_quotes: &[],
    quote_after_word_is_text: false,
    keywords: &[],
    extra_keywords: &[],
    types: &[],
    extra_types: &[],
    literals: &[],
    builtins: &[],
    fn_keywords: &[],
    type_keywords: &[],
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

const C_QUOTES: &[Quote] = &[q(b'"', true, false), q(b'\'', true, false)];

const RUST: Spec = Spec {
    flavor: Flavor::Rust,
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    nested_comments: true,
    quotes: &[RUST_STRING],
    keywords: &[
        "as",
        "async",
        "await",
        "break",
        "const",
        "continue",
        "crate",
        "dyn",
        "else",
        "enum",
        "extern",
        "fn",
        "for",
        "if",
        "impl",
        "in",
        "let",
        "loop",
        "match",
        "mod",
        "move",
        "mut",
        "pub",
        "ref",
        "return",
        "self",
        "Self",
        "static",
        "struct",
        "super",
        "trait",
        "type",
        "union",
        "unsafe",
        "use",
        "where",
        "while",
        "yield",
        "macro_rules",
    ],
    types: &[
        "bool", "char", "str", "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32",
        "i64", "i128", "isize", "f32", "f64",
    ],
    literals: &["true", "false"],
    fn_keywords: &["fn"],
    type_keywords: &["struct", "enum", "trait", "type", "union"],
    caps_types: true,
    ..BASE
};

const PYTHON: Spec = Spec {
    flavor: Flavor::Python,
    line_comments: &["#"],
    quotes: C_QUOTES,
    triple_quotes: b"\"'",
    keywords: &[
        "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is",
        "lambda", "match", "case", "nonlocal", "not", "or", "pass", "raise", "return", "try",
        "while", "with", "yield", "self", "cls",
    ],
    types: &[
        "int",
        "float",
        "str",
        "bool",
        "bytes",
        "list",
        "dict",
        "set",
        "tuple",
        "object",
        "complex",
        "bytearray",
        "frozenset",
    ],
    literals: &["True", "False", "None", "NotImplemented", "Ellipsis"],
    fn_keywords: &["def"],
    type_keywords: &["class"],
    caps_types: true,
    decorators: true,
    ..BASE
};

const JAVASCRIPT: Spec = Spec {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &[
        q(b'"', true, false),
        q(b'\'', true, false),
        q(b'`', true, true),
    ],
    keywords: &[
        "async",
        "await",
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "debugger",
        "default",
        "delete",
        "do",
        "else",
        "export",
        "extends",
        "finally",
        "for",
        "from",
        "function",
        "get",
        "if",
        "implements",
        "import",
        "in",
        "instanceof",
        "interface",
        "let",
        "new",
        "of",
        "return",
        "set",
        "static",
        "super",
        "switch",
        "this",
        "throw",
        "try",
        "typeof",
        "var",
        "void",
        "while",
        "with",
        "yield",
        "type",
        "enum",
        "declare",
        "namespace",
        "abstract",
        "private",
        "protected",
        "public",
        "readonly",
        "keyof",
        "as",
        "satisfies",
    ],
    types: &[
        "string", "number", "boolean", "any", "unknown", "never", "object", "bigint", "symbol",
    ],
    literals: &["true", "false", "null", "undefined", "NaN", "Infinity"],
    fn_keywords: &["function"],
    type_keywords: &["class", "interface", "type", "enum"],
    ident_extra: b"$",
    ident_start_extra: b"$",
    caps_types: true,
    decorators: true,
    ..BASE
};

const C_KEYWORDS: &[&str] = &[
    "auto",
    "break",
    "case",
    "const",
    "continue",
    "default",
    "do",
    "else",
    "enum",
    "extern",
    "for",
    "goto",
    "if",
    "inline",
    "register",
    "restrict",
    "return",
    "sizeof",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "volatile",
    "while",
    "_Bool",
    "_Static_assert",
    "_Alignas",
    "_Alignof",
    "_Atomic",
    "_Noreturn",
    "_Thread_local",
];

const C_TYPES: &[&str] = &[
    "void",
    "char",
    "short",
    "int",
    "long",
    "float",
    "double",
    "signed",
    "unsigned",
    "bool",
    "size_t",
    "ssize_t",
    "ptrdiff_t",
    "int8_t",
    "int16_t",
    "int32_t",
    "int64_t",
    "uint8_t",
    "uint16_t",
    "uint32_t",
    "uint64_t",
    "uintptr_t",
    "intptr_t",
    "FILE",
    "wchar_t",
];

const C: Spec = Spec {
    flavor: Flavor::C,
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: C_QUOTES,
    keywords: C_KEYWORDS,
    types: C_TYPES,
    literals: &["true", "false", "NULL"],
    type_keywords: &["struct", "union", "enum"],
    preprocessor: true,
    ..BASE
};

const CPP: Spec = Spec {
    keywords: C_KEYWORDS,
    extra_keywords: &[
        "alignas",
        "alignof",
        "catch",
        "class",
        "concept",
        "consteval",
        "constexpr",
        "constinit",
        "const_cast",
        "co_await",
        "co_return",
        "co_yield",
        "decltype",
        "delete",
        "dynamic_cast",
        "explicit",
        "export",
        "friend",
        "mutable",
        "namespace",
        "new",
        "noexcept",
        "operator",
        "private",
        "protected",
        "public",
        "reinterpret_cast",
        "requires",
        "static_assert",
        "static_cast",
        "template",
        "this",
        "thread_local",
        "throw",
        "try",
        "typeid",
        "typename",
        "using",
        "virtual",
        "override",
        "final",
    ],
    types: C_TYPES,
    extra_types: &[
        "char8_t",
        "char16_t",
        "char32_t",
        "string",
        "vector",
        "map",
        "unordered_map",
        "set",
        "array",
        "unique_ptr",
        "shared_ptr",
        "optional",
        "string_view",
    ],
    literals: &["true", "false", "nullptr", "NULL"],
    type_keywords: &["struct", "union", "enum", "class", "namespace"],
    caps_types: true,
    ..C
};

const GO: Spec = Spec {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &[
        q(b'"', true, false),
        q(b'\'', true, false),
        q(b'`', false, true),
    ],
    keywords: &[
        "break",
        "case",
        "chan",
        "const",
        "continue",
        "default",
        "defer",
        "else",
        "fallthrough",
        "for",
        "func",
        "go",
        "goto",
        "if",
        "import",
        "interface",
        "map",
        "package",
        "range",
        "return",
        "select",
        "struct",
        "switch",
        "type",
        "var",
    ],
    types: &[
        "bool",
        "byte",
        "complex64",
        "complex128",
        "error",
        "float32",
        "float64",
        "int",
        "int8",
        "int16",
        "int32",
        "int64",
        "rune",
        "string",
        "uint",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "uintptr",
        "any",
    ],
    literals: &["true", "false", "nil", "iota"],
    fn_keywords: &["func"],
    type_keywords: &["type"],
    caps_types: true,
    caps_calls_are_fns: true,
    ..BASE
};

const JAVA: Spec = Spec {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: C_QUOTES,
    triple_quotes: b"\"",
    keywords: &[
        "abstract",
        "assert",
        "break",
        "case",
        "catch",
        "class",
        "const",
        "continue",
        "default",
        "do",
        "else",
        "enum",
        "extends",
        "final",
        "finally",
        "for",
        "goto",
        "if",
        "implements",
        "import",
        "instanceof",
        "interface",
        "native",
        "new",
        "package",
        "private",
        "protected",
        "public",
        "return",
        "static",
        "strictfp",
        "super",
        "switch",
        "synchronized",
        "this",
        "throw",
        "throws",
        "transient",
        "try",
        "volatile",
        "while",
        "var",
        "record",
        "sealed",
        "permits",
        "yield",
    ],
    types: &[
        "boolean", "byte", "char", "short", "int", "long", "float", "double", "void",
    ],
    literals: &["true", "false", "null"],
    type_keywords: &["class", "interface", "enum", "record"],
    ident_extra: b"$",
    caps_types: true,
    decorators: true,
    ..BASE
};

const KOTLIN: Spec = Spec {
    keywords: &[
        "as",
        "break",
        "class",
        "continue",
        "do",
        "else",
        "for",
        "fun",
        "if",
        "in",
        "interface",
        "is",
        "object",
        "package",
        "return",
        "super",
        "this",
        "throw",
        "try",
        "typealias",
        "typeof",
        "val",
        "var",
        "when",
        "while",
        "by",
        "catch",
        "constructor",
        "finally",
        "get",
        "import",
        "init",
        "set",
        "where",
        "abstract",
        "annotation",
        "companion",
        "data",
        "enum",
        "external",
        "final",
        "infix",
        "inline",
        "inner",
        "internal",
        "lateinit",
        "open",
        "operator",
        "out",
        "override",
        "private",
        "protected",
        "public",
        "sealed",
        "suspend",
        "vararg",
    ],
    types: &[],
    literals: &["true", "false", "null"],
    fn_keywords: &["fun"],
    type_keywords: &["class", "interface", "object", "typealias"],
    ident_extra: &[],
    ..JAVA
};

const CSHARP: Spec = Spec {
    flavor: Flavor::CSharp,
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: C_QUOTES,
    triple_quotes: b"\"",
    keywords: &[
        "abstract",
        "as",
        "async",
        "await",
        "base",
        "break",
        "case",
        "catch",
        "checked",
        "class",
        "const",
        "continue",
        "default",
        "delegate",
        "do",
        "else",
        "enum",
        "event",
        "explicit",
        "extern",
        "finally",
        "fixed",
        "for",
        "foreach",
        "get",
        "goto",
        "if",
        "implicit",
        "in",
        "init",
        "interface",
        "internal",
        "is",
        "lock",
        "namespace",
        "new",
        "operator",
        "out",
        "override",
        "params",
        "private",
        "protected",
        "public",
        "readonly",
        "record",
        "ref",
        "return",
        "sealed",
        "set",
        "sizeof",
        "stackalloc",
        "static",
        "struct",
        "switch",
        "this",
        "throw",
        "try",
        "typeof",
        "unchecked",
        "unsafe",
        "using",
        "var",
        "virtual",
        "volatile",
        "when",
        "where",
        "while",
        "yield",
    ],
    types: &[
        "bool", "byte", "char", "decimal", "double", "dynamic", "float", "int", "long", "object",
        "sbyte", "short", "string", "uint", "ulong", "ushort", "void", "nint", "nuint",
    ],
    literals: &["true", "false", "null"],
    type_keywords: &["class", "struct", "interface", "enum", "record"],
    caps_types: true,
    caps_calls_are_fns: true,
    preprocessor: true,
    ..BASE
};

const SHELL: Spec = Spec {
    flavor: Flavor::Shell,
    line_comments: &["#"],
    hash_comment_at_word: true,
    quotes: &[q(b'"', true, true), q(b'\'', false, true)],
    keywords: &[
        "if", "then", "else", "elif", "fi", "case", "esac", "for", "while", "until", "do", "done",
        "in", "function", "select", "time", "return", "exit", "break", "continue", "local",
        "export", "declare", "readonly", "unset", "shift",
    ],
    builtins: &[
        "echo", "printf", "cd", "pwd", "read", "eval", "exec", "set", "trap", "test", "source",
        "alias", "type", "wait", "kill", "exit", "command", "builtin", "sudo",
    ],
    fn_keywords: &["function"],
    ident_extra: b"-",
    ..BASE
};

const JSON: Spec = Spec {
    line_comments: &["//"],
    block_comment: Some(("/*", "*/")),
    quotes: &[q(b'"', true, false), q(b'\'', true, false)],
    literals: &["true", "false", "null", "NaN", "Infinity"],
    string_keys: true,
    ..BASE
};

const TOML: Spec = Spec {
    line_comments: &["#"],
    quotes: &[q(b'"', true, false), q(b'\'', false, false)],
    triple_quotes: b"\"'",
    literals: &["true", "false", "inf", "nan"],
    ident_extra: b"-",
    key_sep: Some(b'='),
    section_headers: true,
    ..BASE
};

const YAML: Spec = Spec {
    line_comments: &["#"],
    hash_comment_at_word: true,
    quotes: &[q(b'"', true, false), q(b'\'', false, false)],
    quote_after_word_is_text: true,
    literals: &[
        "true", "false", "null", "yes", "no", "on", "off", "True", "False", "Null", "TRUE",
        "FALSE", "NULL", "Yes", "No", "~",
    ],
    ident_extra: b"-.",
    key_sep: Some(b':'),
    string_keys: true,
    yaml_marks: true,
    ..BASE
};

const SQL: Spec = Spec {
    line_comments: &["--"],
    block_comment: Some(("/*", "*/")),
    quotes: &[
        q(b'\'', false, true),
        q(b'"', false, false),
        q(b'`', false, false),
    ],
    keywords: &[
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "in",
        "is",
        "like",
        "between",
        "insert",
        "into",
        "values",
        "update",
        "set",
        "delete",
        "create",
        "table",
        "index",
        "view",
        "drop",
        "alter",
        "add",
        "column",
        "primary",
        "key",
        "foreign",
        "references",
        "unique",
        "default",
        "check",
        "constraint",
        "join",
        "inner",
        "left",
        "right",
        "full",
        "outer",
        "cross",
        "on",
        "as",
        "group",
        "by",
        "order",
        "having",
        "limit",
        "offset",
        "union",
        "all",
        "distinct",
        "case",
        "when",
        "then",
        "else",
        "end",
        "exists",
        "with",
        "recursive",
        "returning",
        "begin",
        "commit",
        "rollback",
        "transaction",
        "if",
        "asc",
        "desc",
        "cascade",
        "trigger",
        "function",
        "procedure",
        "return",
        "returns",
        "declare",
        "grant",
        "revoke",
        "using",
        "over",
        "partition",
        "window",
        "conflict",
        "do",
        "nothing",
        "replace",
        "temporary",
        "temp",
        "autoincrement",
        "serial",
        "schema",
        "database",
        "explain",
        "analyze",
        "vacuum",
    ],
    types: &[
        "int",
        "integer",
        "smallint",
        "bigint",
        "tinyint",
        "real",
        "float",
        "double",
        "precision",
        "numeric",
        "decimal",
        "text",
        "varchar",
        "char",
        "character",
        "boolean",
        "bool",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "interval",
        "blob",
        "bytea",
        "uuid",
        "json",
        "jsonb",
        "money",
    ],
    literals: &["true", "false", "null"],
    case_insensitive: true,
    ..BASE
};

// ---------------------------------------------------------------------------------------------
// The lexer of programming languages and data formats
// ---------------------------------------------------------------------------------------------

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80
}

struct CodeLexer<'a> {
    spec: &'static Spec,
    text: &'a str,
    bytes: &'a [u8],
    w: Writer<'a>,
    /// What the next identifier is, after `fn`, `class`…
    pending: Option<Tok>,
}

impl<'a> CodeLexer<'a> {
    fn new(spec: &'static Spec, text: &'a str, out: &'a mut String) -> Self {
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

    fn run(mut self) {
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

        let is = |list: &[&str]| {
            if spec.case_insensitive {
                list.iter().any(|k| k.eq_ignore_ascii_case(word))
            } else {
                list.contains(&word)
            }
        };

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

// ---------------------------------------------------------------------------------------------
// HTML and XML
// ---------------------------------------------------------------------------------------------

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

fn markup(text: &str, out: &mut String) {
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

// ---------------------------------------------------------------------------------------------
// CSS
// ---------------------------------------------------------------------------------------------

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

fn css(text: &str, out: &mut String) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts of the tokens of class `class`, in order.
    fn tokens(html: &str, class: &str) -> Vec<String> {
        let open = format!("<span class=\"{class}\">");
        html.match_indices(&open)
            .map(|(at, _)| {
                let body = &html[at + open.len()..];
                text_content(&body[..body.find("</span>").unwrap()])
            })
            .collect()
    }

    const LANGS: &[&str] = &[
        "rust", "python", "js", "ts", "c", "cpp", "go", "java", "kotlin", "c#", "bash", "json",
        "toml", "yaml", "sql", "html", "xml", "css", "unknown",
    ];

    const SAMPLES: &[&str] = &[
        "",
        "\"",
        "'",
        "`",
        "\\",
        "/*",
        "<!--",
        "<",
        "<a",
        "<a href=\"x",
        "\"unterminated string",
        "'unterminated\nnext line",
        "\"\"\"never closed",
        "'''never closed\n\n",
        "/* never closed comment",
        "/* /* nested */ still open",
        "r#\"raw never closed",
        "r##\"a \"# b\"##",
        "R\"x(raw)x\" R\"(",
        "b'\\",
        "'\\u{1F600}'",
        "'é' 'ab' 'a",
        "x = \"naïve café 日本語 🎉\"; // コメント ü\n",
        "\"escape at end\\",
        "\"escape before multibyte \\é\"",
        "$ ${ $1 $# $(x) ${HOME",
        "#include <stdio.h\n#define X 1\n#",
        "@\"verbatim \"\" quote\" $\"interp {x}\" @",
        "key: value # comment\n- 'quoted' \"dq\" don't\n&anchor *alias !!str ~",
        "[section]\nkey = \"v\" # c\n[[arr]] trailing\n[broken",
        "{\"a\": [1, 2.5e-3, true, null], \"b\": \"\\\"\"}",
        "SELECT * FROM t WHERE a = 'it''s' -- c\n/* b */",
        "a { color: #fff !important; margin: 0 1.5em; } .x:hover::before { content: \"<\" }",
        "<!DOCTYPE html><p class=x title='y'>a &amp; b &#x27; &bogus</p><script>let s = \"</p>\";</script><style>p{color:red}</style>",
        "<script>unterminated",
        "<style",
        "0x1F 1_000 3.14 1e10 1e+5 .5 7u8 0b1010 1..2",
        "fn main() { let x: Vec<String> = Vec::new(); println!(\"{}\", x.len()); }",
        "&<>\"'",
        "é",
        "\u{0}\u{7f}\u{80}\u{10FFFF}",
        "tab\there\r\nwindows\r\n",
    ];

    #[test]
    fn text_content_is_always_the_input() {
        for lang in LANGS {
            for sample in SAMPLES {
                let html = highlight(lang, sample);
                assert_eq!(text_content(&html), *sample, "{lang}: {sample:?} -> {html}");
            }
        }
    }

    #[test]
    fn fuzzed_inputs_keep_their_text_and_never_panic() {
        // Characters that drive every branch of the lexers, multi-byte ones included.
        let alphabet: Vec<char> =
            "ab_Zx09.eE+-\"'`\\/*#<>!?&;:={}[]()@$ \n\t\rrRbuLf\u{e9}\u{65e5}\u{1f389}%~|,"
                .chars()
                .collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..1500 {
            let len = (next() % 60) as usize;
            let sample: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let lang = LANGS[round % LANGS.len()];
            let html = highlight(lang, &sample);
            assert_eq!(text_content(&html), sample, "{lang}: {sample:?}");
        }
    }

    #[test]
    fn rust_tokens_get_their_classes() {
        let code = "// say hi\nfn main() {\n    let s: String = \"hi \\\"there\\\"\"; /* note */\n    println!(\"{}\", s.len() + 42);\n    let c = 'x'; let r = r#\"raw \"q\"\"#;\n}\nstruct Point<'a> { x: &'a str }\nconst MAX: u32 = 0xff;";
        let html = highlight("rust", code);
        assert_eq!(text_content(&html), code);
        let kw = tokens(&html, "tok-kw");
        for k in ["fn", "let", "struct", "const"] {
            assert!(kw.contains(&k.to_string()), "{k} in {kw:?}");
        }
        assert_eq!(tokens(&html, "tok-com"), ["// say hi", "/* note */"]);
        assert_eq!(
            tokens(&html, "tok-str"),
            ["\"hi \\\"there\\\"\"", "\"{}\"", "'x'", "r#\"raw \"q\"\"#"]
        );
        let fns = tokens(&html, "tok-fn");
        assert!(fns.contains(&"main".to_string()), "{fns:?}");
        assert!(fns.contains(&"println!".to_string()), "{fns:?}");
        assert!(fns.contains(&"len".to_string()), "{fns:?}");
        let types = tokens(&html, "tok-type");
        assert!(types.contains(&"String".to_string()), "{types:?}");
        assert!(types.contains(&"Point".to_string()), "{types:?}");
        assert!(types.contains(&"u32".to_string()), "{types:?}");
        assert_eq!(tokens(&html, "tok-num"), ["42", "0xff"]);
        let lits = tokens(&html, "tok-lit");
        assert!(lits.contains(&"MAX".to_string()), "{lits:?}");
        assert!(lits.contains(&"'a".to_string()), "{lits:?}");
    }

    #[test]
    fn nested_rust_comments_end_at_the_outer_close() {
        let html = highlight("rust", "/* a /* b */ c */ fn");
        assert_eq!(tokens(&html, "tok-com"), ["/* a /* b */ c */"]);
        assert_eq!(tokens(&html, "tok-kw"), ["fn"]);
    }

    #[test]
    fn unterminated_strings_and_comments_run_to_their_natural_end() {
        // A one-line string stops at the end of its line; code after it is still lexed.
        let html = highlight("python", "x = 'open\nif y:");
        assert_eq!(tokens(&html, "tok-str"), ["'open"]);
        assert_eq!(tokens(&html, "tok-kw"), ["if"]);
        let html = highlight("js", "/* open\nlet x");
        assert_eq!(tokens(&html, "tok-com"), ["/* open\nlet x"]);
    }

    #[test]
    fn python_and_shell() {
        let html = highlight(
            "py",
            "@cache\ndef f(x):\n    \"\"\"Doc \"q\".\"\"\"\n    return f'{x}' # done\nNone",
        );
        assert_eq!(tokens(&html, "tok-fn"), ["@cache", "f"]);
        assert_eq!(
            tokens(&html, "tok-str"),
            ["\"\"\"Doc \"q\".\"\"\"", "f'{x}'"]
        );
        assert_eq!(tokens(&html, "tok-com"), ["# done"]);
        assert_eq!(tokens(&html, "tok-lit"), ["None"]);

        let html = highlight(
            "sh",
            "if [ -n \"$HOME\" ]; then echo $USER ${X} # hi\nfi # c\necho a#b",
        );
        assert_eq!(tokens(&html, "tok-kw"), ["if", "then", "fi"]);
        assert_eq!(tokens(&html, "tok-lit"), ["$USER", "${X}"]);
        assert_eq!(tokens(&html, "tok-com"), ["# hi", "# c"]);
        assert_eq!(tokens(&html, "tok-str"), ["\"$HOME\""]);
    }

    #[test]
    fn data_formats_mark_keys() {
        let html = highlight("json", "{\"name\": \"x\", \"n\": 1.5, \"ok\": true}");
        assert_eq!(tokens(&html, "tok-fn"), ["\"name\"", "\"n\"", "\"ok\""]);
        assert_eq!(tokens(&html, "tok-str"), ["\"x\""]);
        assert_eq!(tokens(&html, "tok-num"), ["1.5"]);
        assert_eq!(tokens(&html, "tok-lit"), ["true"]);

        let html = highlight("toml", "[package]\nname = \"oa\" # c\nedition = 2024");
        assert_eq!(tokens(&html, "tok-type"), ["[package]"]);
        assert_eq!(tokens(&html, "tok-fn"), ["name", "edition"]);
        assert_eq!(tokens(&html, "tok-com"), ["# c"]);

        let html = highlight(
            "yml",
            "on: push\njobs:\n  build: # x\n    runs-on: ubuntu-latest\n    ok: yes",
        );
        assert_eq!(
            tokens(&html, "tok-fn"),
            ["on", "jobs", "build", "runs-on", "ok"]
        );
        assert_eq!(tokens(&html, "tok-com"), ["# x"]);
        assert_eq!(tokens(&html, "tok-lit"), ["yes"]);
    }

    #[test]
    fn sql_keywords_ignore_case() {
        let html = highlight("sql", "select COUNT(*) From users WHERE name = 'a' -- c");
        assert_eq!(tokens(&html, "tok-kw"), ["select", "From", "WHERE"]);
        assert_eq!(tokens(&html, "tok-fn"), ["COUNT"]);
        assert_eq!(tokens(&html, "tok-str"), ["'a'"]);
        assert_eq!(tokens(&html, "tok-com"), ["-- c"]);
    }

    #[test]
    fn markup_tags_attributes_and_embedded_code() {
        let code = "<!-- c --><div class=\"a\" hidden>x &amp; y</div><script>let a = 1;</script>";
        let html = highlight("html", code);
        assert_eq!(text_content(&html), code);
        assert_eq!(tokens(&html, "tok-com"), ["<!-- c -->"]);
        assert_eq!(
            tokens(&html, "tok-kw"),
            ["div", "div", "script", "let", "script"]
        );
        assert_eq!(tokens(&html, "tok-fn"), ["class", "hidden"]);
        assert_eq!(tokens(&html, "tok-str"), ["\"a\""]);
        assert_eq!(tokens(&html, "tok-lit"), ["&amp;"]);
        assert_eq!(tokens(&html, "tok-num"), ["1"]);
    }

    #[test]
    fn css_selectors_properties_and_values() {
        let html = highlight(
            "css",
            "@media print { .a:hover, p { color: #fff; margin: 0 2px !important } }",
        );
        assert_eq!(
            tokens(&html, "tok-kw"),
            ["@media", "print", "p", "!important"]
        );
        assert_eq!(tokens(&html, "tok-type"), [".a", ":hover"]);
        assert_eq!(tokens(&html, "tok-fn"), ["color", "margin"]);
        assert_eq!(tokens(&html, "tok-num"), ["#fff", "0", "2px"]);
    }

    #[test]
    fn everything_is_escaped() {
        let html = highlight("js", "a < b && c > \"<img src=x onerror=alert(1)>\"");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert_eq!(highlight("nope", "<b>&'\""), "&lt;b&gt;&amp;&#39;&quot;");
    }

    #[test]
    fn language_names_ignore_case_and_aliases() {
        for lang in ["Rust", "RS", "rust"] {
            assert!(highlight(lang, "fn").contains("tok-kw"), "{lang}");
        }
        for lang in [
            "c++", "cpp", "hpp", "h", "C#", "cs", "zsh", "shell", "tsx", "py",
        ] {
            assert!(highlight(lang, "if").contains("tok-kw"), "{lang}");
        }
        assert_eq!(highlight("text", "fn if"), "fn if");
    }

    #[test]
    fn a_megabyte_of_input_is_lexed() {
        let code = "fn x() { let s = \"a\\\"b\"; f(1.5e3); } // c\n# h\n<a b='c'>d</a> $x\n";
        let megabyte = code.repeat((1 << 20) / code.len());
        for lang in LANGS {
            let html = highlight(lang, &megabyte);
            assert!(html.len() >= megabyte.len(), "{lang}");
        }
        // Openers left unclosed over and over are where a naive lexer rescans the rest.
        let openers = [
            "/* ",
            "'",
            "\"",
            "`",
            "r#\"",
            "R\"x(",
            "<a b='",
            "<!--",
            "${",
            "[",
            "é日🎉",
        ];
        for lang in LANGS {
            for opener in openers {
                let code = opener.repeat((1 << 16) / opener.len());
                let html = highlight(lang, &code);
                assert!(html.len() >= code.len(), "{lang}");
            }
        }
    }
}
