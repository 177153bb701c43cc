//! Each message's language, detected when it is stored.

use oa_store::{Store, StoreError};
use oa_types::Uuid;

#[test]
fn messages_get_their_language_when_stored() {
    let mut store = Store::open_in_memory().unwrap();
    let english = store
        .add_prompt(
            None,
            "Could you please explain to me how photosynthesis works in green plants and why it matters?",
        )
        .unwrap();
    let german = store
        .add_reply(
            &english,
            "Pflanzen wandeln Sonnenlicht, Wasser und Kohlendioxid in Zucker und Sauerstoff um.",
            None,
        )
        .unwrap();
    let chinese = store
        .add_prompt(
            Some(english.conversation_id),
            "植物通过光合作用把阳光、水和二氧化碳变成糖和氧气。",
        )
        .unwrap();
    let short = store.add_reply(&chinese, "Ok!", None).unwrap();
    let lang = |id| store.message_lang(id).unwrap();
    assert_eq!(lang(english.id).as_deref(), Some("en"));
    assert_eq!(lang(german.id).as_deref(), Some("de"));
    assert_eq!(lang(chinese.id).as_deref(), Some("zh"));
    assert_eq!(lang(short.id), None, "too short to tell");
    assert!(matches!(
        store.message_lang(Uuid::now_v7()),
        Err(StoreError::NotFound(_))
    ));
}
