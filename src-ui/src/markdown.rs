//! Assistant replies as HTML: Markdown rendered to a fragment that is safe to assign to
//! `innerHTML`.
//!
//! pulldown-cmark parses the reply and its own HTML writer ([`html::push_html`]) writes it, over
//! a filtered stream of events. The page runs with access to the app's commands, so the filter
//! lets through only what the writer turns into harmless markup: raw HTML in the reply becomes
//! text (escaped like any other), links keep only `http:`, `https:` and `mailto:` targets and
//! are written here with their class and `rel`, images never load (their alt text is shown
//! instead), and what the writer would style inline (aligned table cells) or leave unclassed
//! (task lists) is written here too. Everything the filter writes itself escapes its text.
//!
//! Code blocks are highlighted by [`crate::highlight`] and come with a header naming the
//! language and a copy button; see [`render`] for their exact shape.

use pulldown_cmark::{
    Alignment, CodeBlockKind, CowStr, Event, HeadingLevel, LinkType, Options, Parser, Tag, TagEnd,
    html,
};

use crate::highlight::{escape_into, highlight};

/// Renders Markdown (CommonMark with tables, strikethrough and task lists) as an HTML fragment.
///
/// Raw HTML in the input is never emitted as markup: it appears as escaped text (an HTML block as
/// a paragraph of its text). Links become
/// `<a class="md-link" href="…" title="…" rel="noopener noreferrer">` (the title only when there
/// is one) for `http:`, `https:` and `mailto:` targets; any other target leaves just the link's
/// text. An image `![alt](url)` becomes `<span class="md-image-alt">alt</span>`. Headings are
/// shifted down two levels (`#` gives `<h3>`, capped at `<h6>`).
///
/// Fenced and indented code blocks, including a fence still open at the end of the input (a
/// reply being streamed), render as
///
/// ```html
/// <div class="code-block"><div class="code-head"><span class="code-lang">LANG</span><button type="button" class="copy-code" aria-label="Copy code">Copy</button></div><pre><code class="language-LANG">…</code></pre></div>
/// ```
///
/// where LANG is the start of the info string made of `[A-Za-z0-9_+#.-]` (`text` when there is
/// none) and the text content of `<code>` is exactly the block's code, without the line break
/// that ends its last line.
///
/// Tables are wrapped in `<div class="table-wrap">`; cells aligned by the delimiter row get the
/// class `align-left`, `align-center` or `align-right`. Task list items are
/// `<li class="task-item"><input type="checkbox" class="task-check" disabled> …` (`checked` when
/// ticked). The writer puts a line break after each block element; soft breaks are line breaks
/// too, so the fragment is meant for an element with the normal `white-space`.
pub fn render(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events: Vec<Event<'_>> = Parser::new_ext(markdown, options).collect();
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 2 + 64);
    html::push_html(&mut out, Filter::default().run(events).into_iter());
    out
}

/// The longest language name kept from a code fence's info string.
const MAX_LANG_LEN: usize = 32;

/// The language of a fenced block: the leading `[A-Za-z0-9_+#.-]` characters of its info string,
/// or `text`.
fn code_language(info: &str) -> String {
    let lang: String = info
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '#' | '.' | '-'))
        .take(MAX_LANG_LEN)
        .collect();
    if lang.is_empty() {
        "text".to_string()
    } else {
        lang
    }
}

/// Whether a link target may be followed: `http:`, `https:` or `mailto:`, nothing else.
///
/// The scheme must be the very first characters: a browser ignores leading blanks and control
/// characters and tabs or newlines inside the scheme, so anything else could hide another one.
fn is_allowed_url(url: &str) -> bool {
    ["http:", "https:", "mailto:"].iter().any(|scheme| {
        url.as_bytes()
            .get(..scheme.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(scheme.as_bytes()))
    })
}

/// Headings are shifted down two levels: the reply sits under the page's own headings.
fn shifted(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H3,
        HeadingLevel::H2 => HeadingLevel::H4,
        HeadingLevel::H3 => HeadingLevel::H5,
        _ => HeadingLevel::H6,
    }
}

/// What an inline event reads as in plain text (raw HTML, and the syntax of extensions that are
/// not enabled, shown as written), or `None` for markup.
fn as_text<'a>(event: &Event<'a>) -> Option<CowStr<'a>> {
    Some(match event {
        Event::Text(text) | Event::Code(text) | Event::Html(text) | Event::InlineHtml(text) => {
            text.clone()
        }
        Event::InlineMath(math) => format!("${math}$").into(),
        Event::DisplayMath(math) => format!("$${math}$$").into(),
        Event::FootnoteReference(name) => format!("[^{name}]").into(),
        _ => return None,
    })
}

/// Markup the filter writes itself: the writer copies it as it is.
fn markup<'a>(html: impl Into<CowStr<'a>>) -> Event<'a> {
    Event::InlineHtml(html.into())
}

/// Turns the parser's events into those the writer may see (see the module's documentation).
#[derive(Default)]
struct Filter<'a> {
    out: Vec<Event<'a>>,
    /// For each open link: whether an `<a>` was written for it.
    links: Vec<bool>,
    alignments: Vec<Alignment>,
    /// The index of the current table cell in its row.
    cell: usize,
    in_head: bool,
}

impl<'a> Filter<'a> {
    fn run(mut self, events: Vec<Event<'a>>) -> Vec<Event<'a>> {
        self.out.reserve(events.len());
        let mut events = events.into_iter();
        while let Some(event) = events.next() {
            match event {
                Event::Start(Tag::CodeBlock(kind)) => {
                    let code = collect_until(&mut events, |e| *e == Event::End(TagEnd::CodeBlock));
                    let lang = match kind {
                        CodeBlockKind::Fenced(info) => code_language(&info),
                        CodeBlockKind::Indented => "text".to_string(),
                    };
                    self.out.push(markup(code_block(&lang, code)));
                }
                Event::Start(Tag::HtmlBlock) => {
                    let raw = collect_until(&mut events, |e| *e == Event::End(TagEnd::HtmlBlock));
                    self.out.push(Event::Start(Tag::Paragraph));
                    self.out
                        .push(Event::Text(raw.trim_end_matches('\n').to_owned().into()));
                    self.out.push(Event::End(TagEnd::Paragraph));
                }
                Event::Start(Tag::Image { .. }) => {
                    // Only the alt text counts, nested images' included.
                    let mut depth = 1usize;
                    let alt = collect_until(&mut events, |e| {
                        match e {
                            Event::Start(Tag::Image { .. }) => depth += 1,
                            Event::End(TagEnd::Image) => depth -= 1,
                            _ => {}
                        }
                        depth == 0
                    });
                    self.out.push(markup("<span class=\"md-image-alt\">"));
                    self.out.push(Event::Text(alt.into()));
                    self.out.push(markup("</span>"));
                }
                Event::Start(Tag::Item) => {
                    let task = matches!(
                        events.as_slice(),
                        [Event::TaskListMarker(_), ..]
                            | [Event::Start(Tag::Paragraph), Event::TaskListMarker(_), ..]
                    );
                    self.out.push(if task {
                        markup("<li class=\"task-item\">")
                    } else {
                        Event::Start(Tag::Item)
                    });
                }
                Event::Start(tag) => self.start(tag),
                Event::End(tag) => self.end(tag),
                Event::TaskListMarker(checked) => self.out.push(markup(if checked {
                    "<input type=\"checkbox\" class=\"task-check\" disabled checked>"
                } else {
                    "<input type=\"checkbox\" class=\"task-check\" disabled>"
                })),
                Event::Code(_)
                | Event::SoftBreak
                | Event::HardBreak
                | Event::Rule
                | Event::Text(_) => self.out.push(event),
                other => {
                    if let Some(text) = as_text(&other) {
                        self.out.push(Event::Text(text));
                    }
                }
            }
        }
        self.out
    }

    fn start(&mut self, tag: Tag<'a>) {
        let event = match tag {
            Tag::Heading { level, .. } => Event::Start(Tag::Heading {
                level: shifted(level),
                id: None,
                classes: Vec::new(),
                attrs: Vec::new(),
            }),
            Tag::BlockQuote(_) => Event::Start(Tag::BlockQuote(None)),
            Tag::Table(alignments) => {
                self.alignments = alignments;
                self.out.push(markup("<div class=\"table-wrap\">"));
                Event::Start(Tag::Table(Vec::new()))
            }
            Tag::TableHead => {
                self.in_head = true;
                self.cell = 0;
                Event::Start(Tag::TableHead)
            }
            Tag::TableRow => {
                self.cell = 0;
                Event::Start(Tag::TableRow)
            }
            Tag::TableCell => {
                let element = if self.in_head { "<th" } else { "<td" };
                let class = match self.alignments.get(self.cell) {
                    Some(Alignment::Left) => " class=\"align-left\">",
                    Some(Alignment::Center) => " class=\"align-center\">",
                    Some(Alignment::Right) => " class=\"align-right\">",
                    _ => ">",
                };
                markup(format!("{element}{class}"))
            }
            Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            } => {
                let href = if link_type == LinkType::Email {
                    format!("mailto:{dest_url}")
                } else {
                    dest_url.to_string()
                };
                let allowed = is_allowed_url(&href);
                self.links.push(allowed);
                if !allowed {
                    return;
                }
                let mut html = String::from("<a class=\"md-link\" href=\"");
                escape_into(&mut html, &href);
                if !title.is_empty() {
                    html.push_str("\" title=\"");
                    escape_into(&mut html, &title);
                }
                html.push_str("\" rel=\"noopener noreferrer\">");
                markup(html)
            }
            Tag::Paragraph
            | Tag::List(_)
            | Tag::Item
            | Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Superscript
            | Tag::Subscript => Event::Start(tag),
            // Handled by `run`, or not enabled (their content is rendered as it comes).
            Tag::CodeBlock(_)
            | Tag::HtmlBlock
            | Tag::Image { .. }
            | Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => return,
        };
        self.out.push(event);
    }

    fn end(&mut self, tag: TagEnd) {
        let event = match tag {
            TagEnd::Heading(level) => Event::End(TagEnd::Heading(shifted(level))),
            TagEnd::Table => {
                self.out.push(Event::End(TagEnd::Table));
                markup("</div>")
            }
            TagEnd::TableHead => {
                self.in_head = false;
                Event::End(TagEnd::TableHead)
            }
            TagEnd::TableCell => {
                self.cell += 1;
                markup(if self.in_head { "</th>" } else { "</td>" })
            }
            TagEnd::Link => {
                if self.links.pop() != Some(true) {
                    return;
                }
                markup("</a>")
            }
            TagEnd::Paragraph
            | TagEnd::BlockQuote(_)
            | TagEnd::List(_)
            | TagEnd::Item
            | TagEnd::TableRow
            | TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Superscript
            | TagEnd::Subscript => Event::End(tag),
            TagEnd::CodeBlock
            | TagEnd::HtmlBlock
            | TagEnd::Image
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => return,
        };
        self.out.push(event);
    }
}

/// The plain text of the events up to the one `is_end` accepts (consumed), or to the end of the
/// input: soft breaks as line breaks, hard breaks as spaces, other markup dropped.
fn collect_until<'a>(
    events: &mut impl Iterator<Item = Event<'a>>,
    mut is_end: impl FnMut(&Event<'a>) -> bool,
) -> String {
    let mut text = String::new();
    for event in events {
        if is_end(&event) {
            break;
        }
        match event {
            Event::SoftBreak => text.push('\n'),
            Event::HardBreak => text.push(' '),
            other => {
                if let Some(part) = as_text(&other) {
                    text.push_str(&part);
                }
            }
        }
    }
    text
}

/// A code block with its header (language, copy button) and its highlighted code.
fn code_block(lang: &str, mut code: String) -> String {
    if code.ends_with('\n') {
        code.pop();
    }
    let mut lang_html = String::with_capacity(lang.len());
    escape_into(&mut lang_html, lang);
    let highlighted = highlight(lang, &code);
    format!(
        "<div class=\"code-block\"><div class=\"code-head\"><span class=\"code-lang\">{lang_html}\
         </span><button type=\"button\" class=\"copy-code\" aria-label=\"Copy code\">Copy\
         </button></div><pre><code class=\"language-{lang_html}\">{highlighted}</code></pre></div>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::highlight::text_content;

    /// The text content of the first `<code class=…>` element.
    fn code_text(html: &str) -> String {
        let start = html.find("<code class=").expect("no code block");
        let body = &html[start..];
        let open_end = body.find('>').unwrap() + 1;
        let close = body.find("</code>").unwrap();
        text_content(&body[open_end..close])
    }

    /// A tag of the output: its name and its attributes with their values.
    #[derive(Debug)]
    struct Element {
        name: String,
        closing: bool,
        attributes: Vec<(String, String)>,
    }

    /// Every tag in `html`, opening and closing. Text is escaped, so every `<` opens a tag, and
    /// every attribute value is double-quoted and holds no `"` or `>`.
    fn elements(html: &str) -> Vec<Element> {
        html.split('<')
            .skip(1)
            .map(|part| {
                let inside = &part[..part.find('>').unwrap_or_else(|| panic!("unclosed: {html}"))];
                let closing = inside.starts_with('/');
                let inside = inside.trim_start_matches('/').trim_end_matches('/');
                let name_end = inside
                    .find(|c: char| !c.is_ascii_alphanumeric())
                    .unwrap_or(inside.len());
                let (name, mut rest) = inside.split_at(name_end);
                let mut attributes = Vec::new();
                loop {
                    rest = rest.trim_start();
                    if rest.is_empty() {
                        break;
                    }
                    let key_end = rest
                        .find(|c: char| c == '=' || c.is_ascii_whitespace())
                        .unwrap_or(rest.len());
                    assert!(key_end > 0, "malformed attribute in {html}");
                    let key = &rest[..key_end];
                    rest = &rest[key_end..];
                    let value = match rest.strip_prefix("=\"") {
                        Some(quoted) => {
                            let close = quoted.find('"').expect("unclosed attribute value");
                            rest = &quoted[close + 1..];
                            &quoted[..close]
                        }
                        None => {
                            assert!(!rest.starts_with('='), "unquoted value in {html}");
                            ""
                        }
                    };
                    attributes.push((key.to_string(), value.to_string()));
                }
                Element {
                    name: name.to_string(),
                    closing,
                    attributes,
                }
            })
            .collect()
    }

    /// The elements that may appear, each with the attributes it may have.
    const ALLOWED: &[(&str, &[&str])] = &[
        ("p", &[]),
        ("h3", &[]),
        ("h4", &[]),
        ("h5", &[]),
        ("h6", &[]),
        ("blockquote", &[]),
        ("div", &["class"]),
        ("span", &["class"]),
        ("button", &["type", "class", "aria-label"]),
        ("pre", &[]),
        ("code", &["class"]),
        ("ol", &["start"]),
        ("ul", &[]),
        ("li", &["class"]),
        ("input", &["type", "class", "disabled", "checked"]),
        ("table", &[]),
        ("thead", &[]),
        ("tbody", &[]),
        ("tr", &[]),
        ("th", &["class"]),
        ("td", &["class"]),
        ("em", &[]),
        ("strong", &[]),
        ("del", &[]),
        ("sup", &[]),
        ("sub", &[]),
        ("a", &["class", "href", "title", "rel"]),
        ("br", &[]),
        ("hr", &[]),
    ];

    /// Fails unless every element and attribute of `html` is allowed, every link goes to a
    /// web or mail address and opens nothing of the app, and nothing loads.
    fn assert_safe(input: &str, html: &str) {
        for element in elements(html) {
            let Some((_, attributes)) = ALLOWED.iter().find(|(name, _)| *name == element.name)
            else {
                panic!("<{}> in {input:?} -> {html}", element.name);
            };
            for (key, value) in &element.attributes {
                assert!(
                    attributes.contains(&key.as_str()),
                    "<{} {key}> in {input:?} -> {html}",
                    element.name
                );
                if key == "href" {
                    assert!(
                        is_allowed_url(value),
                        "href={value:?} in {input:?} -> {html}"
                    );
                }
            }
            if element.closing {
                assert!(element.attributes.is_empty(), "{input:?} -> {html}");
            } else if element.name == "a" {
                assert!(
                    element
                        .attributes
                        .iter()
                        .any(|(k, v)| k == "rel" && v == "noopener noreferrer"),
                    "{input:?} -> {html}"
                );
            }
        }
    }

    /// `render(input)`, checked by [`assert_safe`].
    fn safe_render(input: &str) -> String {
        let html = render(input);
        assert_safe(input, &html);
        html
    }

    #[test]
    fn script_tags_are_shown_as_text() {
        let html = render("Hi <script>alert(1)</script> there\n\n<script>\nalert(2)\n</script>\n");
        assert_eq!(
            html,
            "<p>Hi &lt;script&gt;alert(1)&lt;/script&gt; there</p>\n\
             <p>&lt;script&gt;\nalert(2)\n&lt;/script&gt;</p>\n"
        );
        // In every place a script could hide: lists, quotes, tables, headings, link text,
        // image alt text, emphasis, and split over lines.
        for input in [
            "- <script>alert(1)</script>",
            "> <script>alert(1)</script>",
            "| a |\n|---|\n| <script>alert(1)</script> |",
            "# <script>alert(1)</script>",
            "[<script>alert(1)</script>](https://x.org)",
            "![<script>alert(1)</script>](https://x.org/a.png)",
            "**<script>**alert(1)**</script>**",
            "<scr\nipt>alert(1)</script>",
            "<SCRIPT SRC=https://x.org/x.js></SCRIPT>",
            "<!-- <script>alert(1)</script> -->",
            "<![CDATA[<script>alert(1)</script>]]>",
            "<iframe src=\"javascript:alert(1)\"></iframe>",
            "<style>body{display:none}</style>",
        ] {
            let html = safe_render(input);
            assert!(
                !html.to_ascii_lowercase().contains("<script"),
                "{input:?} -> {html}"
            );
        }
    }

    #[test]
    fn event_handler_attributes_are_shown_as_text() {
        for input in [
            "<img src=x onerror=alert(1)>",
            "text <img src=x onerror=\"alert(1)\"> more",
            "<div onmouseover='alert(1)'>hover</div>",
            "<details open ontoggle=alert(1)>",
            "* <svg onload=alert(1)>",
            "| a |\n|---|\n| <b onclick=x()>b</b> |",
            "<a href=\"https://x.org\" onclick=\"alert(1)\">x</a>",
            "<video><source onerror=\"alert(1)\"></video>",
            // Breaking out of the attributes the renderer writes itself.
            "[x](https://x.org \"t\\\" onmouseover=\\\"alert(1)\")",
            "[x](<https://x.org/\" onmouseover=\"alert(1)>)",
            "![x\" onerror=\"alert(1)](https://x.org/a.png \"t\\\" onerror=\\\"alert(1)\")",
            "```rust\" onclick=\"alert(1)\nx\n```",
            "- [x] \" onclick=\"alert(1)",
        ] {
            let html = safe_render(input);
            for element in elements(&html) {
                for (key, _) in &element.attributes {
                    assert!(!key.starts_with("on"), "{input:?} -> {html}");
                }
            }
            assert!(!html.contains("<img"), "{input:?} -> {html}");
        }
        assert_eq!(
            render("<img src=x onerror=alert(1)>"),
            "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n"
        );
        assert_eq!(
            render("a <img src=x onerror=\"alert(1)\"> b"),
            "<p>a &lt;img src=x onerror=\"alert(1)\"&gt; b</p>\n"
        );
    }

    #[test]
    fn only_web_and_mail_links_are_links() {
        let html = render("[a](https://example.com \"T\") [b](http://x.org) [c](mailto:me@x.org)");
        assert_eq!(
            html,
            "<p><a class=\"md-link\" href=\"https://example.com\" title=\"T\" \
             rel=\"noopener noreferrer\">a</a> <a class=\"md-link\" href=\"http://x.org\" \
             rel=\"noopener noreferrer\">b</a> <a class=\"md-link\" href=\"mailto:me@x.org\" \
             rel=\"noopener noreferrer\">c</a></p>\n"
        );
        for input in [
            "[click](javascript:alert(1))",
            "[click](JavaScript:alert(1))",
            "[click](  javascript:alert(1))",
            "[click](java&#9;script:alert(1))",
            "[click](&#106;avascript:alert(1))",
            "[click](javascript&colon;alert(1))",
            "[click](\u{0}javascript:alert(1))",
            "[click](%6Aavascript:alert(1))",
            "[click](<javascript:alert(1)>)",
            "[click](data:text/html,<script>alert(1)</script>)",
            "[click](file:///etc/passwd)",
            "[click](vbscript:x)",
            "[click](/relative/path)",
            "[click](//evil.example/x)",
            "[click](#anchor)",
            "[click](ipc://localhost/cmd)",
            "[click](tauri://localhost/)",
            "[click][r]\n\n[r]: javascript:alert(1)",
            "[r]\n\n[r]: javascript:alert(1)",
            "<javascript:alert(1)>",
            "<JAVASCRIPT:alert(1)>",
            "[a [b](javascript:1) c](https://x.org)",
        ] {
            let html = safe_render(input);
            assert!(!html.contains("<a"), "{input:?} -> {html}");
        }
        assert_eq!(render("[click](javascript:alert(1))"), "<p>click</p>\n");
        // A link that is not followed still shows what it says; its text keeps its markup.
        assert_eq!(
            render("[**bold** text](javascript:alert(1))"),
            "<p><strong>bold</strong> text</p>\n"
        );
    }

    #[test]
    fn link_attributes_are_escaped() {
        let html = render("[x](https://a.b/?q=\"><script> \"t'\\\"\")");
        assert!(!html.contains("<script"), "{html}");
        let html = render("[x](<https://a.b/\"onmouseover=alert(1)> \"a\\\"b\")");
        assert!(
            html.contains("href=\"https://a.b/&quot;onmouseover=alert(1)\""),
            "{html}"
        );
        assert!(html.contains("title=\"a&quot;b\""), "{html}");
        let html = render("<https://example.com/a?b=1&c=2> and <me@example.com>");
        assert!(
            html.contains("href=\"https://example.com/a?b=1&amp;c=2\""),
            "{html}"
        );
        assert!(html.contains("href=\"mailto:me@example.com\""), "{html}");
        assert_safe("", &html);
    }

    #[test]
    fn images_only_show_their_alt_text() {
        let html = render("![a *cat* photo](https://example.com/cat.png) ![x](javascript:1)");
        assert_eq!(
            html,
            "<p><span class=\"md-image-alt\">a cat photo</span> \
             <span class=\"md-image-alt\">x</span></p>\n"
        );
        let html = render("[![logo](https://x/l.png)](https://x/)");
        assert_eq!(
            html,
            "<p><a class=\"md-link\" href=\"https://x/\" rel=\"noopener noreferrer\">\
             <span class=\"md-image-alt\">logo</span></a></p>\n"
        );
        // Nested images, reference images and raw HTML in the alt text stay text.
        let html = render("![a ![b](https://x/b.png) <i>c</i>](https://x/a.png)");
        assert_eq!(
            html,
            "<p><span class=\"md-image-alt\">a b &lt;i&gt;c&lt;/i&gt;</span></p>\n"
        );
        let html = render("![pic][p]\n\n[p]: https://x/p.png \"T\"");
        assert_eq!(html, "<p><span class=\"md-image-alt\">pic</span></p>\n");
    }

    #[test]
    fn fenced_code_block_has_its_header_and_exact_code() {
        let code = "fn main() {\n    let s = \"<b>&'\";\n}";
        let html = render(&format!("Look:\n\n```rust title=x\n{code}\n```\n"));
        assert!(
            html.starts_with(
                "<p>Look:</p>\n<div class=\"code-block\"><div class=\"code-head\">\
                 <span class=\"code-lang\">rust</span><button type=\"button\" \
                 class=\"copy-code\" aria-label=\"Copy code\">Copy</button></div>\
                 <pre><code class=\"language-rust\">"
            ),
            "{html}"
        );
        assert!(html.ends_with("</code></pre></div>"), "{html}");
        assert!(html.contains("<span class=\"tok-kw\">fn</span>"), "{html}");
        assert_eq!(code_text(&html), code);
    }

    #[test]
    fn nested_code_fences_stay_inside_their_block() {
        // A longer fence holds a shorter one as text: one block, the inner fence verbatim.
        let inner = "```js\nalert(1)\n```";
        let html = render(&format!("````markdown\n{inner}\n````\nafter"));
        assert_eq!(html.matches("class=\"code-block\"").count(), 1, "{html}");
        assert!(html.contains("class=\"language-markdown\""), "{html}");
        assert_eq!(code_text(&html), inner);
        assert!(html.ends_with("<p>after</p>\n"), "{html}");
        // A tilde fence holds backtick fences, HTML and what looks like the end of the block.
        let inner = "```\n<script>alert(1)</script>\n</code></pre><img src=x onerror=alert(1)>";
        let html = render(&format!("~~~html\n{inner}\n~~~"));
        assert_safe("", &html);
        assert_eq!(code_text(&html), inner);
        // Fences inside lists and quotes are code blocks there.
        for input in [
            "- item\n\n  ```sh\n  echo \"<b>\"\n  ```\n",
            "> ```sh\n> echo \"<b>\"\n> ```\n",
            "1. a\n   > ```sh\n   > echo \"<b>\"\n   > ```\n",
        ] {
            let html = safe_render(input);
            assert!(
                html.contains("class=\"language-sh\""),
                "{input:?} -> {html}"
            );
            assert_eq!(code_text(&html), "echo \"<b>\"", "{input:?}");
        }
        // A closing fence shorter than the opening one does not close it (a reply still
        // streaming its code).
        let html = render("````\na\n```\nb");
        assert_eq!(code_text(&html), "a\n```\nb");
    }

    #[test]
    fn code_language_is_restricted() {
        let html = render("```\nplain\n```");
        assert!(
            html.contains("<span class=\"code-lang\">text</span>"),
            "{html}"
        );
        assert!(html.contains("class=\"language-text\""), "{html}");
        let html = render("```c++\nint x;\n```");
        assert!(html.contains("class=\"language-c++\""), "{html}");
        let html = render("```\"><img src=x onerror=alert(1)>\nx\n```");
        assert!(html.contains("class=\"language-text\""), "{html}");
        assert!(!html.contains("<img"), "{html}");
        let html = render("```py{attr}\nx\n```");
        assert!(html.contains("class=\"language-py\""), "{html}");
        let html = render("    indented code\n");
        assert!(html.contains("class=\"language-text\""), "{html}");
        assert_eq!(code_text(&html), "indented code");
        let long = "x".repeat(100);
        let html = render(&format!("```{long}\ny\n```"));
        assert!(
            html.contains(&format!("class=\"language-{}\"", &long[..MAX_LANG_LEN])),
            "{html}"
        );
    }

    #[test]
    fn unclosed_fence_renders_as_a_code_block() {
        // A reply cut off while streaming.
        let html = render("Here is the fix:\n\n```python\ndef f(x):\n    return \"x");
        assert!(html.contains("<div class=\"code-block\">"), "{html}");
        assert!(html.contains("class=\"language-python\""), "{html}");
        assert!(html.ends_with("</code></pre></div>"), "{html}");
        assert_eq!(code_text(&html), "def f(x):\n    return \"x");
        // Just the opening fence so far.
        let html = render("```rust");
        assert!(html.contains("<div class=\"code-block\">"), "{html}");
    }

    #[test]
    fn code_text_is_exact_for_many_samples() {
        for (lang, code) in [
            ("rust", "let s = \"unterminated"),
            ("rust", "/* open comment\nfn x() {}"),
            ("python", "print('naïve café 日本語 🎉')"),
            ("js", "const a = `multi\nline ${x}`; // ok"),
            ("html", "<a href=\"x\">&amp;</a>"),
            ("sh", "echo \"$HOME\" 'x' # c"),
            ("unknown", "<>&\"'"),
            ("c", "#include <stdio.h>\nint main(void) { return 0; }"),
        ] {
            let html = render(&format!("```{lang}\n{code}\n```"));
            assert_eq!(code_text(&html), code, "{lang}");
        }
    }

    #[test]
    fn inline_elements() {
        assert_eq!(
            render("*a* **b** ~~c~~ `<d>`"),
            "<p><em>a</em> <strong>b</strong> <del>c</del> <code>&lt;d&gt;</code></p>\n"
        );
        assert_eq!(render("line one\nline two"), "<p>line one\nline two</p>\n");
        assert_eq!(render("hard  \nbreak"), "<p>hard<br />\nbreak</p>\n");
    }

    #[test]
    fn headings_are_shifted_and_capped() {
        assert_eq!(render("# One"), "<h3>One</h3>\n");
        assert_eq!(render("## Two"), "<h4>Two</h4>\n");
        assert_eq!(render("### Three"), "<h5>Three</h5>\n");
        assert_eq!(render("#### Four"), "<h6>Four</h6>\n");
        assert_eq!(render("###### Six"), "<h6>Six</h6>\n");
        // Heading attributes are not enabled: `{#id .class}` stays text.
        assert_eq!(
            render("# T {#x .y onclick=z}"),
            "<h3>T {#x .y onclick=z}</h3>\n"
        );
    }

    #[test]
    fn lists_quotes_and_rules() {
        assert_eq!(render("- a\n- b"), "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n");
        assert_eq!(
            render("1. a\n2. b"),
            "<ol>\n<li>a</li>\n<li>b</li>\n</ol>\n"
        );
        assert_eq!(
            render("3. c\n4. d"),
            "<ol start=\"3\">\n<li>c</li>\n<li>d</li>\n</ol>\n"
        );
        assert_eq!(
            render("> quoted"),
            "<blockquote>\n<p>quoted</p>\n</blockquote>\n"
        );
        // GitHub's alerts are not enabled: no class from the reply.
        assert_eq!(
            render("> [!WARNING]\n> x"),
            "<blockquote>\n<p>[!WARNING]\nx</p>\n</blockquote>\n"
        );
        assert_eq!(render("a\n\n---\n\nb"), "<p>a</p>\n<hr />\n<p>b</p>\n");
    }

    #[test]
    fn task_lists_render() {
        assert_eq!(
            render("- [x] done\n- [ ] todo\n- plain"),
            "<ul>\n<li class=\"task-item\"><input type=\"checkbox\" class=\"task-check\" \
             disabled checked>done</li>\n<li class=\"task-item\"><input type=\"checkbox\" \
             class=\"task-check\" disabled>todo</li>\n<li>plain</li>\n</ul>\n"
        );
        // In a loose list the marker comes inside the item's paragraph.
        assert_eq!(
            render("1. [ ] a\n\n   more\n2. b"),
            "<ol>\n<li class=\"task-item\">\n<p><input type=\"checkbox\" class=\"task-check\" \
             disabled>a</p>\n<p>more</p>\n</li>\n<li>\n<p>b</p>\n</li>\n</ol>\n"
        );
    }

    #[test]
    fn tables_render() {
        let html = render("| Name | Qty |\n|:-----|----:|\n| <b>a</b> | 1 |\n| b | 2 |");
        assert_eq!(
            html,
            "<div class=\"table-wrap\"><table><thead><tr><th class=\"align-left\">Name</th>\
             <th class=\"align-right\">Qty</th></tr></thead><tbody>\n<tr>\
             <td class=\"align-left\">&lt;b&gt;a&lt;/b&gt;</td><td class=\"align-right\">1</td>\
             </tr>\n<tr><td class=\"align-left\">b</td><td class=\"align-right\">2</td></tr>\n\
             </tbody></table>\n</div>"
        );
        // No inline style: the page's content security policy would refuse it.
        let html = render("| a | b | c |\n|:-:|---|--:|\n| 1 | 2 | 3 |");
        assert!(!html.contains("style"), "{html}");
        assert!(
            html.contains("<th class=\"align-center\">a</th><th>b</th>"),
            "{html}"
        );
    }

    #[test]
    fn text_is_escaped_everywhere() {
        let html = safe_render("a & b < c > d \"e\" 'f'\n\n# <h>\n\n- <li>\n\n> <q>");
        assert!(html.contains("a &amp; b &lt; c &gt; d \"e\" 'f'"), "{html}");
        let text = text_content(&html);
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>().join(" "),
            "a & b < c > d \"e\" 'f' <h> <li> <q>"
        );
    }

    #[test]
    fn extensions_that_are_not_enabled_stay_text() {
        for (input, text) in [
            ("x[^1] y", "[^1]"),
            ("$x^2$", "$x^2$"),
            ("term\n: definition", ": definition"),
            ("---\ntitle: x\n---\n", "title: x"),
        ] {
            let html = safe_render(input);
            assert!(text_content(&html).contains(text), "{input:?} -> {html}");
        }
    }

    #[test]
    fn arbitrary_input_yields_only_allowed_markup() {
        let alphabet: Vec<char> = "ab <>/=\"'`*_~[]()!#-|:\n\t\\&;1.x{}é🎉".chars().collect();
        let pieces = [
            "<script>",
            "</script>",
            "javascript:",
            "https://x.org",
            " onerror=",
            "```",
            "~~~",
            "![",
            "](",
            "- [x] ",
            "|---|",
            "&#106;",
            "<img src=x ",
            "> ",
            "    ",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let len = (next() % 80) as usize;
            let mut input = String::new();
            for _ in 0..len {
                if next() % 5 == 0 {
                    input.push_str(pieces[(next() % pieces.len() as u64) as usize]);
                } else {
                    input.push(alphabet[(next() % alphabet.len() as u64) as usize]);
                }
            }
            safe_render(&input);
        }
    }
}
