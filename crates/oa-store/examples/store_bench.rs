//! Measures the local store at the size of a heavy user's history, through the public API only.
//!
//! Fills a real SQLite file in a temporary folder with 100,000 messages (one conversation of
//! exactly 1,000 messages, a prompt/reply chain spread over the whole fill, the rest in shorter
//! conversations), then times full-text searches and opening the long conversation. It writes
//! the raw measurements as JSON to `--out`; `cargo xtask bench` runs it in release mode and turns
//! them into the report (percentiles, goals) under `target/bench/`.
//!
//! The text is English-like sentences drawn from a fixed word list with a seeded generator, so
//! every run stores the same words; word frequencies fall off with rank, which gives both common
//! words (found in most messages) and rare ones (found in a few).
//!
//! ```text
//! cargo run --release -p oa-store --example store_bench -- --out target/bench/store.samples.json
//! ```

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use oa_store::{MAX_SEARCH_HITS, Store};
use oa_types::{Message, Provenance, Role, SamplerParams, Uuid};
use serde_json::json;

/// Messages stored in all.
const MESSAGES: usize = 100_000;
/// Messages of the long conversation that is opened again and again.
const LONG_CONVERSATION: usize = 1_000;
/// Every `MESSAGES / LONG_CONVERSATION`-th message goes to the long conversation, so that its
/// rows are spread through the table as they would be after months of use.
const LONG_EVERY: usize = MESSAGES / LONG_CONVERSATION;
/// Longest of the other conversations, in messages.
const MAX_SHORT_CONVERSATION: u64 = 40;
/// Timed searches; each has one to three words.
const SEARCHES: usize = 240;
/// Searches run once before timing, so that the first timed one does not pay for a cold cache.
const WARM_UP_SEARCHES: usize = 20;
/// Timed openings of the long conversation.
const OPENS: usize = 60;
const SEED: u64 = 0x5EED_0A5D_E5C7_0001;

/// Words in falling order of frequency: the first few occur in most messages, the last ones in
/// a handful.
const WORDS: &[&str] = &[
    "the",
    "to",
    "and",
    "a",
    "of",
    "you",
    "is",
    "in",
    "it",
    "that",
    "for",
    "i",
    "on",
    "with",
    "this",
    "can",
    "be",
    "are",
    "your",
    "have",
    "not",
    "as",
    "if",
    "or",
    "what",
    "how",
    "but",
    "do",
    "from",
    "at",
    "an",
    "my",
    "about",
    "will",
    "more",
    "use",
    "there",
    "when",
    "which",
    "would",
    "some",
    "like",
    "one",
    "make",
    "time",
    "could",
    "help",
    "also",
    "any",
    "should",
    "other",
    "way",
    "need",
    "want",
    "know",
    "good",
    "first",
    "most",
    "example",
    "because",
    "each",
    "people",
    "work",
    "new",
    "then",
    "only",
    "much",
    "get",
    "well",
    "write",
    "think",
    "data",
    "question",
    "answer",
    "code",
    "file",
    "different",
    "small",
    "important",
    "often",
    "water",
    "world",
    "language",
    "model",
    "system",
    "list",
    "number",
    "problem",
    "idea",
    "story",
    "light",
    "simple",
    "might",
    "without",
    "between",
    "through",
    "before",
    "after",
    "while",
    "where",
    "again",
    "around",
    "another",
    "place",
    "explain",
    "describe",
    "summary",
    "recipe",
    "travel",
    "health",
    "music",
    "history",
    "science",
    "garden",
    "computer",
    "function",
    "variable",
    "error",
    "message",
    "result",
    "value",
    "change",
    "reason",
    "school",
    "city",
    "country",
    "house",
    "family",
    "friend",
    "morning",
    "evening",
    "weather",
    "season",
    "winter",
    "summer",
    "river",
    "mountain",
    "forest",
    "animal",
    "plant",
    "energy",
    "power",
    "market",
    "price",
    "money",
    "office",
    "project",
    "meeting",
    "email",
    "letter",
    "poem",
    "song",
    "movie",
    "book",
    "chapter",
    "author",
    "teacher",
    "student",
    "lesson",
    "exercise",
    "practice",
    "habit",
    "sleep",
    "coffee",
    "bread",
    "cheese",
    "tomato",
    "onion",
    "garlic",
    "pepper",
    "salad",
    "soup",
    "cake",
    "kitchen",
    "window",
    "door",
    "table",
    "chair",
    "street",
    "bridge",
    "train",
    "bicycle",
    "airport",
    "hotel",
    "museum",
    "castle",
    "island",
    "ocean",
    "desert",
    "volcano",
    "planet",
    "galaxy",
    "telescope",
    "physics",
    "chemistry",
    "biology",
    "algebra",
    "geometry",
    "theorem",
    "proof",
    "matrix",
    "vector",
    "database",
    "server",
    "network",
    "browser",
    "keyboard",
    "password",
    "backup",
    "compiler",
    "library",
    "package",
    "version",
    "release",
    "license",
    "interview",
    "resume",
    "salary",
    "budget",
    "invoice",
    "contract",
    "lawyer",
    "doctor",
    "medicine",
    "symptom",
    "vitamin",
    "protein",
    "muscle",
    "running",
    "swimming",
    "climbing",
    "chess",
    "guitar",
    "piano",
    "violin",
    "painting",
    "sculpture",
    "theater",
    "opera",
    "novel",
    "fairy",
    "dragon",
    "wizard",
    "knight",
    "pirate",
    "robot",
    "spaceship",
    "orbit",
    "comet",
    "glacier",
    "tundra",
    "savanna",
    "monsoon",
    "drought",
    "harvest",
    "orchard",
    "vineyard",
    "beekeeping",
    "pottery",
    "origami",
    "calligraphy",
    "embroidery",
    "knitting",
    "woodworking",
    "carpentry",
    "plumbing",
    "insulation",
    "thermostat",
    "compost",
    "fertilizer",
    "seedling",
    "pruning",
    "mulch",
    "sourdough",
    "fermentation",
    "kimchi",
    "risotto",
    "paella",
    "croissant",
    "espresso",
    "matcha",
    "quinoa",
    "lentil",
    "chickpea",
    "avocado",
    "pomegranate",
    "persimmon",
    "kumquat",
    "rhubarb",
    "artichoke",
    "asparagus",
    "zucchini",
    "eggplant",
    "cardamom",
    "saffron",
    "turmeric",
    "cinnamon",
    "nutmeg",
    "anise",
    "tarragon",
    "sorrel",
    "lovage",
    "samphire",
    "quokka",
    "axolotl",
    "pangolin",
    "narwhal",
    "okapi",
    "tapir",
    "wombat",
    "platypus",
    "lemur",
    "ocelot",
    "capybara",
    "marmot",
    "heron",
    "puffin",
    "albatross",
    "kestrel",
    "nightingale",
    "hummingbird",
    "firefly",
    "dragonfly",
    "tardigrade",
    "nebula",
    "quasar",
    "pulsar",
    "exoplanet",
    "heliosphere",
    "magnetosphere",
    "isotope",
    "catalyst",
    "enzyme",
    "ribosome",
    "mitochondria",
    "chlorophyll",
    "photosynthesis",
    "tectonics",
    "stalactite",
    "fjord",
    "archipelago",
    "peninsula",
    "isthmus",
    "estuary",
    "delta",
    "lagoon",
    "atoll",
    "caldera",
    "geyser",
    "aurora",
    "equinox",
    "solstice",
    "almanac",
    "sundial",
    "astrolabe",
    "sextant",
    "compass",
    "lighthouse",
    "harbor",
    "schooner",
    "catamaran",
    "kayak",
    "gondola",
    "funicular",
    "tramway",
    "viaduct",
    "aqueduct",
    "amphitheater",
    "basilica",
    "minaret",
    "pagoda",
    "ziggurat",
    "obelisk",
    "mosaic",
    "fresco",
    "tapestry",
    "sonnet",
    "haiku",
    "limerick",
    "ballad",
    "sonata",
    "fugue",
    "concerto",
    "overture",
    "libretto",
    "syncopation",
    "counterpoint",
    "harpsichord",
    "theremin",
    "didgeridoo",
    "xylophone",
    "accordion",
    "bagpipe",
    "mandolin",
    "ukulele",
    "recursion",
    "memoization",
    "tokenizer",
    "quantization",
    "checksum",
    "mutex",
    "semaphore",
    "deadlock",
    "idempotent",
    "serialization",
    "polymorphism",
    "monad",
    "lambda",
    "closure",
    "iterator",
    "borrowck",
    "lifetime",
    "refactoring",
    "benchmark",
    "flamegraph",
    "profiler",
    "debugger",
    "regex",
    "unicode",
    "timezone",
    "leap",
    "epoch",
    "palindrome",
    "anagram",
    "zeitgeist",
    "serendipity",
    "quixotic",
    "ephemeral",
    "ineffable",
    "petrichor",
    "sonder",
    "vellichor",
    "apricity",
    "hiraeth",
    "sisu",
    "hygge",
    "wabi",
    "lagom",
    "ubuntu",
    "saudade",
];

fn main() -> Result<(), Box<dyn Error>> {
    let out = out_path()?;
    let dir = tempfile::tempdir()?;
    let db_path = dir.path().join("bench.sqlite3");
    let mut rng = Rng::new(SEED);

    eprintln!(
        "store_bench: filling {} with {MESSAGES} messages",
        db_path.display()
    );
    let start = Instant::now();
    let fill = fill(&db_path, &mut rng)?;
    let fill_seconds = start.elapsed().as_secs_f64();
    // The store is closed now, so the write-ahead log has been folded into the file.
    let db_bytes = file_bytes(&db_path);
    eprintln!(
        "store_bench: filled in {fill_seconds:.1} s ({} conversations, {:.1} MiB)",
        fill.conversations,
        db_bytes as f64 / (1024.0 * 1024.0)
    );

    // Measure the way the app works after a start: a freshly opened store.
    let store = Store::open(&db_path)?;
    let queries: Vec<String> = (0..WARM_UP_SEARCHES + SEARCHES)
        .map(|i| query(&mut rng, i))
        .collect();
    for query in &queries[..WARM_UP_SEARCHES] {
        store.search(query, MAX_SEARCH_HITS)?;
    }
    let mut searches = Vec::with_capacity(SEARCHES);
    for query in &queries[WARM_UP_SEARCHES..] {
        let start = Instant::now();
        let hits = store.search(query, MAX_SEARCH_HITS)?;
        let ms = millis(start);
        searches.push(json!({ "query": query, "ms": ms, "hits": hits.len() }));
    }

    let mut opens = Vec::with_capacity(OPENS);
    for _ in 0..OPENS {
        let start = Instant::now();
        let detail = store.conversation(fill.long_conversation)?;
        let ms = millis(start);
        if detail.messages.len() != LONG_CONVERSATION {
            return Err(format!(
                "the long conversation opened with {} messages, not {LONG_CONVERSATION}",
                detail.messages.len()
            )
            .into());
        }
        opens.push(ms);
    }
    drop(store);

    let samples = json!({
        "benchmark": "store",
        "messages": MESSAGES,
        "conversations": fill.conversations,
        "long_conversation_messages": LONG_CONVERSATION,
        "fill_seconds": fill_seconds,
        "db_bytes": db_bytes,
        "search_limit": MAX_SEARCH_HITS,
        "searches": searches,
        "open_long_conversation_ms": opens,
    });
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&samples)? + "\n")?;
    eprintln!("store_bench: wrote {}", out.display());
    Ok(())
}

/// `--out PATH`, the one argument.
fn out_path() -> Result<PathBuf, Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1);
    match (args.next(), args.next(), args.next()) {
        (Some(flag), Some(path), None) if flag == "--out" => Ok(PathBuf::from(path)),
        _ => {
            Err("usage: store_bench --out PATH (where the measurements are written as JSON)".into())
        }
    }
}

struct Filled {
    conversations: usize,
    long_conversation: Uuid,
}

/// Stores [`MESSAGES`] messages, each through the public API in its own transaction, as the app
/// does.
fn fill(db_path: &Path, rng: &mut Rng) -> Result<Filled, Box<dyn Error>> {
    let mut store = Store::open(db_path)?;
    let mut conversations = 0;
    // The long conversation's last message, and how many it has.
    let mut long: Option<Message> = None;
    let mut long_count = 0;
    // The current short conversation's last message, and how many messages it still gets.
    let mut short: Option<(Message, u64)> = None;

    for i in 0..MESSAGES {
        if i % LONG_EVERY == LONG_EVERY / 2 {
            let message = next_message(&mut store, long.as_ref(), rng)?;
            if long.is_none() {
                conversations += 1;
            }
            long = Some(message);
            long_count += 1;
            continue;
        }
        let (last, left) = match short.take() {
            Some((last, left)) if left > 0 => (Some(last), left),
            _ => {
                conversations += 1;
                (None, rng.between(2, MAX_SHORT_CONVERSATION))
            }
        };
        let message = next_message(&mut store, last.as_ref(), rng)?;
        short = Some((message, left - 1));
        if i > 0 && i % 20_000 == 0 {
            eprintln!("store_bench: {i} messages");
        }
    }

    let long = long.ok_or("the long conversation was never started")?;
    if long_count != LONG_CONVERSATION {
        return Err(format!("the long conversation got {long_count} messages").into());
    }
    Ok(Filled {
        conversations,
        long_conversation: long.conversation_id,
    })
}

/// Continues a conversation after `last` (a reply to a prompt, a prompt after a reply), or starts
/// one with a prompt.
fn next_message(
    store: &mut Store,
    last: Option<&Message>,
    rng: &mut Rng,
) -> Result<Message, Box<dyn Error>> {
    let message = match last {
        None => store.add_prompt(None, &prompt_text(rng))?,
        Some(last) if last.role == Role::Prompter => {
            store.add_reply(last, &reply_text(rng), Some(provenance(rng)))?
        }
        Some(last) => store.add_prompt(Some(last.conversation_id), &prompt_text(rng))?,
    };
    Ok(message)
}

fn prompt_text(rng: &mut Rng) -> String {
    let sentences = rng.between(1, 3);
    let mut text = paragraph(rng, sentences);
    if rng.between(0, 2) == 0 {
        text.pop();
        text.push('?');
    }
    text
}

fn reply_text(rng: &mut Rng) -> String {
    let paragraphs = rng.between(1, 4);
    (0..paragraphs)
        .map(|_| {
            let sentences = rng.between(2, 6);
            paragraph(rng, sentences)
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn paragraph(rng: &mut Rng, sentences: u64) -> String {
    (0..sentences)
        .map(|_| sentence(rng))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Four to eighteen words, capitalised, with the odd comma, ending in a full stop.
fn sentence(rng: &mut Rng) -> String {
    let words = rng.between(4, 18);
    let mut text = String::new();
    for n in 0..words {
        let word = rng.word();
        if n == 0 {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                text.extend(first.to_uppercase());
                text.push_str(chars.as_str());
            }
        } else {
            text.push(' ');
            text.push_str(word);
        }
        if n + 1 < words && n > 1 && rng.between(0, 9) == 0 {
            text.push(',');
        }
    }
    text.push('.');
    text
}

/// What a model-written reply carries, with the numbers varying as they do.
fn provenance(rng: &mut Rng) -> Provenance {
    let completion_tokens = rng.between(20, 500) as u32;
    Provenance {
        model_id: "SmolLM2-135M-Instruct".into(),
        model_sha256: "9c5d3b1e".repeat(8),
        quantization: "Q4_1".into(),
        architecture: "llama".into(),
        chat_template_sha256: "0f1e2d3c".repeat(8),
        sampler: SamplerParams {
            seed: rng.next_u64(),
            ..SamplerParams::default()
        },
        engine_version: "0.1.0".into(),
        prompt_tokens: rng.between(10, 3000) as u32,
        completion_tokens,
        time_to_first_token_ms: rng.between(30, 400),
        total_ms: u64::from(completion_tokens) * rng.between(8, 30),
        stopped: false,
        dropped_messages: 0,
    }
}

/// One to three words, alternating by position between the most common words and the rarest
/// ones, so that both the slow case (a word in most messages) and the quick one are measured.
fn query(rng: &mut Rng, index: usize) -> String {
    let words = 1 + index % 3;
    let common = WORDS.len() / 10;
    (0..words)
        .map(|_| {
            if rng.between(0, 1) == 0 {
                WORDS[rng.between(0, common as u64 - 1) as usize]
            } else {
                let rare_from = WORDS.len() - WORDS.len() / 4;
                WORDS[rng.between(rare_from as u64, WORDS.len() as u64 - 1) as usize]
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn millis(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// The database file and any write-ahead log beside it.
fn file_bytes(db_path: &Path) -> u64 {
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut wal = db_path.as_os_str().to_owned();
    wal.push("-wal");
    size(db_path) + size(Path::new(&wal))
}

/// SplitMix64: small, fast and good enough to make text; the same seed gives the same database.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next_u64() % (high - low + 1)
    }

    /// A uniform number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A word whose chance falls with its rank (log-uniform over ranks, close to Zipf's law).
    fn word(&mut self) -> &'static str {
        let n = WORDS.len() as f64;
        let rank = ((n + 1.0).powf(self.unit()) - 1.0) as usize;
        WORDS[rank.min(WORDS.len() - 1)]
    }
}
