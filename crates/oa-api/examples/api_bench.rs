//! Measures what the local API costs over the engine itself, and what a JSON schema costs.
//!
//! Loads the model twice — once behind a real `oa_api` server on 127.0.0.1, once as a bare
//! engine — and asks both the same question (temperature 0, so the same tokens), in turns:
//! time to first token and decode speed (tokens per second after the first), each through
//! the API's server-sent events and straight from the engine. Then, through the API, decode
//! speed with a JSON schema against without. Writes the samples as JSON to `--out`;
//! `cargo xtask bench` runs it in release mode and reports `target/bench/api.json`.
//!
//! ```text
//! cargo run --release -p oa-api --example api_bench -- --model M.gguf --out api.samples.json
//! ```

use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use oa_app::{App, AppConfig};
use oa_engine::{ChatMessage, ChatRole, Engine, GenerateRequest, GenerationEvent};
use serde_json::{Value, json};

const RUNS: usize = 5;
const MAX_TOKENS: u32 = 96;
const QUESTION: &str = "Write a long story about a lighthouse keeper and a storm.";

/// One answer's timing.
#[derive(Debug, Clone, Copy)]
struct Timing {
    first_token_ms: f64,
    decode_tokens_per_s: f64,
    tokens: u32,
}

fn timing(start: Instant, stamps: &[Instant], tokens: u32) -> Timing {
    let first = stamps[0];
    let last = *stamps.last().unwrap_or(&first);
    let decode_s = last.duration_since(first).as_secs_f64();
    Timing {
        first_token_ms: first.duration_since(start).as_secs_f64() * 1000.0,
        decode_tokens_per_s: if decode_s > 0.0 {
            f64::from(tokens.saturating_sub(1)) / decode_s
        } else {
            0.0
        },
        tokens,
    }
}

fn direct(engine: &Engine, params: &oa_types::SamplerParams) -> Result<Timing, Box<dyn Error>> {
    let request = GenerateRequest::new(
        vec![ChatMessage::new(ChatRole::User, QUESTION)],
        params.clone(),
    );
    let start = Instant::now();
    let mut stamps = Vec::new();
    for event in engine.stream(request)? {
        match event {
            GenerationEvent::Token(_) => stamps.push(Instant::now()),
            GenerationEvent::Finished(stats) => {
                return Ok(timing(start, &stamps, stats.completion_tokens));
            }
            GenerationEvent::Failed(e) => return Err(e.into()),
        }
    }
    Err("the engine stopped".into())
}

/// A streamed chat completion over a plain HTTP/1.0 connection (the body then ends with the
/// connection, without chunked framing).
fn through_api(
    addr: SocketAddr,
    model: &str,
    schema: Option<&Value>,
) -> Result<Timing, Box<dyn Error>> {
    let mut body = json!({
        "model": model,
        "messages": [{"role": "user", "content": QUESTION}],
        "max_tokens": MAX_TOKENS,
        "temperature": 0,
        "seed": 1,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if let Some(schema) = schema {
        body["response_format"] =
            json!({"type": "json_schema", "json_schema": {"name": "story", "schema": schema}});
    }
    let body = body.to_string();
    let start = Instant::now();
    let mut stream = TcpStream::connect(addr)?;
    write!(
        stream,
        "POST /v1/chat/completions HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: \
         application/json\r\nContent-Length: {}\r\n\r\n{body}",
        addr.port(),
        body.len()
    )?;
    let mut stamps = Vec::new();
    let mut tokens = 0;
    for line in BufReader::new(stream).lines() {
        let line = line?;
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        if data == "[DONE]" {
            break;
        }
        // A token's chunk is only looked at, not parsed: the client shares this machine's cores
        // with the engine, and its own work is not the server's overhead.
        if data.contains(r#""delta":{"content":""#) && !data.contains(r#""content":"""#) {
            stamps.push(Instant::now());
            continue;
        }
        let chunk: Value = serde_json::from_str(data)?;
        if let Some(error) = chunk.get("error") {
            return Err(error.to_string().into());
        }
        if let Some(n) = chunk["usage"]["completion_tokens"].as_u64() {
            tokens = n as u32;
        }
    }
    if stamps.is_empty() {
        return Err("the API streamed no text".into());
    }
    Ok(timing(start, &stamps, tokens))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn summary(timings: &[Timing]) -> Value {
    json!({
        "time_to_first_token_ms": median(timings.iter().map(|t| t.first_token_ms).collect()),
        "decode_tokens_per_s": median(timings.iter().map(|t| t.decode_tokens_per_s).collect()),
        "tokens": timings.iter().map(|t| t.tokens).collect::<Vec<_>>(),
    })
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    let model = PathBuf::from(arg("--model").ok_or("--model is required")?);
    let out = PathBuf::from(arg("--out").ok_or("--out is required")?);
    let data = tempfile::tempdir()?;
    let app = Arc::new(App::open(AppConfig::new(
        data.path().to_owned(),
        Some(model.clone()),
    ))?);
    app.models().wait_for_load().await;
    let model_id = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .ok_or("the model has no file name")?;
    let mut options = oa_api::ServeOptions::from_settings(&oa_types::ApiSettings::default());
    options.addr = "127.0.0.1:0".parse()?;
    let server = oa_api::serve(app.clone(), options).await?;
    let addr = server.local_addr();
    let engine = Engine::load(&model)?;
    let mut params = app.models().default_sampler().await;
    params.temperature = 0.0;
    params.seed = 1;
    params.max_tokens = MAX_TOKENS;

    let schema = json!({
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "characters": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]}},
            "story": {"type": "string"}
        },
        "required": ["title", "characters", "story"]
    });
    let api = |schema: Option<Value>| {
        let model_id = model_id.clone();
        tokio::task::spawn_blocking(move || {
            through_api(addr, &model_id, schema.as_ref()).map_err(|e| e.to_string())
        })
    };
    // One of each first, so that both have read the prompt once.
    api(None).await??;
    direct(&engine, &params)?;
    let (mut via_api, mut via_engine, mut with_schema, mut without_schema) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..RUNS {
        via_api.push(api(None).await??);
        via_engine.push(direct(&engine, &params)?);
    }
    api(Some(schema.clone())).await??;
    for _ in 0..RUNS {
        with_schema.push(api(Some(schema.clone())).await??);
        without_schema.push(api(None).await??);
    }
    let report = json!({
        "model": model_id,
        "runs": RUNS,
        "max_tokens": MAX_TOKENS,
        "api": summary(&via_api),
        "engine": summary(&via_engine),
        "api_with_schema": summary(&with_schema),
        "api_without_schema": summary(&without_schema),
        "schema": schema,
    });
    std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")?;
    server.stop().await;
    Ok(())
}
