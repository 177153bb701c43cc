//! A conversation's system prompt and sampler, and the app's own settings, kept in the file.

use oa_store::{Store, StoreError};
use oa_types::{AppSettings, ConversationSettings, SamplerParams, Theme, Uuid};

#[test]
fn conversation_settings_survive_reopening_and_do_not_reorder_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    let (older, newer) = {
        let mut store = Store::open(&path).unwrap();
        let older = store
            .add_prompt(None, "first chat")
            .unwrap()
            .conversation_id;
        std::thread::sleep(std::time::Duration::from_millis(2));
        let newer = store
            .add_prompt(None, "second chat")
            .unwrap()
            .conversation_id;
        assert_eq!(
            store.conversation_settings(older).unwrap(),
            ConversationSettings::default()
        );
        let settings = ConversationSettings {
            system_prompt: "Answer like a pirate.".into(),
            sampler: Some(SamplerParams {
                temperature: 0.2,
                ..SamplerParams::default()
            }),
        };
        store.set_conversation_settings(older, &settings).unwrap();
        (older, newer)
    };
    let store = Store::open(&path).unwrap();
    let kept = store.conversation_settings(older).unwrap();
    assert_eq!(kept.system_prompt, "Answer like a pirate.");
    assert_eq!(kept.sampler.unwrap().temperature, 0.2);
    let order: Vec<Uuid> = store
        .list_conversations()
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(order, [newer, older]);
}

#[test]
fn unusable_settings_are_refused_and_the_old_ones_kept() {
    let mut store = Store::open_in_memory().unwrap();
    let id = store.add_prompt(None, "hi").unwrap().conversation_id;
    let good = ConversationSettings {
        system_prompt: "Be brief.".into(),
        sampler: None,
    };
    store.set_conversation_settings(id, &good).unwrap();

    let too_long = ConversationSettings {
        system_prompt: "x".repeat(oa_types::MAX_SYSTEM_PROMPT_CHARS + 1),
        sampler: None,
    };
    let nan = ConversationSettings {
        system_prompt: String::new(),
        sampler: Some(SamplerParams {
            temperature: f32::NAN,
            ..SamplerParams::default()
        }),
    };
    let no_tokens = ConversationSettings {
        system_prompt: String::new(),
        sampler: Some(SamplerParams {
            max_tokens: 0,
            ..SamplerParams::default()
        }),
    };
    for bad in [too_long, nan, no_tokens] {
        let err = store.set_conversation_settings(id, &bad).unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput(_)), "{err:?}");
    }
    assert_eq!(store.conversation_settings(id).unwrap(), good);

    let missing = Uuid::now_v7();
    assert!(matches!(
        store.set_conversation_settings(missing, &good),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.conversation_settings(missing),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn app_settings_are_kept_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    {
        let mut store = Store::open(&path).unwrap();
        assert_eq!(store.app_setting::<AppSettings>("app").unwrap(), None);
        let mut settings = AppSettings {
            theme: Theme::Dark,
            welcomed: false,
            ..AppSettings::default()
        };
        store.set_app_setting("app", &settings).unwrap();
        settings.welcomed = true;
        store.set_app_setting("app", &settings).unwrap();
        store.set_app_setting("model", &"/models/a.gguf").unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.app_setting::<AppSettings>("app").unwrap(),
        Some(AppSettings {
            theme: Theme::Dark,
            welcomed: true,
            ..AppSettings::default()
        })
    );
    assert_eq!(
        store.app_setting::<String>("model").unwrap().as_deref(),
        Some("/models/a.gguf")
    );
    // A value of another shape reads as unset rather than failing.
    assert_eq!(store.app_setting::<u32>("model").unwrap(), None);
}
