//! The GPU backend gives the CPU's answers. Built only with the `cuda` or `metal` feature, and
//! run on a machine with such a GPU: `cargo xtask gpu-check` builds these tests for CUDA.

#![cfg(any(feature = "cuda", feature = "metal"))]

use candle_core::quantized::GgmlDType;
use oa_engine::model::LoadedModel;
use oa_engine::testing::{ModelShape, write_test_model, write_tiny_model};
use oa_engine::{ChatMessage, ChatRole, Engine, GenerateRequest, device};
use oa_types::{ComputeDevice, SamplerParams};

fn spread(values: &[f32]) -> f32 {
    values.iter().copied().fold(f32::MIN, f32::max)
        - values.iter().copied().fold(f32::MAX, f32::min)
}

fn worst(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// How far the GPU's logits are from the CPU's, as fractions of the CPU logits' spread.
#[derive(Debug, Default)]
struct Gap {
    worst: f32,
    mean: f32,
}

/// The file on both devices: the logits after a prompt and after each of 12 tokens fed one at
/// a time (the CPU's greedy choices, so both read the same text). Returns the largest and the
/// mean difference over all steps, relative to the spread.
fn gap_between_gpu_and_cpu(architecture: &str, weights: GgmlDType, shape: &ModelShape) -> Gap {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{architecture}-{weights:?}.gguf"));
    write_test_model(architecture, &path, 11, weights, shape);
    let gpu_device = device::gpu().expect("a GPU build runs its tests on a GPU");
    let mut cpu = LoadedModel::load(&path).unwrap();
    let mut gpu = LoadedModel::load_on(&path, &gpu_device).unwrap();
    assert!(!gpu.device.is_cpu());
    let prompt: Vec<u32> = (0..21u32).map(|i| (i * 37 + 11) % 256).collect();
    let mut theirs: Vec<f32> = cpu.forward(&prompt, 0).unwrap().to_vec1().unwrap();
    let mut ours: Vec<f32> = gpu.forward(&prompt, 0).unwrap().to_vec1().unwrap();
    let mut gap = Gap::default();
    let steps = 12;
    for step in 0..steps {
        let s = spread(&theirs);
        let d = worst(&ours, &theirs) / s;
        let mean = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / ours.len() as f32
            / s;
        gap.worst = gap.worst.max(d);
        gap.mean += mean / steps as f32;
        let next = theirs
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(i, _)| i as u32)
            .unwrap();
        let position = prompt.len() + step;
        theirs = cpu.forward(&[next], position).unwrap().to_vec1().unwrap();
        ours = gpu.forward(&[next], position).unwrap().to_vec1().unwrap();
    }
    eprintln!(
        "{architecture} {weights:?}: GPU − CPU logits: worst {:.5}, mean {:.5} of the spread",
        gap.worst, gap.mean
    );
    gap
}

#[test]
fn every_architecture_gives_the_cpus_logits_on_the_gpu() {
    // The same arithmetic up to summation order.
    for architecture in ["llama", "qwen2", "qwen3", "gemma3", "phi3"] {
        let gap = gap_between_gpu_and_cpu(
            architecture,
            GgmlDType::F32,
            &ModelShape::tiny(architecture),
        );
        assert!(gap.worst <= 2e-3, "{architecture}: {gap:?}");
    }
}

#[test]
fn quantized_weights_give_the_cpus_logits_on_the_gpu() {
    // The reference models' formats: SmolLM2's Q4_1 and Q8_0 at its shape, the K formats of
    // Gemma's Q4_K_M at a width of whole 256-value blocks. Each device quantizes the
    // activations to 8 bits per block its own way, so a value on a rounding boundary may land
    // one step away and move a few logits; a wrong kernel moves every logit, which the mean
    // shows. Measured on an H100 (worst / mean, of the spread): Q4_1 7.1% / 1.2%, Q8_0
    // 2.0% / 0.3%, Q4_K 8.0% / 1.2%, Q6_K 5.5% / 0.9%; F32 agrees to 3e-4.
    let smollm2 = ModelShape::smollm2_layers();
    let whole_blocks = ModelShape {
        heads: 8,
        kv_heads: 2,
        ..smollm2
    };
    let cases = [
        (GgmlDType::Q4_1, smollm2),
        (GgmlDType::Q8_0, smollm2),
        (GgmlDType::Q4K, whole_blocks),
        (GgmlDType::Q6K, whole_blocks),
    ];
    let gaps: Vec<(GgmlDType, Gap)> = cases
        .iter()
        .map(|(weights, shape)| (*weights, gap_between_gpu_and_cpu("llama", *weights, shape)))
        .collect();
    for (weights, gap) in gaps {
        assert!(gap.worst <= 0.1 && gap.mean <= 0.02, "{weights:?}: {gap:?}");
    }
}

#[test]
fn the_engine_runs_a_chat_on_the_gpu() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny-llama.gguf");
    write_tiny_model("llama", &path, 5, GgmlDType::F32);
    let request = || {
        GenerateRequest::new(
            vec![ChatMessage::new(ChatRole::User, "Hello there")],
            SamplerParams {
                temperature: 0.0,
                max_tokens: 16,
                ..SamplerParams::default()
            },
        )
    };
    let on_gpu = Engine::load_on(&path, ComputeDevice::Gpu).unwrap();
    assert!(on_gpu.on_gpu());
    let (gpu_text, stats) = on_gpu.generate(request()).unwrap();
    assert!(stats.completion_tokens > 0);
    let on_cpu = Engine::load_on(&path, ComputeDevice::Cpu).unwrap();
    assert!(!on_cpu.on_gpu());
    let (cpu_text, _) = on_cpu.generate(request()).unwrap();
    assert_eq!(gpu_text, cpu_text, "greedy replies on the GPU and the CPU");
    let automatic = Engine::load_on(&path, ComputeDevice::Auto).unwrap();
    assert!(
        automatic.on_gpu(),
        "Automatic takes the GPU when there is one"
    );
}
