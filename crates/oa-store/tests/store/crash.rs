//! A writer killed with SIGKILL at arbitrary moments never leaves a damaged file or loses a
//! committed action.
//!
//! The writer is this test binary itself, started again with [`WRITER_ENV`] set so that only
//! [`crash_writer`] runs: it performs a stream of user actions and prints the id of each one
//! after its transaction committed. The parent kills it after a varying number of actions (and
//! a varying extra delay, so that the kill also lands inside transactions), reopens the file and
//! checks it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oa_store::Store;
use oa_types::{Emoji, Labels, Ranking, TextLabel, Thumbs, Vote};

/// Names the database the writer process writes to; unset in a normal test run.
const WRITER_ENV: &str = "OA_STORE_CRASH_WRITER_DB";

/// How many times the writer is killed.
const KILLS: usize = 50;

/// Marks the writer's report lines; everything else on its stdout is the test harness's.
const COMMITTED: &str = "committed ";

/// The writer. In a normal run (no [`WRITER_ENV`]) it does nothing.
#[test]
fn crash_writer() {
    let Some(path) = std::env::var_os(WRITER_ENV) else {
        return;
    };
    let mut store = Store::open(Path::new(&path)).unwrap();
    let mut out = std::io::stdout().lock();
    let mut report = |kind: &str, id: oa_types::Uuid| {
        writeln!(out, "{COMMITTED}{kind} {id}").unwrap();
        out.flush().unwrap();
    };
    // Bounded, so that a writer the parent failed to kill still ends.
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        let prompt = store
            .add_prompt(None, "Explain how a write-ahead log keeps data safe.")
            .unwrap();
        report("message", prompt.id);
        let a = store
            .add_reply(
                &prompt,
                "Changes are appended before they are applied.",
                None,
            )
            .unwrap();
        report("message", a.id);
        let b = store
            .add_reply(&prompt, "Every commit is a record in the log.", None)
            .unwrap();
        report("message", b.id);
        let thumbs = Thumbs {
            vote: Vote::Up,
            reasons: vec![],
            comment: None,
        };
        report("event", store.rate(a.id, &thumbs).unwrap().id);
        let labels = Labels([(TextLabel::Quality, 0.75)].into());
        report("event", store.set_labels(b.id, &labels).unwrap().id);
        let ranking = Ranking::Ranked(vec![b.id, a.id]);
        report("event", store.rank_replies(prompt.id, &ranking).unwrap().id);
        let reaction = store
            .set_reaction(a.id, Emoji::Clap, true)
            .unwrap()
            .unwrap();
        report("event", reaction.id);
        let follow = store
            .add_prompt(Some(prompt.conversation_id), "And after a crash?")
            .unwrap();
        report("message", follow.id);
    }
}

/// A small deterministic generator, so that a failure can be replayed from its seed.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn a_killed_writer_leaves_an_intact_file_with_every_committed_action() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oa.sqlite3");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut rng = Xorshift(seed);
    let exe = std::env::current_exe().unwrap();
    let mut committed: Vec<(String, String)> = Vec::new();
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args(["--exact", "store::crash::crash_writer", "--nocapture"])
            .args(["--test-threads", "1"])
            .env(WRITER_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let wanted = rng.below(24);
        let mut seen = 0;
        while seen < wanted {
            let Some(line) = lines.next() else { break };
            if let Some(entry) = parse(&line.unwrap()) {
                committed.push(entry);
                seen += 1;
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
        child.kill().unwrap();
        // Lines written before the kill are commits too.
        for line in lines {
            committed.extend(parse(&line.unwrap()));
        }
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round} (seed {seed}): the writer ended by itself"
        );

        let conn = rusqlite::Connection::open(&path).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok", "round {round} (seed {seed})");
        let dangling: i64 = conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(dangling, 0, "round {round} (seed {seed})");
        for (kind, id) in &committed {
            let table = if kind == "message" {
                "messages"
            } else {
                "contribution_events"
            };
            let found: bool = conn
                .query_row(
                    &format!("SELECT EXISTS (SELECT 1 FROM {table} WHERE id = ?1)"),
                    [id],
                    |r| r.get(0),
                )
                .unwrap();
            assert!(found, "round {round} (seed {seed}): lost {kind} {id}");
        }
        drop(conn);
        Store::open(&path).unwrap();
    }
    assert!(
        committed.len() >= KILLS,
        "the writer committed too little to test anything: {}",
        committed.len()
    );
}

/// Reads a report line. The harness may have written its own text before the first one on the
/// same line ("test … ... "), so the report is looked for anywhere in the line.
fn parse(line: &str) -> Option<(String, String)> {
    let (_, report) = line.split_once(COMMITTED)?;
    let (kind, id) = report.split_once(' ')?;
    Some((kind.to_owned(), id.to_owned()))
}
