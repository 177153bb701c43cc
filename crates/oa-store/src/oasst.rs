//! Export to and import from Open-Assistant's oasst dataset format.
//!
//! Each root prompt and everything below it is one tree; its `message_tree_id` is the root's id,
//! as in Open-Assistant's own exports. A conversation whose first prompt was edited has several
//! roots and so becomes several trees. Output is reproducible: trees, and replies within a tree,
//! are ordered by creation (then id), and every map by key.
//!
//! The store keeps one person's feedback, so an export has each reaction with a count of 1 and
//! each label with a count of 1; a reply's `rank` is its place in the ranking of its parent's
//! replies. Import reads trees back as new conversations with the same message ids and shape,
//! in one transaction: a bad line stops it with the line's number and nothing stored. What the
//! format cannot carry is not invented: an imported model reply keeps its model's name as the
//! only provenance, and imported messages and feedback are not queued for sharing (they come
//! from a dataset, not from the person). Review state, deletion flags, user ids and toxicity
//! scores of an imported file are not kept; labels given by several people (`count` above 1)
//! and rankings that leave a reply out are not kept either, since the store holds one person's
//! complete judgements only.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use oa_types::{
    Emoji, Labels, Message, OasstImportSummary, OasstLabel, OasstMessage, OasstTree, Provenance,
    Ranking, Role, SamplerParams, TREE_STATE_READY_FOR_EXPORT, TextLabel, Uuid,
};
use rusqlite::{Transaction, params};

use crate::store::{
    MESSAGE_COLUMN_COUNT, MESSAGE_COLUMNS, message_from_row, parse_uuid, title_from,
};
use crate::{ImportProblem, Result, Store, StoreError};

/// `engine_version` of the provenance given to imported model replies, whose real provenance
/// the oasst format does not carry.
pub const IMPORTED_ENGINE_VERSION: &str = "oasst import";

/// Deepest JSON nesting an import follows (two levels per message: the object and its
/// `replies`), so that a hostile file cannot exhaust the stack.
const MAX_JSON_DEPTH: usize = 512;

/// A stored message with what the export needs beside it.
struct Stored {
    message: Message,
    lang: Option<String>,
}

impl Store {
    /// Every message tree in the store, oldest root first, replies nested oldest first.
    pub fn oasst_trees(&self) -> Result<Vec<OasstTree>> {
        let messages: Vec<Stored> = {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT {MESSAGE_COLUMNS}, m.lang FROM messages m ORDER BY m.created_at, m.id"
            ))?;
            let rows = stmt.query_map([], |r| {
                Ok((message_from_row(r)?, r.get(MESSAGE_COLUMN_COUNT)?))
            })?;
            rows.map(|row| {
                let (raw, lang) = row?;
                Ok(Stored {
                    message: raw.into_message()?,
                    lang,
                })
            })
            .collect::<Result<_>>()?
        };
        let mut labels: HashMap<Uuid, Labels> = HashMap::new();
        let mut ranks: HashMap<Uuid, u32> = HashMap::new();
        {
            let mut stmt = self.conn.prepare(
                "SELECT message_id, kind, value FROM feedback WHERE kind IN ('labels', 'ranking')",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            for row in rows {
                let (id, kind, value) = row?;
                let id = parse_uuid(&id)?;
                let corrupt =
                    |e: serde_json::Error| StoreError::Corrupt(format!("{kind} on {id}: {e}"));
                if kind == "labels" {
                    labels.insert(id, serde_json::from_str(&value).map_err(corrupt)?);
                } else if let Ranking::Ranked(order) =
                    serde_json::from_str(&value).map_err(corrupt)?
                {
                    for (place, reply) in order.into_iter().enumerate() {
                        ranks.insert(reply, u32::try_from(place).unwrap_or(u32::MAX));
                    }
                }
            }
        }
        let mut emojis: HashMap<Uuid, BTreeMap<String, u32>> = HashMap::new();
        {
            let mut stmt = self
                .conn
                .prepare("SELECT message_id, emoji FROM reactions")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
            for row in rows {
                let (id, code) = row?;
                emojis.entry(parse_uuid(&id)?).or_default().insert(code, 1);
            }
        }

        let mut children: HashMap<Uuid, Vec<usize>> = HashMap::new();
        let mut roots = Vec::new();
        for (index, stored) in messages.iter().enumerate() {
            match stored.message.parent_id {
                Some(parent) => children.entry(parent).or_default().push(index),
                None => roots.push(index),
            }
        }
        let export = TreeExport {
            messages: &messages,
            children: &children,
            labels: &labels,
            ranks: &ranks,
            emojis: &emojis,
        };
        Ok(roots
            .into_iter()
            .map(|root| OasstTree {
                message_tree_id: messages[root].message.id,
                tree_state: TREE_STATE_READY_FOR_EXPORT.to_owned(),
                prompt: export.node(root),
            })
            .collect())
    }

    /// Writes the oasst export: one tree per line to `trees`, and every message, flat, one per
    /// line to `messages` (trees in order, each tree's messages depth first).
    pub fn write_oasst(&self, messages: &mut impl Write, trees: &mut impl Write) -> Result<()> {
        let export_err = |e: std::io::Error| StoreError::Export(e.to_string());
        for tree in self.oasst_trees()? {
            let mut line =
                serde_json::to_vec(&tree).map_err(|e| StoreError::Export(e.to_string()))?;
            line.push(b'\n');
            trees.write_all(&line).map_err(export_err)?;
            let mut pending = vec![&tree.prompt];
            while let Some(node) = pending.pop() {
                let flat = OasstMessage {
                    message_tree_id: Some(tree.message_tree_id),
                    tree_state: Some(tree.tree_state.clone()),
                    replies: None,
                    ..node.clone()
                };
                let mut line =
                    serde_json::to_vec(&flat).map_err(|e| StoreError::Export(e.to_string()))?;
                line.push(b'\n');
                messages.write_all(&line).map_err(export_err)?;
                pending.extend(node.replies.iter().flatten().rev());
            }
        }
        messages.flush().map_err(export_err)?;
        trees.flush().map_err(export_err)?;
        Ok(())
    }

    /// Writes `<name>.messages.jsonl` and `<name>.trees.jsonl` into `dir` (replacing them) and
    /// returns their paths, messages file first.
    pub fn export_oasst_files(&self, dir: &Path, name: &str) -> Result<(PathBuf, PathBuf)> {
        let export_err = |e: std::io::Error| StoreError::Export(e.to_string());
        let messages_path = dir.join(format!("{name}.messages.jsonl"));
        let trees_path = dir.join(format!("{name}.trees.jsonl"));
        let mut messages =
            std::io::BufWriter::new(std::fs::File::create(&messages_path).map_err(export_err)?);
        let mut trees =
            std::io::BufWriter::new(std::fs::File::create(&trees_path).map_err(export_err)?);
        self.write_oasst(&mut messages, &mut trees)?;
        Ok((messages_path, trees_path))
    }

    /// Imports an oasst trees file (one tree per line; blank lines are skipped), each tree as a
    /// new conversation, all in one transaction: on any error nothing is stored.
    pub fn import_oasst_trees(&mut self, input: impl BufRead) -> Result<OasstImportSummary> {
        let tx = self.conn.transaction()?;
        let mut summary = OasstImportSummary {
            conversations: Vec::new(),
            messages: 0,
        };
        let mut seen = HashSet::new();
        for (index, line) in input.lines().enumerate() {
            let number = index + 1;
            let at = |problem| StoreError::Import {
                line: number,
                problem,
            };
            let line = line.map_err(|e| at(ImportProblem::Unreadable(e.to_string())))?;
            if line.trim().is_empty() {
                continue;
            }
            let tree = parse_tree(&line).map_err(at)?;
            let mut import = TreeImport {
                tx: &tx,
                seen: &mut seen,
                conversation_id: Uuid::now_v7(),
                stored: 0,
                newest_leaf: None,
            };
            import.tree(&tree).map_err(|e| match e {
                ImportError::Problem(p) => at(p),
                ImportError::Store(e) => e,
            })?;
            summary.messages += import.stored;
            summary.conversations.push(import.conversation_id);
        }
        tx.commit()?;
        Ok(summary)
    }
}

struct TreeExport<'a> {
    messages: &'a [Stored],
    children: &'a HashMap<Uuid, Vec<usize>>,
    labels: &'a HashMap<Uuid, Labels>,
    ranks: &'a HashMap<Uuid, u32>,
    emojis: &'a HashMap<Uuid, BTreeMap<String, u32>>,
}

impl TreeExport<'_> {
    fn node(&self, index: usize) -> OasstMessage {
        let Stored { message, lang } = &self.messages[index];
        let replies = self
            .children
            .get(&message.id)
            .map(|kids| kids.iter().map(|&kid| self.node(kid)).collect());
        OasstMessage {
            message_id: message.id,
            parent_id: message.parent_id,
            user_id: None,
            created_date: iso8601(message.created_at_ms),
            text: message.text.clone(),
            role: message.role.as_str().to_owned(),
            lang: lang.clone(),
            review_count: 0,
            review_result: None,
            deleted: false,
            rank: self.ranks.get(&message.id).copied(),
            synthetic: message.is_synthetic(),
            model_name: message.provenance.as_ref().map(|p| p.model_id.clone()),
            detoxify: None,
            message_tree_id: None,
            tree_state: None,
            emojis: self.emojis.get(&message.id).cloned(),
            replies: Some(replies.unwrap_or_default()),
            labels: self.labels.get(&message.id).map(|labels| {
                labels
                    .0
                    .iter()
                    .map(|(label, value)| {
                        let label_value = OasstLabel {
                            value: f64::from(*value),
                            count: 1,
                        };
                        (label.as_str().to_owned(), label_value)
                    })
                    .collect()
            }),
        }
    }
}

/// Why storing a tree stopped: a problem with the file, or the database failing.
enum ImportError {
    Problem(ImportProblem),
    Store(StoreError),
}

impl From<ImportProblem> for ImportError {
    fn from(problem: ImportProblem) -> Self {
        ImportError::Problem(problem)
    }
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        ImportError::Store(e)
    }
}

impl From<rusqlite::Error> for ImportError {
    fn from(e: rusqlite::Error) -> Self {
        ImportError::Store(e.into())
    }
}

fn parse_tree(line: &str) -> Result<OasstTree, ImportProblem> {
    if json_depth(line) > MAX_JSON_DEPTH {
        return Err(ImportProblem::TooDeep(MAX_JSON_DEPTH));
    }
    let malformed = |e: serde_json::Error| ImportProblem::Malformed(e.to_string());
    let mut de = serde_json::Deserializer::from_str(line);
    // The depth was bounded above; serde_json's own limit would refuse long conversations.
    de.disable_recursion_limit();
    let tree = serde::Deserialize::deserialize(&mut de).map_err(malformed)?;
    de.end().map_err(malformed)?;
    Ok(tree)
}

/// How deeply objects and arrays nest in a JSON text (strings skipped).
fn json_depth(json: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in json.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    deepest
}

/// Stores one tree as a new conversation, in the import's transaction.
struct TreeImport<'a, 'c> {
    tx: &'a Transaction<'c>,
    /// Message ids seen earlier in the file.
    seen: &'a mut HashSet<Uuid>,
    conversation_id: Uuid,
    /// Messages stored so far.
    stored: u32,
    /// The newest leaf so far (created, id): where the conversation's current path ends.
    newest_leaf: Option<(i64, Uuid)>,
}

impl TreeImport<'_, '_> {
    fn tree(&mut self, tree: &OasstTree) -> Result<(), ImportError> {
        let root = &tree.prompt;
        let created = created_ms(root)?;
        self.tx.execute(
            "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
            params![
                self.conversation_id.to_string(),
                title_from(&root.text),
                created
            ],
        )?;
        self.message(root, None)?;
        if let Some((created, leaf)) = self.newest_leaf {
            self.tx.execute(
                "UPDATE conversations SET current_leaf_id = ?1, updated_at = max(updated_at, ?2)
                 WHERE id = ?3",
                params![leaf.to_string(), created, self.conversation_id.to_string()],
            )?;
        }
        Ok(())
    }

    fn message(&mut self, node: &OasstMessage, parent: Option<Uuid>) -> Result<(), ImportError> {
        let id = node.message_id;
        if node.parent_id != parent {
            return Err(ImportProblem::MissingParent {
                message: id,
                parent: node.parent_id,
            }
            .into());
        }
        let role = Role::parse(&node.role).ok_or_else(|| ImportProblem::UnknownRole {
            message: id,
            role: node.role.clone(),
        })?;
        if node.text.trim().is_empty() {
            return Err(ImportProblem::EmptyText(id).into());
        }
        let created = created_ms(node)?;
        if node.synthetic && role == Role::Prompter {
            return Err(ImportProblem::SyntheticPrompt(id).into());
        }
        let exists: bool = self.tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1)",
            [id.to_string()],
            |r| r.get(0),
        )?;
        if exists || !self.seen.insert(id) {
            return Err(ImportProblem::DuplicateMessage(id).into());
        }
        let provenance = node
            .synthetic
            .then(|| imported_provenance(node.model_name.as_deref()));
        let provenance = provenance
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::InvalidInput(format!("provenance: {e}")))?;
        self.tx.execute(
            "INSERT INTO messages
                 (id, conversation_id, parent_id, role, text, created_at, provenance, lang)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id.to_string(),
                self.conversation_id.to_string(),
                parent.map(|p| p.to_string()),
                role.as_str(),
                node.text,
                created,
                provenance,
                node.lang,
            ],
        )?;
        self.stored += 1;
        self.feedback(node, created)?;

        let replies = node.replies.as_deref().unwrap_or_default();
        for reply in replies {
            self.message(reply, Some(id))?;
        }
        if replies.is_empty() && self.newest_leaf.is_none_or(|newest| (created, id) > newest) {
            self.newest_leaf = Some((created, id));
        }
        self.ranking(id, replies, created)
    }

    /// Restores reactions and one person's labels; aggregated labels (given by several people)
    /// are not something the store keeps, so they are left out.
    fn feedback(&mut self, node: &OasstMessage, created: i64) -> Result<(), ImportError> {
        let id = node.message_id;
        let bad = |error| ImportProblem::Feedback { message: id, error };
        for (code, count) in node.emojis.iter().flatten() {
            if *count == 0 {
                continue;
            }
            let emoji = Emoji::parse(code).map_err(bad)?;
            self.tx.execute(
                "INSERT INTO reactions (message_id, emoji, created_at) VALUES (?1, ?2, ?3)",
                params![id.to_string(), emoji.code(), created],
            )?;
        }
        let mut labels = Labels::default();
        for (name, label) in node.labels.iter().flatten() {
            let text_label = TextLabel::parse(name).map_err(bad)?;
            if label.count != 1 {
                continue;
            }
            let value = label.value as f32;
            text_label.validate(value).map_err(bad)?;
            labels.0.insert(text_label, value);
        }
        if !labels.0.is_empty() {
            self.write_feedback(id, "labels", &labels, created)?;
        }
        Ok(())
    }

    /// Restores a ranking of the replies when their ranks order all of them; a partial ranking
    /// is not something the store keeps.
    fn ranking(
        &mut self,
        parent: Uuid,
        replies: &[OasstMessage],
        created: i64,
    ) -> Result<(), ImportError> {
        let mut ranked: Vec<(u32, Uuid)> = replies
            .iter()
            .filter_map(|r| r.rank.map(|rank| (rank, r.message_id)))
            .collect();
        if ranked.is_empty() {
            return Ok(());
        }
        ranked.sort_by_key(|(rank, _)| *rank);
        let ranking = Ranking::Ranked(ranked.into_iter().map(|(_, id)| id).collect());
        let ids: Vec<Uuid> = replies.iter().map(|r| r.message_id).collect();
        if ranking.validate_against(&ids).is_ok() {
            self.write_feedback(parent, "ranking", &ranking, created)?;
        }
        Ok(())
    }

    fn write_feedback(
        &mut self,
        message: Uuid,
        kind: &str,
        value: &impl serde::Serialize,
        at: i64,
    ) -> Result<(), ImportError> {
        let value = serde_json::to_string(value)
            .map_err(|e| StoreError::InvalidInput(format!("{kind}: {e}")))?;
        self.tx.execute(
            "INSERT INTO feedback (message_id, kind, value, updated_at) VALUES (?1, ?2, ?3, ?4)",
            params![message.to_string(), kind, value, at],
        )?;
        Ok(())
    }
}

/// The provenance the oasst format lets an imported model reply keep: the model's name.
fn imported_provenance(model_name: Option<&str>) -> Provenance {
    Provenance {
        model_id: model_name.unwrap_or("unknown model").to_owned(),
        model_sha256: String::new(),
        quantization: String::new(),
        architecture: String::new(),
        chat_template_sha256: String::new(),
        sampler: SamplerParams::default(),
        engine_version: IMPORTED_ENGINE_VERSION.to_owned(),
        prompt_tokens: 0,
        completion_tokens: 0,
        time_to_first_token_ms: 0,
        total_ms: 0,
        stopped: false,
        dropped_messages: 0,
    }
}

fn created_ms(node: &OasstMessage) -> Result<i64, ImportProblem> {
    parse_iso8601(&node.created_date).ok_or_else(|| ImportProblem::BadDate {
        message: node.message_id,
        date: node.created_date.clone(),
    })
}

const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the epoch as Open-Assistant writes dates: `2023-02-05T14:23:50.983000+00:00`.
fn iso8601(ms: i64) -> String {
    let (year, month, day) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let of_day = ms.rem_euclid(MS_PER_DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}+00:00",
        of_day / 3_600_000,
        of_day / 60_000 % 60,
        of_day / 1000 % 60,
        of_day % 1000 * 1000
    )
}

/// Reads `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` back to milliseconds since the epoch
/// (digits past the millisecond are dropped).
fn parse_iso8601(text: &str) -> Option<i64> {
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = text.get(from..from + len)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let bytes = text.as_bytes();
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if bytes.len() < 19
        || separators.iter().any(|&(at, sep)| bytes[at] != sep)
        || !matches!(bytes[10], b'T' | b't' | b' ')
    {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    let days = days_from_civil(year, month, day);
    if !(1..=12).contains(&month)
        || civil_from_days(days) != (year, month, day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut millis = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return None;
        }
        let padded = format!("{:0<3}", &fraction[..len.min(3)]);
        millis = padded.parse::<i64>().ok()?;
        rest = &fraction[len..];
    }
    let offset_minutes = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (
                std::str::from_utf8(&[*h1, *h2]).ok()?.parse::<i64>().ok()?,
                std::str::from_utf8(&[*m1, *m2]).ok()?.parse::<i64>().ok()?,
            );
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'-' {
                -(h * 60 + m)
            } else {
                h * 60 + m
            }
        }
        _ => return None,
    };
    Some(
        days * MS_PER_DAY + hour * 3_600_000 + minute * 60_000 + second * 1000 + millis
            - offset_minutes * 60_000,
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day counted from 1970-01-01, the inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_open_assistant_does_and_read_back() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000+00:00");
        let ms = 1_675_607_030_983;
        assert_eq!(iso8601(ms), "2023-02-05T14:23:50.983000+00:00");
        assert_eq!(parse_iso8601(&iso8601(ms)), Some(ms));
        assert_eq!(parse_iso8601("2023-02-05T14:23:50.983374Z"), Some(ms));
        assert_eq!(parse_iso8601("2023-02-05T15:23:50.983+01:00"), Some(ms));
        assert_eq!(
            parse_iso8601("2024-02-29T00:00:00Z")
                .map(iso8601)
                .as_deref(),
            Some("2024-02-29T00:00:00.000000+00:00")
        );
        for bad in [
            "2023-02-30T00:00:00Z",
            "2023-02-05",
            "2023-02-05T14:23:50",
            "yesterday",
            "2023-02-05T14:23:50.+00:00",
            "2023-13-01T00:00:00Z",
            "2023-02-05T24:00:00Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
        for days in [-800_000, -1, 0, 59, 19_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn nesting_depth_ignores_brackets_in_strings() {
        assert_eq!(json_depth(r#"{"a": [1, {"b": "[[[{\"}"}]}"#), 3);
        assert_eq!(json_depth("[]"), 1);
    }
}
