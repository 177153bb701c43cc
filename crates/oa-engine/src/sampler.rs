//! Token sampling: candle-transformers' logits processor plus the repeat penalty.

use candle_core::Tensor;
use candle_transformers::generation::{LogitsProcessor, Sampling};
use oa_types::SamplerParams;

use crate::{EngineError, Result};

/// Chooses the next token from the model's logits.
pub struct Sampler {
    processor: LogitsProcessor,
    repeat_penalty: f32,
    repeat_last_n: usize,
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
        Ok(self.processor.sample(&logits)?)
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
        ] {
            assert!(matches!(
                Sampler::new(&params),
                Err(EngineError::InvalidRequest(_))
            ));
        }
    }
}
