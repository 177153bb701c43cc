//! An API answer as the history keeps it: the request's messages as one prompt (tool calls and
//! results written out), the instructions as the system prompt, and the answer with the
//! provenance the app records with every reply.

use oa_app::ApiExchange;
use oa_engine::{ChatRole, Engine, GenerateRequest, GenerationStats};
use oa_types::{Provenance, Role};

/// The exchange to keep, or `None` when the request does not end with a question to answer
/// (an assistant turn the model continued).
pub fn exchange(
    model: &str,
    request: &GenerateRequest,
    reply: &str,
    engine: &Engine,
    stats: &GenerationStats,
) -> Option<ApiExchange> {
    let (system_prompt, turns) = fold(&request.messages);
    if turns.last().is_none_or(|(role, _)| *role != Role::Prompter) {
        return None;
    }
    let turns = as_one_prompt(turns);
    let info = engine.info();
    Some(ApiExchange {
        system_prompt,
        turns,
        reply: reply.to_owned(),
        provenance: Provenance {
            model_id: model.to_owned(),
            model_sha256: info.sha256.clone(),
            quantization: info.quantization.clone(),
            architecture: info.architecture.clone(),
            chat_template_sha256: info.chat_template_sha256.clone(),
            sampler: request.params.clone(),
            engine_version: oa_engine::ENGINE_VERSION.to_owned(),
            prompt_tokens: stats.prompt_tokens,
            completion_tokens: stats.completion_tokens,
            time_to_first_token_ms: stats.time_to_first_token_ms,
            total_ms: stats.total_ms,
            stopped: false,
            dropped_messages: stats.dropped_messages,
        },
    })
}

/// Earlier assistant turns came from the client: nothing says which model wrote them, or
/// whether a person did, and the history would keep them as replies without provenance —
/// which a shared conversation presents as written by a person. So a conversation with
/// earlier answers is kept as one prompt that quotes it, and only the answer made here is
/// a reply.
fn as_one_prompt(turns: Vec<(Role, String)>) -> Vec<(Role, String)> {
    if turns.len() <= 1 {
        return turns;
    }
    let transcript = turns
        .iter()
        .map(|(role, text)| match role {
            Role::Prompter => format!("User: {text}"),
            Role::Assistant => format!("Assistant: {text}"),
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    vec![(Role::Prompter, transcript)]
}

/// The instructions, and the other messages as alternating turns that start with a prompt.
fn fold(messages: &[oa_engine::ChatMessage]) -> (String, Vec<(Role, String)>) {
    let mut system = Vec::new();
    let mut turns: Vec<(Role, String)> = Vec::new();
    for m in messages {
        let (role, text) = match m.role {
            ChatRole::System => {
                system.push(m.content.clone());
                continue;
            }
            ChatRole::User => (Role::Prompter, m.content.clone()),
            ChatRole::Tool => (
                Role::Prompter,
                format!(
                    "Tool result ({}):\n{}",
                    m.tool_call_id.as_deref().unwrap_or("call"),
                    m.content
                ),
            ),
            ChatRole::Assistant => {
                let calls = m
                    .tool_calls
                    .iter()
                    .map(|c| format!("Called {}({})", c.name, c.arguments));
                let text = std::iter::once(m.content.clone())
                    .filter(|t| !t.trim().is_empty())
                    .chain(calls)
                    .collect::<Vec<_>>()
                    .join("\n");
                (Role::Assistant, text)
            }
        };
        if turns.is_empty() && role == Role::Assistant {
            // The history starts with a question: an answer to nothing is left out.
            continue;
        }
        match turns.last_mut() {
            Some((last, joined)) if *last == role => {
                joined.push_str("\n\n");
                joined.push_str(&text);
            }
            _ => turns.push((role, text)),
        }
    }
    (system.join("\n\n"), turns)
}

#[cfg(test)]
mod tests {
    use oa_engine::{ChatMessage, ToolCall};

    use super::*;

    #[test]
    fn turns_alternate_and_tool_traffic_is_written_out() {
        let mut call = ChatMessage::new(ChatRole::Assistant, "");
        call.tool_calls.push(ToolCall {
            id: "call_1".into(),
            name: "get_time".into(),
            arguments: r#"{"zone":"CET"}"#.into(),
        });
        let mut result = ChatMessage::new(ChatRole::Tool, "14:05");
        result.tool_call_id = Some("call_1".into());
        let messages = vec![
            ChatMessage::new(ChatRole::Assistant, "Hello, how can I help?"),
            ChatMessage::new(ChatRole::System, "Be brief."),
            ChatMessage::new(ChatRole::User, "What time is it?"),
            call,
            result,
            ChatMessage::new(ChatRole::User, "In Paris."),
        ];
        let (system, turns) = fold(&messages);
        assert_eq!(system, "Be brief.");
        let quoted = as_one_prompt(turns.clone());
        assert_eq!(
            quoted,
            vec![(
                Role::Prompter,
                "User: What time is it?\n\nAssistant: Called get_time({\"zone\":\"CET\"})\n\n\
                 User: Tool result (call_1):\n14:05\n\nIn Paris."
                    .to_owned()
            )]
        );
        assert_eq!(as_one_prompt(vec![(Role::Prompter, "hi".into())]).len(), 1);
        assert_eq!(
            turns,
            vec![
                (Role::Prompter, "What time is it?".to_owned()),
                (
                    Role::Assistant,
                    r#"Called get_time({"zone":"CET"})"#.to_owned()
                ),
                (
                    Role::Prompter,
                    "Tool result (call_1):\n14:05\n\nIn Paris.".to_owned()
                ),
            ]
        );
    }
}
