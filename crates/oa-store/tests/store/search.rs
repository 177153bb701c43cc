//! Full-text search over messages.

use oa_store::{MAX_SEARCH_HITS, Store};
use oa_types::{HIGHLIGHT_END, HIGHLIGHT_START};

#[test]
fn finds_messages_with_highlighted_snippets() {
    let mut store = Store::open_in_memory().unwrap();
    let prompt = store
        .add_prompt(None, "What is the capital of France?")
        .unwrap();
    let reply = store
        .add_reply(
            &prompt,
            "Paris is the capital and largest city of France.",
            None,
        )
        .unwrap();
    store.add_prompt(None, "Bake a cake").unwrap();
    let hits = store.search("paris capital", 10).unwrap();
    assert_eq!(hits.len(), 1);
    let hit = &hits[0];
    assert_eq!(
        (hit.conversation_id, hit.message_id),
        (prompt.conversation_id, reply.id)
    );
    assert_eq!(hit.title, "What is the capital of France?");
    assert!(
        hit.snippet
            .contains(&format!("{HIGHLIGHT_START}Paris{HIGHLIGHT_END}")),
        "{:?}",
        hit.snippet
    );
    assert!(hit.snippet_parts().contains(&(true, "capital")));
    // Prefix of the last word, accents folded.
    assert_eq!(store.search("capi", 10).unwrap().len(), 2);
    assert_eq!(store.search("FRANCÉ", 10).unwrap().len(), 2);
}

#[test]
fn more_relevant_first_then_newer_first() {
    let mut store = Store::open_in_memory().unwrap();
    let a = store.add_prompt(None, "rust").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let b = store.add_prompt(None, "rust").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let c = store
        .add_prompt(
            None,
            "a long message that mentions rust only once among many other words",
        )
        .unwrap();
    let ids: Vec<_> = store
        .search("rust", 10)
        .unwrap()
        .into_iter()
        .map(|h| h.message_id)
        .collect();
    assert_eq!(ids, [b.id, a.id, c.id]);
    assert_eq!(store.search("rust", 1).unwrap().len(), 1);
    assert!(store.search("rust", 0).unwrap().is_empty());
}

#[test]
fn a_huge_limit_is_capped() {
    let mut store = Store::open_in_memory().unwrap();
    let first = store.add_prompt(None, "echo 0").unwrap();
    for i in 1..MAX_SEARCH_HITS + 5 {
        store
            .add_prompt(Some(first.conversation_id), &format!("echo {i}"))
            .unwrap();
    }
    assert_eq!(
        store.search("echo", usize::MAX).unwrap().len(),
        MAX_SEARCH_HITS
    );
}

#[test]
fn typed_operators_and_quotes_are_plain_text() {
    let mut store = Store::open_in_memory().unwrap();
    store
        .add_prompt(None, r#"He said "near" AND (left) NOT here: x*y"#)
        .unwrap();
    for query in [
        "\"",
        "\"\"",
        "*",
        "AND",
        "OR",
        "NOT",
        "(",
        ")",
        "NEAR",
        "NEAR(",
        "NEAR(a b, 3)",
        "said AND",
        "\"unbalanced",
        "text:said",
        "^said",
        "-said",
        "+",
        "{text}: said",
        "said*",
        "'; DROP TABLE messages; --",
        "",
        "   ",
    ] {
        let hits = store.search(query, 10);
        assert!(hits.is_ok(), "{query:?}: {hits:?}");
    }
    assert_eq!(store.search("AND", 10).unwrap().len(), 1, "found as a word");
    assert_eq!(store.search("\"near\"", 10).unwrap().len(), 1);
    assert_eq!(store.search("(left)", 10).unwrap().len(), 1);
    assert!(
        store.search("*", 10).unwrap().is_empty(),
        "no word, no hits"
    );
    assert!(
        store.search("said missing", 10).unwrap().is_empty(),
        "all words must occur"
    );
    assert_eq!(store.list_conversations().unwrap().len(), 1);
}

#[test]
fn edits_and_siblings_are_indexed() {
    let mut store = Store::open_in_memory().unwrap();
    let prompt = store.add_prompt(None, "first draft").unwrap();
    store
        .add_sibling_prompt(prompt.conversation_id, prompt.id, "second draft")
        .unwrap();
    assert_eq!(store.search("draft", 10).unwrap().len(), 2);
    assert_eq!(store.search("second", 10).unwrap().len(), 1);
}

#[test]
fn a_word_in_thousands_of_messages_ranks_the_newest_matches() {
    let mut store = Store::open_in_memory().unwrap();
    // The best match by relevance alone (the word and nothing else), written first.
    let oldest = store.add_prompt(None, "zebra").unwrap();
    let conversation = Some(oldest.conversation_id);
    let filler = "a message about the zebra among a good many other words of no interest";
    for _ in 0..oa_store::RANKED_MATCHES {
        store.add_prompt(conversation, filler).unwrap();
    }
    let newest_short = store.add_prompt(conversation, "zebra zebra").unwrap();
    let hits = store.search("zebra", 5).unwrap();
    assert_eq!(hits.len(), 5);
    // Among the newest matches, relevance still decides: the short one comes first.
    assert_eq!(hits[0].message_id, newest_short.id);
    assert!(hits.iter().all(|h| h.message_id != oldest.id));
    assert!(
        hits.iter()
            .all(|h| h.snippet_parts().contains(&(true, "zebra"))),
        "{hits:?}"
    );
}
