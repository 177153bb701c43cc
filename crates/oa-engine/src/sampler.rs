//! Token sampling: candle-transformers' logits processor (temperature, top-k, top-p, seeded
//! draws) after the penalties and min-p, and stop strings ([`StopMatcher`]).

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
        let logits = if self.repeat_penalty != 1.0 && self.repeat_last_n > 0 {
            let start = history.len().saturating_sub(self.repeat_last_n);
            candle_transformers::utils::apply_repeat_penalty(
                logits,
                self.repeat_penalty,
                &history[start..],
            )?
        } else {
            logits.clone()
        };
        let needs_own =
            self.presence_penalty != 0.0 || self.frequency_penalty != 0.0 || self.min_p > 0.0;
        if !needs_own {
            return Ok(self.processor.sample(&logits)?);
        }
        let mut values = logits.to_dtype(candle_core::DType::F32)?.to_vec1::<f32>()?;
        if self.presence_penalty != 0.0 || self.frequency_penalty != 0.0 {
            let start = history.len().saturating_sub(self.repeat_last_n);
            let mut counts: std::collections::HashMap<u32, u32> = std::collections::HashMap::new();
            for &id in &history[start..] {
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
        let logits = Tensor::from_vec(values, logits.dims(), &candle_core::Device::Cpu)?;
        Ok(self.processor.sample(&logits)?)
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
