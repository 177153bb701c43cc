//! Shell (bash, sh, zsh): variables, `#` comments only at a word's start, builtins.

use crate::highlight::spec::{BASE, Flavor, Spec, Words, q};

/// The names a code fence gives it.
pub(super) const NAMES: &[&str] = &["bash", "sh", "shell", "zsh"];

pub(super) const SPEC: Spec = Spec {
    flavor: Flavor::Shell,
    line_comments: &["#"],
    hash_comment_at_word: true,
    quotes: &[q(b'"', true, true), q(b'\'', false, true)],
    keywords: Words(
        "if then else elif fi case esac for while until do done in function select time return \
         exit break continue local export declare readonly unset shift",
    ),
    builtins: Words(
        "echo printf cd pwd read eval exec set trap test source alias type wait kill exit \
         command builtin sudo",
    ),
    fn_keywords: Words("function"),
    ident_extra: b"-",
    ..BASE
};
