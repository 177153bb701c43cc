//! Findings dismissed as "not personal": kept in the file, taken back on request, and present
//! in a database upgraded from the version before they existed.

use oa_store::{Store, StoreError};

fn dismissed(store: &Store) -> Vec<(String, String)> {
    let mut all: Vec<_> = store.dismissed_findings().unwrap().into_iter().collect();
    all.sort_unstable();
    all
}

fn pair(kind: &str, hash: &str) -> (String, String) {
    (kind.to_owned(), hash.to_owned())
}

#[test]
fn a_dismissal_survives_reopening_and_can_be_taken_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    {
        let mut store = Store::open(&path).unwrap();
        assert!(store.dismissed_findings().unwrap().is_empty());
        store.dismiss_finding("name", "h1").unwrap();
        store.dismiss_finding("name", "h1").unwrap();
        store.dismiss_finding("ip", "h1").unwrap();
        store.dismiss_finding("name", "h2").unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(
        dismissed(&store),
        [pair("ip", "h1"), pair("name", "h1"), pair("name", "h2")],
        "once per kind and text, kept in the file"
    );
    store.restore_finding("name", "h1").unwrap();
    store.restore_finding("name", "never dismissed").unwrap();
    assert_eq!(dismissed(&store), [pair("ip", "h1"), pair("name", "h2")]);
}

#[test]
fn a_dismissal_needs_a_kind_and_a_text() {
    let mut store = Store::open_in_memory().unwrap();
    for (kind, hash) in [("", "h"), ("name", " "), ("", "")] {
        assert!(
            matches!(
                store.dismiss_finding(kind, hash),
                Err(StoreError::InvalidInput(_))
            ),
            "{kind:?} {hash:?}"
        );
    }
    assert!(store.dismissed_findings().unwrap().is_empty());
}

#[test]
fn a_database_from_before_dismissals_upgrades_and_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    oa_store::create_at_schema_version(&path, 7).unwrap();
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 9);
    store.dismiss_finding("address", "h").unwrap();
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(dismissed(&store), [pair("address", "h")]);
}
