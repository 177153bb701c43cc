//! Every architecture proven against llama.cpp on tiny random-weight files the test writes:
//! the same logits after a prompt and the same greedy continuation (which runs the KV cache,
//! and for Gemma 3 the sliding window, past the prompt).

use candle_core::quantized::GgmlDType;
use oa_engine::model::LoadedModel;
use oa_engine::testing::{ModelShape, llama_cpp, write_test_model};
use serde_json::json;

/// Prompt and continuation together cross Gemma's 8-position window several times.
const PROMPT_TOKENS: usize = 21;
const CONTINUATION: usize = 12;

/// The same weights on both sides: the remaining differences are summation order and
/// llama.cpp's f16 lookup tables for GELU/SiLU, a few parts in ten thousand of the logits'
/// spread.
const LOGIT_TOLERANCE: f32 = 2e-3;

fn agrees_with_llama_cpp(architecture: &str) {
    agrees_with_llama_cpp_as(
        architecture,
        GgmlDType::F32,
        &ModelShape::tiny(architecture),
    );
}

fn agrees_with_llama_cpp_as(architecture: &str, weights: GgmlDType, shape: &ModelShape) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("tiny-{architecture}.gguf"));
    write_test_model(architecture, &path, 7, weights, shape);
    let mut model = LoadedModel::load(&path).unwrap();
    assert_eq!(model.info.architecture, architecture);
    let prompt: Vec<u32> = (0..PROMPT_TOKENS as u32)
        .map(|i| (i * 37 + 11) % 256)
        .collect();
    let answer = llama_cpp(&json!({
        "model": path,
        "n_ctx": 256,
        "generate": [{ "ids": prompt, "n": CONTINUATION }],
    }));
    let expected = &answer["generations"][0];
    let their_logits: Vec<f32> = expected["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    let their_ids: Vec<u32> = expected["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();

    let mut logits: Vec<f32> = model.forward(&prompt, 0).unwrap().to_vec1().unwrap();
    let spread = their_logits.iter().copied().fold(f32::MIN, f32::max)
        - their_logits.iter().copied().fold(f32::MAX, f32::min);
    let worst = logits
        .iter()
        .zip(&their_logits)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    eprintln!("{architecture}: max |Δlogit| {worst:.6}, spread {spread:.3}");
    assert!(
        worst <= LOGIT_TOLERANCE * spread,
        "{architecture}: logits differ by up to {worst} (spread {spread})"
    );
    let mut ours = Vec::new();
    for _ in 0..CONTINUATION {
        let next = logits
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i as u32)
            .unwrap();
        ours.push(next);
        let position = prompt.len() + ours.len() - 1;
        logits = model.forward(&[next], position).unwrap().to_vec1().unwrap();
    }
    assert_eq!(ours, their_ids, "{architecture}: greedy continuation");
}

#[test]
fn llama_matches_llama_cpp() {
    agrees_with_llama_cpp("llama");
}

#[test]
fn qwen2_matches_llama_cpp() {
    agrees_with_llama_cpp("qwen2");
}

#[test]
fn qwen3_matches_llama_cpp() {
    agrees_with_llama_cpp("qwen3");
}

#[test]
fn gemma3_matches_llama_cpp() {
    agrees_with_llama_cpp("gemma3");
}

#[test]
fn phi3_matches_llama_cpp() {
    agrees_with_llama_cpp("phi3");
}

/// One token at a time, as in every step of decoding, through a random model of SmolLM2's head
/// layout and feed-forward width with every matrix in `weights`.
///
/// Both sides quantize each matrix's input to 8 bits per value. Most tokens then give logits
/// equal up to summation order (1e-4); for an occasional token a value that sits on a rounding
/// boundary after a last-bit difference lands one step away, which moves the logits by up to
/// about 0.6% of their spread. A wrong kernel moves every token's logits (candle's Q4_1 and
/// Q8_0 kernels: 1% of the spread and more on every token), so at least 6 of 8 tokens must
/// agree to 1e-4, and none by more than 1% of the spread.
fn at_smollm2s_shape_gives_llama_cpps_logits(weights: GgmlDType) {
    gives_llama_cpps_logits(weights, &ModelShape::smollm2_layers());
}

fn gives_llama_cpps_logits(weights: GgmlDType, shape: &ModelShape) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("smollm2-shape.gguf");
    write_test_model("llama", &path, 7, weights, shape);
    let mut model = LoadedModel::load(&path).unwrap();
    let tokens = [2u32, 5, 31, 77, 99, 150, 200, 250];
    let requests: Vec<Vec<u32>> = tokens.iter().map(|&t| vec![t]).collect();
    let answer = llama_cpp(&json!({ "model": path, "n_ctx": 256, "logits": requests }));
    let mut exact = 0;
    for (token, theirs) in tokens.iter().zip(answer["logits"].as_array().unwrap()) {
        let theirs: Vec<f32> = theirs
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let ours: Vec<f32> = model.forward(&[*token], 0).unwrap().to_vec1().unwrap();
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        let spread = theirs.iter().copied().fold(f32::MIN, f32::max)
            - theirs.iter().copied().fold(f32::MAX, f32::min);
        eprintln!("{weights:?}, token {token}: max |Δlogit| {worst} of a spread of {spread}");
        assert!(
            worst <= 0.01 * spread,
            "{weights:?}, token {token}: logits differ by up to {worst} (spread {spread})"
        );
        if worst < 1e-4 {
            exact += 1;
        }
    }
    assert!(
        exact >= 6,
        "{weights:?}: only {exact} of {} tokens give llama.cpp's logits to 1e-4",
        tokens.len()
    );
}

#[test]
fn q4_1_weights_at_smollm2s_shape_give_llama_cpps_logits() {
    // The format of the default model, whose multiplication the engine owns (`qmatmul.rs`).
    at_smollm2s_shape_gives_llama_cpps_logits(GgmlDType::Q4_1);
}

#[test]
fn q5_1_weights_at_smollm2s_shape_give_llama_cpps_logits() {
    // The other format whose activations carry `s = d · Σq` (`qmatmul.rs`).
    at_smollm2s_shape_gives_llama_cpps_logits(GgmlDType::Q5_1);
}

#[test]
fn q8_0_weights_at_smollm2s_shape_give_llama_cpps_logits() {
    // SmolLM2's embedding and tied output; rows of 576 values, where candle's AVX-512 kernel
    // would quantize the activations per 256 values instead of per 32 (`qmatmul.rs`).
    at_smollm2s_shape_gives_llama_cpps_logits(GgmlDType::Q8_0);
}

#[test]
fn q4_0_weights_at_smollm2s_shape_give_llama_cpps_logits() {
    at_smollm2s_shape_gives_llama_cpps_logits(GgmlDType::Q4_0);
}

#[test]
fn q5_0_weights_at_smollm2s_shape_give_llama_cpps_logits() {
    // Most of Gemma 3 270M's matrices; held as Q8_0 blocks (`qmatmul.rs`).
    at_smollm2s_shape_gives_llama_cpps_logits(GgmlDType::Q5_0);
}

#[test]
fn q4_k_weights_give_llama_cpps_logits() {
    // The k-quants multiply activations quantized per 256 values (Q8_K), which llama.cpp
    // rounds with `−127/max` where candle uses `−128/max` (`qmatmul.rs`).
    gives_llama_cpps_logits(GgmlDType::Q4K, &ModelShape::k_quant_layers());
}

#[test]
fn q5_k_weights_give_llama_cpps_logits() {
    gives_llama_cpps_logits(GgmlDType::Q5K, &ModelShape::k_quant_layers());
}

#[test]
fn q6_k_weights_give_llama_cpps_logits() {
    gives_llama_cpps_logits(GgmlDType::Q6K, &ModelShape::k_quant_layers());
}

#[test]
fn reading_a_prompt_in_pieces_gives_what_reading_it_whole_gives() {
    // The prefix cache continues from keys and values computed earlier, in other batches.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-llama.gguf");
    write_test_model(
        "llama",
        &path,
        3,
        GgmlDType::F32,
        &ModelShape::tiny("llama"),
    );
    let mut model = LoadedModel::load(&path).unwrap();
    let prompt: Vec<u32> = (0..30u32).map(|i| (i * 53 + 5) % 256).collect();
    let whole: Vec<f32> = model.forward(&prompt, 0).unwrap().to_vec1().unwrap();
    let (_, reused) = model.prefill(&prompt[..12]).unwrap();
    assert_eq!(
        reused, 11,
        "all but the last token of a prefix already read"
    );
    model.forward(&prompt[12..20], 12).unwrap();
    let (pieces, reused) = model.prefill(&prompt).unwrap();
    assert_eq!(reused, 20);
    let pieces: Vec<f32> = pieces.to_vec1().unwrap();
    let worst = whole
        .iter()
        .zip(&pieces)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(worst < 1e-4, "logits differ by up to {worst}");
}
