use super::languages::{names, specs};
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
    "rust", "python", "js", "ts", "c", "cpp", "go", "java", "kotlin", "c#", "bash", "json", "toml",
    "yaml", "sql", "html", "xml", "css", "unknown",
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

#[test]
fn word_lists_are_single_spaced_ascii_words() {
    for (lang, spec) in specs() {
        for words in [
            spec.keywords,
            spec.extra_keywords,
            spec.types,
            spec.extra_types,
            spec.literals,
            spec.builtins,
            spec.fn_keywords,
            spec.type_keywords,
        ] {
            let list = words.0;
            assert!(list.is_ascii(), "{lang}: {list:?}");
            assert!(
                !list.starts_with(' ') && !list.ends_with(' ') && !list.contains("  "),
                "{lang}: {list:?}"
            );
            for word in words.iter() {
                assert!(words.contains(word, false), "{lang}: {word}");
                assert!(
                    words.contains(&word.to_ascii_uppercase(), true),
                    "{lang}: {word}"
                );
            }
        }
        // Parts and runs of words are not words.
        for bad in ["", " ", "s", "as async", "as "] {
            assert!(!spec.keywords.contains(bad, true), "{lang}: {bad:?}");
        }
    }
}

#[test]
fn every_name_is_lower_case_and_names_one_language() {
    let mut seen = std::collections::HashSet::new();
    for name in names() {
        assert_eq!(name, name.to_ascii_lowercase());
        assert!(seen.insert(name), "{name} names two languages");
    }
}
