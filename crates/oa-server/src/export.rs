//! `oa-server export`: the finished trees as Open-Assistant's `*.trees.jsonl` and
//! `*.messages.jsonl`, optionally gzipped.
//!
//! Streaming, in constant memory: one query returns the messages of every `ready_for_export` tree
//! ordered by tree, and only one tree at a time is held. The database side only reads rows and
//! groups them; a writer thread builds the records, serialises and compresses them, so the two
//! overlap. Deleted (retracted or moderated) and rejected messages are left out with everything
//! below them. Each message carries its consensus `rank`, its label means and counts, and its
//! emoji counts. Files are written under a temporary name and renamed when complete, so a reader
//! never sees half an export.
//!
//! `user_id` is a contributor id of this export alone: a keyed hash of the account id with a key
//! drawn for the export and then forgotten. Within one export a person's messages share an id;
//! it cannot be matched with the account id the leaderboard shows, nor with another export's.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::TryStreamExt as _;
use oa_types::{OasstLabel, OasstMessage, TREE_STATE_READY_FOR_EXPORT, Uuid};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;

use crate::{Error, Result};

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Trees written.
    pub trees: u64,
    /// Messages written (each appears once in each file).
    pub messages: u64,
    /// The trees file.
    pub trees_path: PathBuf,
    /// The messages file.
    pub messages_path: PathBuf,
}

/// The contributor ids of one export: a keyed SHA-256 of the account id, as a UUID (version 8).
struct Pseudonyms {
    key: [u8; 32],
}

impl Pseudonyms {
    /// A fresh key for one export.
    fn new() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Pseudonyms { key }
    }

    fn of(&self, account: Uuid) -> Uuid {
        let digest = Sha256::new()
            .chain_update(b"oa-export-contributor\0")
            .chain_update(self.key)
            .chain_update(account.as_bytes())
            .finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        // Version 8 (custom) and the RFC 4122 variant, so it reads as the UUID it claims to be.
        bytes[6] = (bytes[6] & 0x0f) | 0x80;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Uuid::from_bytes(bytes)
    }
}

/// One message row as the export query returns it.
struct Row {
    id: Uuid,
    tree_id: Uuid,
    parent_id: Option<Uuid>,
    account_id: Uuid,
    created_date: String,
    text: String,
    role: String,
    review_count: i32,
    rank: Option<i32>,
    synthetic: bool,
    model_name: Option<String>,
    emojis: Option<sqlx::types::Json<BTreeMap<String, u32>>>,
    labels: Option<sqlx::types::Json<BTreeMap<String, OasstLabel>>>,
    lang: Option<String>,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for Row {
    fn from_row(row: &'r sqlx::postgres::PgRow) -> sqlx::Result<Self> {
        use sqlx::Row as _;
        Ok(Row {
            id: row.try_get(0)?,
            tree_id: row.try_get(1)?,
            parent_id: row.try_get(2)?,
            account_id: row.try_get(3)?,
            created_date: row.try_get(4)?,
            text: row.try_get(5)?,
            role: row.try_get(6)?,
            review_count: row.try_get(7)?,
            rank: row.try_get(8)?,
            synthetic: row.try_get(9)?,
            model_name: row.try_get(10)?,
            emojis: row.try_get(11)?,
            labels: row.try_get(12)?,
            lang: row.try_get(13)?,
        })
    }
}

const EXPORT_SQL: &str = "\
    SELECT m.id, m.tree_id, m.parent_id, m.account_id, \
           to_char(m.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '+00:00', \
           m.text, m.role, m.review_count, m.rank, m.synthetic, m.model_name, \
           (SELECT jsonb_object_agg(e.emoji, e.n) FROM \
                (SELECT emoji, count(*) AS n FROM reactions r WHERE r.message_id = m.id \
                 GROUP BY emoji) e), \
           (SELECT jsonb_object_agg(x.key, jsonb_build_object('value', x.v, 'count', x.c)) FROM \
                (SELECT key, avg(value::float8) AS v, count(*) AS c \
                 FROM labels l, jsonb_each_text(l.labels) \
                 WHERE l.message_id = m.id AND NOT l.retracted GROUP BY key) x), \
           m.lang \
    FROM message_trees t JOIN messages m ON m.tree_id = t.id \
    WHERE t.state = 'ready_for_export' AND NOT m.deleted AND m.review_state = 'accepted' \
    ORDER BY t.id, m.depth, m.created_at, m.id";

/// Writes `<dir>/<prefix>.trees.jsonl` and `<dir>/<prefix>.messages.jsonl` (`.gz` appended when
/// `gzip`) from every tree that is ready for export.
pub async fn export(pool: &PgPool, dir: &Path, prefix: &str, gzip: bool) -> Result<ExportSummary> {
    let suffix = if gzip { ".jsonl.gz" } else { ".jsonl" };
    let trees_path = dir.join(format!("{prefix}.trees{suffix}"));
    let messages_path = dir.join(format!("{prefix}.messages{suffix}"));
    let (sender, receiver) = mpsc::sync_channel::<Vec<Row>>(256);
    let writer = {
        let trees_path = trees_path.clone();
        let messages_path = messages_path.clone();
        std::thread::spawn(move || write_files(receiver, &trees_path, &messages_path, gzip))
    };

    let mut rows = sqlx::query_as::<_, Row>(EXPORT_SQL).fetch(pool);
    let mut tree: Vec<Row> = Vec::new();
    let mut failed = None;
    loop {
        match rows.try_next().await {
            Ok(Some(row)) => {
                if tree
                    .first()
                    .is_some_and(|first| first.tree_id != row.tree_id)
                    && sender.send(std::mem::take(&mut tree)).is_err()
                {
                    break;
                }
                tree.push(row);
            }
            Ok(None) => {
                if !tree.is_empty() {
                    let _ = sender.send(tree);
                }
                break;
            }
            Err(error) => {
                failed = Some(Error::from(error));
                break;
            }
        }
    }
    drop(sender);
    let written = writer
        .join()
        .map_err(|_| Error::Internal("the export writer thread panicked".into()))?;
    if let Some(error) = failed {
        return Err(error);
    }
    let (trees, messages) = written?;
    Ok(ExportSummary {
        trees,
        messages,
        trees_path,
        messages_path,
    })
}

fn io_error(what: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |error| Error::Internal(format!("writing {}: {error}", what.display()))
}

fn open(path: &Path, gzip: bool) -> Result<(Box<dyn Write>, PathBuf)> {
    let partial = path.with_extension("partial");
    let file = BufWriter::with_capacity(1 << 20, File::create(&partial).map_err(io_error(path))?);
    let writer: Box<dyn Write> = if gzip {
        Box::new(GzEncoder::new(file, Compression::fast()))
    } else {
        Box::new(file)
    };
    Ok((writer, partial))
}

/// The writer thread: builds each tree's records and appends them to both files.
fn write_files(
    trees: mpsc::Receiver<Vec<Row>>,
    trees_path: &Path,
    messages_path: &Path,
    gzip: bool,
) -> Result<(u64, u64)> {
    let (mut trees_out, trees_partial) = open(trees_path, gzip)?;
    let (mut messages_out, messages_partial) = open(messages_path, gzip)?;
    let (mut tree_count, mut message_count) = (0u64, 0u64);
    let mut line = Vec::with_capacity(1 << 16);
    let pseudonyms = Pseudonyms::new();
    for rows in trees {
        let Some(tree) = FlatTree::build(rows, &pseudonyms) else {
            continue;
        };
        tree_count += 1;
        // The messages file lists the tree's messages flat, root first, each before its replies.
        for index in tree.preorder() {
            let mut flat = tree.messages[index].clone();
            flat.message_tree_id = Some(tree.tree_id);
            flat.tree_state = Some(TREE_STATE_READY_FOR_EXPORT.to_owned());
            line.clear();
            serde_json::to_writer(&mut line, &flat)
                .map_err(|e| Error::Internal(format!("encoding a message: {e}")))?;
            line.push(b'\n');
            messages_out
                .write_all(&line)
                .map_err(io_error(messages_path))?;
            message_count += 1;
        }
        line.clear();
        tree.write_nested(&mut line)?;
        line.push(b'\n');
        trees_out.write_all(&line).map_err(io_error(trees_path))?;
    }
    trees_out.flush().map_err(io_error(trees_path))?;
    messages_out.flush().map_err(io_error(messages_path))?;
    drop(trees_out);
    drop(messages_out);
    std::fs::rename(&trees_partial, trees_path).map_err(io_error(trees_path))?;
    std::fs::rename(&messages_partial, messages_path).map_err(io_error(messages_path))?;
    Ok((tree_count, message_count))
}

/// One tree's messages side by side, each with the indices of its replies: a tree of any depth
/// is walked with a stack of our own, never the call stack (a chain of 100,000 replies would
/// overflow it when nested structs are built, serialised or dropped).
struct FlatTree {
    tree_id: Uuid,
    /// The root first; no message holds its replies.
    messages: Vec<OasstMessage>,
    children: Vec<Vec<usize>>,
}

/// A step of writing the nested tree.
enum Step {
    Message(usize),
    Comma,
    Close,
}

impl FlatTree {
    /// Links one tree's rows (ordered by depth) to their parents; rows whose parent is missing
    /// (deleted or rejected) are dropped with their descendants. `None` when the root is
    /// missing.
    fn build(rows: Vec<Row>, pseudonyms: &Pseudonyms) -> Option<FlatTree> {
        let tree_id = rows.first()?.tree_id;
        let mut messages: Vec<OasstMessage> = Vec::with_capacity(rows.len());
        let mut children: Vec<Vec<usize>> = Vec::with_capacity(rows.len());
        let mut index: HashMap<Uuid, usize> = HashMap::with_capacity(rows.len());
        for row in rows {
            let parent = match row.parent_id {
                None if row.id == tree_id && messages.is_empty() => None,
                None => continue,
                Some(parent) => match index.get(&parent) {
                    Some(&i) => Some(i),
                    None => continue,
                },
            };
            let at = messages.len();
            index.insert(row.id, at);
            if let Some(parent) = parent {
                children[parent].push(at);
            }
            children.push(Vec::new());
            messages.push(OasstMessage {
                message_id: row.id,
                parent_id: row.parent_id,
                user_id: Some(pseudonyms.of(row.account_id)),
                created_date: row.created_date,
                text: row.text,
                role: row.role,
                lang: row.lang,
                review_count: row.review_count.max(0) as u32,
                review_result: Some(true),
                deleted: false,
                rank: row.rank.map(|r| r.max(0) as u32),
                synthetic: row.synthetic,
                model_name: row.model_name,
                detoxify: None,
                message_tree_id: None,
                tree_state: None,
                emojis: row.emojis.map(|e| e.0),
                replies: None,
                labels: row.labels.map(|l| l.0),
            });
        }
        (!messages.is_empty()).then_some(FlatTree {
            tree_id,
            messages,
            children,
        })
    }

    /// Message indices root first, each before its replies, replies in order.
    fn preorder(&self) -> Vec<usize> {
        let mut order = Vec::with_capacity(self.messages.len());
        let mut stack = vec![0];
        while let Some(index) = stack.pop() {
            order.push(index);
            stack.extend(self.children[index].iter().rev());
        }
        order
    }

    /// Writes the tree as one `OasstTree` JSON object, replies nested in `replies`.
    fn write_nested(&self, out: &mut Vec<u8>) -> Result<()> {
        let encode = |e: serde_json::Error| Error::Internal(format!("encoding a tree: {e}"));
        out.extend_from_slice(b"{\"message_tree_id\":");
        serde_json::to_writer(&mut *out, &self.tree_id).map_err(encode)?;
        out.extend_from_slice(b",\"tree_state\":");
        serde_json::to_writer(&mut *out, TREE_STATE_READY_FOR_EXPORT).map_err(encode)?;
        out.extend_from_slice(b",\"prompt\":");
        let mut steps = vec![Step::Message(0)];
        while let Some(step) = steps.pop() {
            match step {
                Step::Comma => out.push(b','),
                Step::Close => out.extend_from_slice(b"]}"),
                Step::Message(index) => {
                    let start = out.len();
                    serde_json::to_writer(&mut *out, &self.messages[index]).map_err(encode)?;
                    let replies = &self.children[index];
                    if replies.is_empty() {
                        continue;
                    }
                    // Reopen the object just written and nest the replies in it.
                    if out.last() != Some(&b'}') || out.len() - start < 2 {
                        return Err(Error::Internal(
                            "a message did not encode as an object".into(),
                        ));
                    }
                    out.pop();
                    out.extend_from_slice(b",\"replies\":[");
                    steps.push(Step::Close);
                    for (n, &reply) in replies.iter().enumerate().rev() {
                        steps.push(Step::Message(reply));
                        if n > 0 {
                            steps.push(Step::Comma);
                        }
                    }
                }
            }
        }
        out.push(b'}');
        Ok(())
    }
}
