//! The languages [`super::highlight`] knows, by the names a code fence gives them.
//!
//! Programming languages and data formats are each a [`Spec`] in a file of their own, all lexed
//! by [`super::lexer::CodeLexer`]; HTML/XML and CSS, whose structure is not a stream of
//! keywords, names and strings, have lexers of their own. Adding a language is one file here and
//! one row in [`LANGUAGES`].

mod c;
mod cpp;
mod csharp;
mod go;
mod java;
mod javascript;
mod json;
mod kotlin;
mod python;
mod rust;
mod shell;
mod sql;
mod toml;
mod yaml;

use super::spec::Spec;

/// How a language is lexed.
pub(super) enum Syntax {
    Code(&'static Spec),
    Markup,
    Css,
}

/// Every language with its names, in lower case.
const LANGUAGES: &[(&[&str], Syntax)] = &[
    (rust::NAMES, Syntax::Code(&rust::SPEC)),
    (python::NAMES, Syntax::Code(&python::SPEC)),
    (javascript::NAMES, Syntax::Code(&javascript::SPEC)),
    (c::NAMES, Syntax::Code(&c::SPEC)),
    (cpp::NAMES, Syntax::Code(&cpp::SPEC)),
    (go::NAMES, Syntax::Code(&go::SPEC)),
    (java::NAMES, Syntax::Code(&java::SPEC)),
    (kotlin::NAMES, Syntax::Code(&kotlin::SPEC)),
    (csharp::NAMES, Syntax::Code(&csharp::SPEC)),
    (shell::NAMES, Syntax::Code(&shell::SPEC)),
    (json::NAMES, Syntax::Code(&json::SPEC)),
    (toml::NAMES, Syntax::Code(&toml::SPEC)),
    (yaml::NAMES, Syntax::Code(&yaml::SPEC)),
    (sql::NAMES, Syntax::Code(&sql::SPEC)),
    (&["html", "htm", "xhtml", "xml", "svg"], Syntax::Markup),
    (&["css"], Syntax::Css),
];

/// The syntax of the language a code fence names, whatever its case.
pub(super) fn syntax_for(lang: &str) -> Option<&'static Syntax> {
    let lang = lang.trim().to_ascii_lowercase();
    LANGUAGES
        .iter()
        .find(|(names, _)| names.contains(&lang.as_str()))
        .map(|(_, syntax)| syntax)
}

/// Every spec with one of its names, for the tests that check them all.
#[cfg(test)]
pub(super) fn specs() -> impl Iterator<Item = (&'static str, &'static Spec)> {
    LANGUAGES.iter().filter_map(|(names, syntax)| match syntax {
        Syntax::Code(spec) => Some((names[0], *spec)),
        _ => None,
    })
}

/// Every name of every language.
#[cfg(test)]
pub(super) fn names() -> impl Iterator<Item = &'static str> {
    LANGUAGES
        .iter()
        .flat_map(|(names, _)| names.iter().copied())
}
