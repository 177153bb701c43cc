//! Token sampling: candle-transformers' logits processor (temperature, top-k, top-p, seeded
//! draws) after an optional mask of allowed tokens, the penalties and min-p; the chosen token's
//! log-probability and its likeliest alternatives; and stop strings ([`StopMatcher`]).

use candle_core::Tensor;
use candle_transformers::generation::{LogitsProcessor, Sampling};
use oa_types::SamplerParams;

use crate::{EngineError, Result};

/// Chooses the next token from the model's logits.
pub struct Sampler {
    processor: LogitsProcessor,
    repeat_penalty: f32,
    repeat_last_n: usize,
    presence_penalty: f32,
    frequency_penalty: f32,
    min_p: f32,
}

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("repeat_penalty", &self.repeat_penalty)
            .field("repeat_last_n", &self.repeat_last_n)
            .finish_non_exhaustive()
    }
}

impl Sampler {
    /// A sampler for the given settings; rejects settings that cannot be right.
    pub fn new(params: &SamplerParams) -> Result<Sampler> {
        validate(params)?;
        let temperature = f64::from(params.temperature);
        let top_p = f64::from(params.top_p);
        let k = params.top_k as usize;
        let sampling = if temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            match (k > 0, top_p < 1.0) {
                (true, true) => Sampling::TopKThenTopP {
                    k,
                    p: top_p,
                    temperature,
                },
                (true, false) => Sampling::TopK { k, temperature },
                (false, true) => Sampling::TopP {
                    p: top_p,
                    temperature,
                },
                (false, false) => Sampling::All { temperature },
            }
        };
        Ok(Sampler {
            processor: LogitsProcessor::from_sampling(params.seed, sampling),
            repeat_penalty: params.repeat_penalty,
            repeat_last_n: params.repeat_last_n as usize,
            presence_penalty: params.presence_penalty,
            frequency_penalty: params.frequency_penalty,
            min_p: params.min_p,
        })
    }

    /// Picks the next token; `history` holds the tokens so far (prompt and reply).
    pub fn sample(&mut self, logits: &Tensor, history: &[u32]) -> Result<u32> {
        Ok(self.sample_with(logits, history, None, None)?.id)
    }

    /// Picks the next token among those `allowed` (all when `None`): the others' logits are
    /// set to -∞ before the penalties, min-p, temperature, top-k and top-p. With
    /// `top_logprobs = Some(n)` also reports the chosen token's log-probability and the `n`
    /// likeliest tokens (at most [`MAX_TOP_LOGPROBS`]) under the model's own distribution: the
    /// log-softmax of the logits before the mask and every sampling setting, as OpenAI reports
    /// them. A mask that allows no token is [`EngineError::ConstraintFailed`].
    pub fn sample_with(
        &mut self,
        logits: &Tensor,
        history: &[u32],
        allowed: Option<&AllowedTokens>,
        top_logprobs: Option<u8>,
    ) -> Result<SampledToken> {
        let repeat = self.repeat_penalty != 1.0 && self.repeat_last_n > 0;
        let needs_own =
            self.presence_penalty != 0.0 || self.frequency_penalty != 0.0 || self.min_p > 0.0;
        if allowed.is_none() && top_logprobs.is_none() && !needs_own {
            // The plain path: no copy of the logits beyond what candle makes.
            let id = if repeat {
                let start = history.len().saturating_sub(self.repeat_last_n);
                let logits = candle_transformers::utils::apply_repeat_penalty(
                    logits,
                    self.repeat_penalty,
                    &history[start..],
                )?;
                self.processor.sample(&logits)?
            } else {
                self.processor.sample(logits)?
            };
            return Ok(SampledToken { id, logprobs: None });
        }
        let raw = logits
            .to_dtype(candle_core::DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        // The model's own logits are kept for the log-probabilities only when asked for.
        let (mut values, raw) = match top_logprobs {
            Some(_) => (raw.clone(), Some(raw)),
            None => (raw, None),
        };
        if let Some(allowed) = allowed {
            allowed.apply(&mut values);
            if !values.iter().any(|v| *v > f32::NEG_INFINITY) {
                return Err(EngineError::ConstraintFailed(format!(
                    "no token may follow here ({} allowed by the format, none of them a token \
                     the model can write)",
                    allowed.count()
                )));
            }
        }
        let start = history.len().saturating_sub(self.repeat_last_n);
        let window = &history[start..];
        if repeat {
            let mut seen = std::collections::HashSet::new();
            for &id in window {
                if seen.insert(id)
                    && let Some(v) = values.get_mut(id as usize)
                {
                    if *v >= 0.0 {
                        *v /= self.repeat_penalty;
                    } else {
                        *v *= self.repeat_penalty;
                    }
                }
            }
        }
        if self.presence_penalty != 0.0 || self.frequency_penalty != 0.0 {
            let mut counts: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
            for &id in window {
                *counts.entry(id).or_default() += 1;
            }
            for (id, n) in counts {
                if let Some(v) = values.get_mut(id as usize) {
                    *v -= self.presence_penalty + self.frequency_penalty * n as f32;
                }
            }
        }
        if self.min_p > 0.0 {
            // p_i / p_max = exp(l_i - l_max), on the logits before temperature, as llama.cpp.
            let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let floor = max + self.min_p.ln();
            for v in &mut values {
                if *v < floor {
                    *v = f32::NEG_INFINITY;
                }
            }
        }
        let len = values.len();
        let id =
            self.processor
                .sample(&Tensor::from_vec(values, len, &candle_core::Device::Cpu)?)?;
        let logprobs = top_logprobs
            .zip(raw)
            .map(|(n, raw)| Logprobs::of(&raw, id, usize::from(n).min(MAX_TOP_LOGPROBS)));
        Ok(SampledToken { id, logprobs })
    }
}

/// Most alternatives [`Sampler::sample_with`] reports for a token, as OpenAI.
pub const MAX_TOP_LOGPROBS: usize = 20;

/// A token the sampler chose.
#[derive(Debug, Clone, PartialEq)]
pub struct SampledToken {
    /// Its id.
    pub id: u32,
    /// How likely the model found it, when asked.
    pub logprobs: Option<Logprobs>,
}

/// How likely the model found a token, and its likeliest tokens at that place: natural
/// logarithms of probabilities under its own distribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Logprobs {
    /// ln p of the chosen token.
    pub chosen: f32,
    /// The likeliest tokens and their ln p, most likely first (lower id first on ties).
    pub top: Vec<(u32, f32)>,
}

impl Logprobs {
    /// The log-softmax of `logits` at `chosen`, and its `n` largest entries.
    pub fn of(logits: &[f32], chosen: u32, n: usize) -> Logprobs {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = logits.iter().map(|&l| f64::from(l - max).exp()).sum();
        let norm = f64::from(max) + sum.ln();
        let logprob = |l: f32| (f64::from(l) - norm).min(0.0) as f32;
        // A short list kept sorted: most logits fall below its last entry at once.
        let mut top: Vec<(u32, f32)> = Vec::with_capacity(n + 1);
        if n > 0 {
            for (id, &l) in logits.iter().enumerate() {
                if l.is_nan() || (top.len() == n && top.last().is_some_and(|&(_, last)| l <= last))
                {
                    continue;
                }
                let at = top.partition_point(|&(_, v)| v >= l);
                top.insert(at, (id as u32, l));
                top.truncate(n);
            }
        }
        Logprobs {
            chosen: logits
                .get(chosen as usize)
                .map_or(f32::NEG_INFINITY, |&l| logprob(l)),
            top: top.into_iter().map(|(id, l)| (id, logprob(l))).collect(),
        }
    }
}

/// The tokens a sampler may choose from: one bit per vocabulary id (bit `id % 32` of word
/// `id / 32`), the layout of llguidance's token sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedTokens {
    words: Vec<u32>,
}

impl AllowedTokens {
    /// A set from its bit words.
    pub fn from_words(words: Vec<u32>) -> AllowedTokens {
        AllowedTokens { words }
    }

    /// A set of the given ids.
    pub fn from_ids(ids: impl IntoIterator<Item = u32>) -> AllowedTokens {
        let mut words = Vec::new();
        for id in ids {
            let word = id as usize / 32;
            if words.len() <= word {
                words.resize(word + 1, 0);
            }
            words[word] |= 1 << (id % 32);
        }
        AllowedTokens { words }
    }

    /// Whether `id` may be chosen.
    pub fn contains(&self, id: u32) -> bool {
        self.words
            .get(id as usize / 32)
            .is_some_and(|w| w & (1 << (id % 32)) != 0)
    }

    /// How many ids may be chosen.
    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The ids that may be chosen, in order.
    pub fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            (0..32)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| (i * 32 + b) as u32)
        })
    }

    /// Sets the logits of the ids not in the set to -∞.
    fn apply(&self, logits: &mut [f32]) {
        let mut chunks = logits.chunks_mut(32);
        for (&w, chunk) in self.words.iter().zip(chunks.by_ref()) {
            match w {
                u32::MAX => {}
                0 => chunk.fill(f32::NEG_INFINITY),
                w => {
                    for (b, v) in chunk.iter_mut().enumerate() {
                        if w & (1 << b) == 0 {
                            *v = f32::NEG_INFINITY;
                        }
                    }
                }
            }
        }
        for chunk in chunks {
            chunk.fill(f32::NEG_INFINITY);
        }
    }
}

/// Finds stop strings in streamed text. Text that might be the start of a stop string is held
/// back until it is known not to be, so no part of a stop string is ever shown.
#[derive(Debug, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    /// A matcher for `stops` (empty strings are ignored).
    pub fn new(stops: &[String]) -> StopMatcher {
        StopMatcher {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    /// Adds a piece of generated text. Returns the text that may be shown now, and whether a
    /// stop string was reached (the text before it is then all that remains to show).
    pub fn push(&mut self, piece: &str) -> (String, bool) {
        self.held.push_str(piece);
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min()
        {
            let shown = self.held[..at].to_owned();
            self.held.clear();
            return (shown, true);
        }
        // Keep the longest end of the text that begins some stop string.
        let keep = self
            .stops
            .iter()
            .flat_map(|s| {
                (1..s.len())
                    .filter(|&n| s.is_char_boundary(n) && self.held.ends_with(&s[..n]))
                    .max()
            })
            .max()
            .unwrap_or(0);
        let cut = self.held.len() - keep;
        let shown = self.held[..cut].to_owned();
        self.held.drain(..cut);
        (shown, false)
    }

    /// Text still held back when the reply ends without a stop string.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

fn validate(p: &SamplerParams) -> Result<()> {
    let fail = |what: &str| Err(EngineError::InvalidRequest(what.to_owned()));
    if !(p.temperature.is_finite() && p.temperature >= 0.0) {
        return fail("temperature must be a number of at least 0");
    }
    if !(p.top_p > 0.0 && p.top_p <= 1.0) {
        return fail("top_p must be above 0 and at most 1");
    }
    if !(p.repeat_penalty.is_finite() && p.repeat_penalty > 0.0) {
        return fail("repeat_penalty must be a positive number");
    }
    if p.max_tokens == 0 {
        return fail("max_tokens must be at least 1");
    }
    if !(0.0..1.0).contains(&p.min_p) {
        return fail("min_p must be at least 0 and below 1");
    }
    for (name, v) in [
        ("presence_penalty", p.presence_penalty),
        ("frequency_penalty", p.frequency_penalty),
    ] {
        if !(-2.0..=2.0).contains(&v) {
            return fail(&format!("{name} must be between -2 and 2"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_picks_the_largest_logit() {
        let logits = Tensor::new(&[0.1f32, 3.0, 0.5, 2.9], &candle_core::Device::Cpu).unwrap();
        let params = SamplerParams {
            temperature: 0.0,
            repeat_penalty: 1.0,
            ..Default::default()
        };
        let mut s = Sampler::new(&params).unwrap();
        assert_eq!(s.sample(&logits, &[]).unwrap(), 1);
    }

    #[test]
    fn repeat_penalty_steers_away_from_recent_tokens() {
        let logits = Tensor::new(&[0.1f32, 3.0, 0.5, 2.9], &candle_core::Device::Cpu).unwrap();
        let params = SamplerParams {
            temperature: 0.0,
            repeat_penalty: 1.5,
            ..Default::default()
        };
        let mut s = Sampler::new(&params).unwrap();
        assert_eq!(s.sample(&logits, &[1]).unwrap(), 3);
    }

    #[test]
    fn nonsense_settings_are_refused() {
        for params in [
            SamplerParams {
                temperature: -1.0,
                ..Default::default()
            },
            SamplerParams {
                top_p: 0.0,
                ..Default::default()
            },
            SamplerParams {
                max_tokens: 0,
                ..Default::default()
            },
            SamplerParams {
                temperature: f32::NAN,
                ..Default::default()
            },
            SamplerParams {
                min_p: 1.0,
                ..Default::default()
            },
            SamplerParams {
                presence_penalty: 5.0,
                ..Default::default()
            },
        ] {
            assert!(matches!(
                Sampler::new(&params),
                Err(EngineError::InvalidRequest(_))
            ));
        }
    }

    fn logits() -> Tensor {
        Tensor::new(&[0.1f32, 3.0, 0.5, 2.9], &candle_core::Device::Cpu).unwrap()
    }

    #[test]
    fn presence_and_frequency_penalties_steer_away_from_used_tokens() {
        let greedy = |presence: f32, frequency: f32, history: &[u32]| {
            let params = SamplerParams {
                temperature: 0.0,
                repeat_penalty: 1.0,
                presence_penalty: presence,
                frequency_penalty: frequency,
                ..Default::default()
            };
            Sampler::new(&params)
                .unwrap()
                .sample(&logits(), history)
                .unwrap()
        };
        assert_eq!(greedy(0.0, 0.0, &[1, 1]), 1);
        assert_eq!(greedy(0.2, 0.0, &[1]), 3, "3.0 - 0.2 < 2.9");
        assert_eq!(greedy(0.0, 0.06, &[1]), 1, "one use: 3.0 - 0.06 > 2.9");
        assert_eq!(greedy(0.0, 0.06, &[1, 1]), 3, "two uses: 3.0 - 0.12 < 2.9");
    }

    #[test]
    fn min_p_leaves_only_tokens_near_the_most_likely() {
        // At a high temperature every token is drawn sometimes, unless min-p removes it:
        // p(2)/p(1) = e^(0.5-3.0) ≈ 0.08 < 0.5, while p(3)/p(1) ≈ 0.9.
        let params = SamplerParams {
            temperature: 5.0,
            top_k: 0,
            top_p: 1.0,
            repeat_penalty: 1.0,
            min_p: 0.5,
            ..Default::default()
        };
        let mut s = Sampler::new(&params).unwrap();
        let drawn: std::collections::BTreeSet<u32> = (0..200)
            .map(|_| s.sample(&logits(), &[]).unwrap())
            .collect();
        assert_eq!(drawn, [1, 3].into());
    }

    fn greedy_params() -> SamplerParams {
        SamplerParams {
            temperature: 0.0,
            repeat_penalty: 1.0,
            ..Default::default()
        }
    }

    #[test]
    fn a_mask_limits_the_choice_to_allowed_tokens() {
        let mut s = Sampler::new(&greedy_params()).unwrap();
        let only = AllowedTokens::from_ids([0, 2]);
        let chosen = s.sample_with(&logits(), &[], Some(&only), None).unwrap();
        assert_eq!(chosen.id, 2);
        // Drawn at a high temperature, still never outside the mask.
        let mut s = Sampler::new(&SamplerParams {
            temperature: 5.0,
            top_k: 0,
            top_p: 1.0,
            ..Default::default()
        })
        .unwrap();
        let drawn: std::collections::BTreeSet<u32> = (0..200)
            .map(|_| {
                s.sample_with(&logits(), &[1, 3], Some(&only), None)
                    .unwrap()
                    .id
            })
            .collect();
        assert_eq!(drawn, [0, 2].into());
    }

    #[test]
    fn a_mask_that_allows_nothing_is_an_error() {
        let mut s = Sampler::new(&greedy_params()).unwrap();
        for mask in [AllowedTokens::from_ids([]), AllowedTokens::from_ids([40])] {
            assert!(matches!(
                s.sample_with(&logits(), &[], Some(&mask), None),
                Err(EngineError::ConstraintFailed(_))
            ));
        }
    }

    #[test]
    fn allowed_tokens_hold_their_ids() {
        let set = AllowedTokens::from_ids([1, 31, 32, 100]);
        assert_eq!(set.ids().collect::<Vec<_>>(), [1, 31, 32, 100]);
        assert_eq!(set.count(), 4);
        assert!(set.contains(32) && !set.contains(33) && !set.contains(5000));
    }

    #[test]
    fn logprobs_are_the_models_own_distribution() {
        // Probabilities 0.1, 0.2, 0.3, 0.4.
        let logits = Tensor::new(
            &[0.1f32.ln(), 0.2f32.ln(), 0.3f32.ln(), 0.4f32.ln()],
            &candle_core::Device::Cpu,
        )
        .unwrap();
        let close = |a: f32, b: f32| (a - b).abs() < 1e-5;
        let mut s = Sampler::new(&greedy_params()).unwrap();
        let chosen = s.sample_with(&logits, &[], None, Some(2)).unwrap();
        assert_eq!(chosen.id, 3);
        let lp = chosen.logprobs.unwrap();
        assert!(close(lp.chosen, 0.4f32.ln()));
        assert_eq!(lp.top.len(), 2);
        assert_eq!((lp.top[0].0, lp.top[1].0), (3, 2));
        assert!(close(lp.top[1].1, 0.3f32.ln()));
        // A mask, a penalty and a temperature change the choice, not the figures.
        let mut s = Sampler::new(&SamplerParams {
            temperature: 0.0,
            repeat_penalty: 1.5,
            ..Default::default()
        })
        .unwrap();
        let chosen = s
            .sample_with(
                &logits,
                &[0],
                Some(&AllowedTokens::from_ids([0, 1])),
                Some(20),
            )
            .unwrap();
        assert_eq!(chosen.id, 1);
        let lp = chosen.logprobs.unwrap();
        assert!(close(lp.chosen, 0.2f32.ln()));
        assert_eq!(lp.top.len(), 4, "no more than the vocabulary");
        let mass: f32 = lp.top.iter().map(|(_, l)| l.exp()).sum();
        assert!(close(mass, 1.0));
        // Not asked for, not computed.
        let plain = s.sample_with(&logits, &[], None, None).unwrap();
        assert!(plain.logprobs.is_none());
    }

    #[test]
    fn stop_strings_end_the_text_and_are_never_shown() {
        let mut m = StopMatcher::new(&["\nUser:".to_owned(), "###".to_owned()]);
        let mut shown = String::new();
        let mut stopped = false;
        for piece in ["Hello", " there", "\n", "Us", "er", ": more"] {
            let (text, stop) = m.push(piece);
            shown.push_str(&text);
            if stop {
                stopped = true;
                break;
            }
        }
        assert!(stopped);
        assert_eq!(shown, "Hello there");

        // A near miss is shown once it is known not to be a stop string.
        let mut m = StopMatcher::new(&["###".to_owned()]);
        let (a, _) = m.push("a ##");
        assert_eq!(a, "a ");
        let (b, stop) = m.push(" b");
        assert!(!stop);
        assert_eq!(b, "## b");
        assert_eq!(m.finish(), "");
    }
}
