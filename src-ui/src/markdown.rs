//! Assistant replies as HTML: Markdown rendered to a fragment that is safe to assign to
//! `innerHTML`.
//!
//! The page runs with access to the app's commands, so the output is built as an allow-list:
//! only the elements and attributes written here can appear, all text is escaped, raw HTML in the
//! reply is shown as text, links keep only `http:`, `https:` and `mailto:` targets, and images
//! never load (their alt text is shown instead).
//!
//! Code blocks are highlighted by [`crate::highlight`] and come with a header naming the
//! language and a copy button; see [`render`] for their exact shape.

use pulldown_cmark::{Alignment, CodeBlockKind, Event, LinkType, Options, Parser, Tag, TagEnd};

use crate::highlight::{escape_into, highlight};

/// Renders Markdown (CommonMark with tables, strikethrough and task lists) as an HTML fragment.
///
/// Raw HTML in the input is never emitted as markup: it appears as escaped text. Links become
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
/// ticked). No line breaks are added between elements, so the result also reads well inside an
/// element styled `white-space: pre-wrap`, where soft breaks (kept as `\n`) show as line breaks.
pub fn render(markdown: &str) -> String {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let events: Vec<Event<'_>> = Parser::new_ext(markdown, options).collect();
    let mut renderer = Renderer {
        out: String::with_capacity(markdown.len() + markdown.len() / 2 + 64),
        links: Vec::new(),
        image_depth: 0,
        code: None,
        raw_block: None,
        alignments: Vec::new(),
        cell: 0,
        in_head: false,
    };
    for (index, event) in events.iter().enumerate() {
        renderer.event(event, &events[index + 1..]);
    }
    renderer.finish();
    renderer.out
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

/// A code block being collected.
struct CodeBlock {
    lang: String,
    code: String,
}

struct Renderer {
    out: String,
    /// For each open link: whether an `<a>` was written for it.
    links: Vec<bool>,
    /// How many images are open; inside one only text is written (its alt text).
    image_depth: usize,
    code: Option<CodeBlock>,
    /// The text of an HTML block being collected, shown escaped.
    raw_block: Option<String>,
    alignments: Vec<Alignment>,
    /// The index of the current table cell in its row.
    cell: usize,
    in_head: bool,
}

impl Renderer {
    fn push(&mut self, html: &str) {
        self.out.push_str(html);
    }

    fn text(&mut self, text: &str) {
        if let Some(code) = &mut self.code {
            code.code.push_str(text);
        } else if let Some(raw) = &mut self.raw_block {
            raw.push_str(text);
        } else {
            escape_into(&mut self.out, text);
        }
    }

    fn event(&mut self, event: &Event<'_>, rest: &[Event<'_>]) {
        match event {
            Event::Start(tag) => self.start(tag, rest),
            Event::End(tag) => self.end(*tag),
            Event::Text(text) => self.text(text),
            Event::Html(html) | Event::InlineHtml(html) => self.text(html),
            Event::Code(code) => {
                if self.image_depth > 0 {
                    self.text(code);
                } else {
                    self.push("<code>");
                    self.text(code);
                    self.push("</code>");
                }
            }
            Event::InlineMath(math) => {
                self.text("$");
                self.text(math);
                self.text("$");
            }
            Event::DisplayMath(math) => {
                self.text("$$");
                self.text(math);
                self.text("$$");
            }
            Event::FootnoteReference(name) => {
                self.text("[^");
                self.text(name);
                self.text("]");
            }
            Event::SoftBreak => self.text("\n"),
            Event::HardBreak => {
                if self.image_depth > 0 {
                    self.text(" ");
                } else {
                    self.push("<br>");
                }
            }
            Event::Rule => self.push("<hr>"),
            Event::TaskListMarker(checked) => {
                if self.image_depth == 0 {
                    self.push(if *checked {
                        "<input type=\"checkbox\" class=\"task-check\" disabled checked>"
                    } else {
                        "<input type=\"checkbox\" class=\"task-check\" disabled>"
                    });
                }
            }
        }
    }

    fn start(&mut self, tag: &Tag<'_>, rest: &[Event<'_>]) {
        if self.image_depth > 0 {
            // Inside an image only the alt text counts.
            if matches!(tag, Tag::Image { .. }) {
                self.image_depth += 1;
            }
            return;
        }
        match tag {
            Tag::Paragraph => self.push("<p>"),
            Tag::Heading { level, .. } => {
                let level = (*level as usize + 2).min(6);
                self.push(&format!("<h{level}>"));
            }
            Tag::BlockQuote(_) => self.push("<blockquote>"),
            Tag::CodeBlock(kind) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => code_language(info),
                    CodeBlockKind::Indented => "text".to_string(),
                };
                self.code = Some(CodeBlock {
                    lang,
                    code: String::new(),
                });
            }
            Tag::HtmlBlock => self.raw_block = Some(String::new()),
            Tag::List(Some(1)) => self.push("<ol>"),
            Tag::List(Some(start)) => self.push(&format!("<ol start=\"{start}\">")),
            Tag::List(None) => self.push("<ul>"),
            Tag::Item => {
                let task = matches!(
                    rest,
                    [Event::TaskListMarker(_), ..]
                        | [Event::Start(Tag::Paragraph), Event::TaskListMarker(_), ..]
                );
                self.push(if task {
                    "<li class=\"task-item\">"
                } else {
                    "<li>"
                });
            }
            Tag::Table(alignments) => {
                self.alignments.clone_from(alignments);
                self.push("<div class=\"table-wrap\"><table>");
            }
            Tag::TableHead => {
                self.in_head = true;
                self.cell = 0;
                self.push("<thead><tr>");
            }
            Tag::TableRow => {
                self.cell = 0;
                self.push("<tr>");
            }
            Tag::TableCell => {
                self.push(if self.in_head { "<th" } else { "<td" });
                self.push(match self.alignments.get(self.cell) {
                    Some(Alignment::Left) => " class=\"align-left\">",
                    Some(Alignment::Center) => " class=\"align-center\">",
                    Some(Alignment::Right) => " class=\"align-right\">",
                    _ => ">",
                });
            }
            Tag::Emphasis => self.push("<em>"),
            Tag::Strong => self.push("<strong>"),
            Tag::Strikethrough => self.push("<del>"),
            Tag::Superscript => self.push("<sup>"),
            Tag::Subscript => self.push("<sub>"),
            Tag::Link {
                link_type,
                dest_url,
                title,
                ..
            } => {
                let href = if *link_type == LinkType::Email {
                    format!("mailto:{dest_url}")
                } else {
                    dest_url.to_string()
                };
                let allowed = is_allowed_url(&href);
                if allowed {
                    self.push("<a class=\"md-link\" href=\"");
                    escape_into(&mut self.out, &href);
                    if !title.is_empty() {
                        self.push("\" title=\"");
                        escape_into(&mut self.out, title);
                    }
                    self.push("\" rel=\"noopener noreferrer\">");
                }
                self.links.push(allowed);
            }
            Tag::Image { .. } => {
                self.image_depth = 1;
                self.push("<span class=\"md-image-alt\">");
            }
            // Not enabled; their content is rendered as it comes.
            Tag::FootnoteDefinition(_)
            | Tag::DefinitionList
            | Tag::DefinitionListTitle
            | Tag::DefinitionListDefinition
            | Tag::MetadataBlock(_) => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        if self.image_depth > 0 {
            if tag == TagEnd::Image {
                self.image_depth -= 1;
                if self.image_depth == 0 {
                    self.push("</span>");
                }
            }
            return;
        }
        match tag {
            TagEnd::Paragraph => self.push("</p>"),
            TagEnd::Heading(level) => {
                let level = (level as usize + 2).min(6);
                self.push(&format!("</h{level}>"));
            }
            TagEnd::BlockQuote(_) => self.push("</blockquote>"),
            TagEnd::CodeBlock => self.close_code_block(),
            TagEnd::HtmlBlock => self.close_raw_block(),
            TagEnd::List(true) => self.push("</ol>"),
            TagEnd::List(false) => self.push("</ul>"),
            TagEnd::Item => self.push("</li>"),
            TagEnd::Table => self.push("</tbody></table></div>"),
            TagEnd::TableHead => {
                self.in_head = false;
                self.push("</tr></thead><tbody>");
            }
            TagEnd::TableRow => self.push("</tr>"),
            TagEnd::TableCell => {
                self.push(if self.in_head { "</th>" } else { "</td>" });
                self.cell += 1;
            }
            TagEnd::Emphasis => self.push("</em>"),
            TagEnd::Strong => self.push("</strong>"),
            TagEnd::Strikethrough => self.push("</del>"),
            TagEnd::Superscript => self.push("</sup>"),
            TagEnd::Subscript => self.push("</sub>"),
            TagEnd::Link => {
                if self.links.pop() == Some(true) {
                    self.push("</a>");
                }
            }
            TagEnd::Image
            | TagEnd::FootnoteDefinition
            | TagEnd::DefinitionList
            | TagEnd::DefinitionListTitle
            | TagEnd::DefinitionListDefinition
            | TagEnd::MetadataBlock(_) => {}
        }
    }

    fn close_code_block(&mut self) {
        let Some(CodeBlock { lang, mut code }) = self.code.take() else {
            return;
        };
        if code.ends_with('\n') {
            code.pop();
        }
        let mut lang_html = String::with_capacity(lang.len());
        escape_into(&mut lang_html, &lang);
        self.push("<div class=\"code-block\"><div class=\"code-head\"><span class=\"code-lang\">");
        self.push(&lang_html);
        self.push(
            "</span><button type=\"button\" class=\"copy-code\" aria-label=\"Copy code\">Copy\
             </button></div><pre><code class=\"language-",
        );
        self.push(&lang_html);
        self.push("\">");
        let highlighted = highlight(&lang, &code);
        self.push(&highlighted);
        self.push("</code></pre></div>");
    }

    fn close_raw_block(&mut self) {
        let Some(raw) = self.raw_block.take() else {
            return;
        };
        self.push("<p>");
        escape_into(&mut self.out, raw.trim_end_matches('\n'));
        self.push("</p>");
    }

    /// Closes what the events left open (they never do; this keeps the output whole anyway).
    fn finish(&mut self) {
        self.close_code_block();
        self.close_raw_block();
        while self.image_depth > 0 {
            self.end(TagEnd::Image);
        }
    }
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

    /// Every tag name in `html`, to check that only allowed elements appear.
    fn tag_names(html: &str) -> Vec<String> {
        html.split('<')
            .skip(1)
            .map(|part| {
                part.trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect()
            })
            .collect()
    }

    const ALLOWED_TAGS: &[&str] = &[
        "p",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "div",
        "span",
        "button",
        "pre",
        "code",
        "ol",
        "ul",
        "li",
        "input",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "em",
        "strong",
        "del",
        "sup",
        "sub",
        "a",
        "br",
        "hr",
    ];

    #[test]
    fn script_tags_are_shown_as_text() {
        let html = render("Hi <script>alert(1)</script> there\n\n<script>\nalert(2)\n</script>\n");
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;\nalert(2)\n&lt;/script&gt;"),
            "{html}"
        );
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
        ] {
            let html = render(input);
            assert!(
                tag_names(&html)
                    .iter()
                    .all(|tag| ALLOWED_TAGS.contains(&tag.as_str())),
                "{input:?} -> {html}"
            );
            assert!(html.contains("&lt;"), "{input:?} -> {html}");
            // `on…=` only ever appears inside escaped text, never inside a tag.
            for tag in html.split('<').skip(1) {
                let inside = &tag[..tag.find('>').unwrap_or(tag.len())];
                assert!(!inside.contains(" on"), "{input:?} -> {html}");
            }
        }
    }

    #[test]
    fn only_web_and_mail_links_are_links() {
        let html = render("[a](https://example.com \"T\") [b](http://x.org) [c](mailto:me@x.org)");
        assert_eq!(
            html,
            "<p><a class=\"md-link\" href=\"https://example.com\" title=\"T\" \
             rel=\"noopener noreferrer\">a</a> <a class=\"md-link\" href=\"http://x.org\" \
             rel=\"noopener noreferrer\">b</a> <a class=\"md-link\" href=\"mailto:me@x.org\" \
             rel=\"noopener noreferrer\">c</a></p>"
        );
        for input in [
            "[click](javascript:alert(1))",
            "[click](JavaScript:alert(1))",
            "[click](  javascript:alert(1))",
            "[click](java&#9;script:alert(1))",
            "[click](data:text/html,<script>alert(1)</script>)",
            "[click](file:///etc/passwd)",
            "[click](vbscript:x)",
            "[click](/relative/path)",
            "[click](#anchor)",
            "[click](ipc://localhost/cmd)",
            "[click][r]\n\n[r]: javascript:alert(1)",
            "<javascript:alert(1)>",
        ] {
            let html = render(input);
            assert!(!html.contains("<a"), "{input:?} -> {html}");
            assert!(!html.contains("href"), "{input:?} -> {html}");
        }
        assert_eq!(render("[click](javascript:alert(1))"), "<p>click</p>");
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
    }

    #[test]
    fn images_only_show_their_alt_text() {
        let html = render("![a *cat* photo](https://example.com/cat.png) ![x](javascript:1)");
        assert_eq!(
            html,
            "<p><span class=\"md-image-alt\">a cat photo</span> \
             <span class=\"md-image-alt\">x</span></p>"
        );
        let html = render("[![logo](https://x/l.png)](https://x/)");
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("<span class=\"md-image-alt\">logo</span>"),
            "{html}"
        );
    }

    #[test]
    fn fenced_code_block_has_its_header_and_exact_code() {
        let code = "fn main() {\n    let s = \"<b>&'\";\n}";
        let html = render(&format!("Look:\n\n```rust title=x\n{code}\n```\n"));
        assert!(
            html.starts_with(
                "<p>Look:</p><div class=\"code-block\"><div class=\"code-head\">\
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
            "<p><em>a</em> <strong>b</strong> <del>c</del> <code>&lt;d&gt;</code></p>"
        );
        assert_eq!(render("line one\nline two"), "<p>line one\nline two</p>");
        assert_eq!(render("hard  \nbreak"), "<p>hard<br>break</p>");
    }

    #[test]
    fn headings_are_shifted_and_capped() {
        assert_eq!(render("# One"), "<h3>One</h3>");
        assert_eq!(render("## Two"), "<h4>Two</h4>");
        assert_eq!(render("### Three"), "<h5>Three</h5>");
        assert_eq!(render("#### Four"), "<h6>Four</h6>");
        assert_eq!(render("###### Six"), "<h6>Six</h6>");
    }

    #[test]
    fn lists_quotes_and_rules() {
        assert_eq!(render("- a\n- b"), "<ul><li>a</li><li>b</li></ul>");
        assert_eq!(render("1. a\n2. b"), "<ol><li>a</li><li>b</li></ol>");
        assert_eq!(
            render("3. c\n4. d"),
            "<ol start=\"3\"><li>c</li><li>d</li></ol>"
        );
        assert_eq!(render("> quoted"), "<blockquote><p>quoted</p></blockquote>");
        assert_eq!(render("a\n\n---\n\nb"), "<p>a</p><hr><p>b</p>");
    }

    #[test]
    fn task_lists_render() {
        assert_eq!(
            render("- [x] done\n- [ ] todo\n- plain"),
            "<ul><li class=\"task-item\"><input type=\"checkbox\" class=\"task-check\" disabled \
             checked>done</li><li class=\"task-item\"><input type=\"checkbox\" \
             class=\"task-check\" disabled>todo</li><li>plain</li></ul>"
        );
    }

    #[test]
    fn tables_render() {
        let html = render("| Name | Qty |\n|:-----|----:|\n| <b>a</b> | 1 |\n| b | 2 |");
        assert_eq!(
            html,
            "<div class=\"table-wrap\"><table><thead><tr><th class=\"align-left\">Name</th>\
             <th class=\"align-right\">Qty</th></tr></thead><tbody><tr>\
             <td class=\"align-left\">&lt;b&gt;a&lt;/b&gt;</td><td class=\"align-right\">1</td>\
             </tr><tr><td class=\"align-left\">b</td><td class=\"align-right\">2</td></tr>\
             </tbody></table></div>"
        );
    }

    #[test]
    fn text_is_escaped_everywhere() {
        let html = render("a & b < c > d \"e\" 'f'\n\n# <h>\n\n- <li>\n\n> <q>");
        assert!(
            tag_names(&html)
                .iter()
                .all(|tag| ALLOWED_TAGS.contains(&tag.as_str())),
            "{html}"
        );
        assert!(
            html.contains("a &amp; b &lt; c &gt; d &quot;e&quot; &#39;f&#39;"),
            "{html}"
        );
    }

    #[test]
    fn arbitrary_input_yields_only_allowed_tags() {
        let alphabet: Vec<char> = "ab <>/=\"'`*_~[]()!#-|:\n\t\\&;1.x{}é🎉".chars().collect();
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2000 {
            let len = (next() % 80) as usize;
            let input: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let html = render(&input);
            for tag in tag_names(&html) {
                assert!(ALLOWED_TAGS.contains(&tag.as_str()), "{input:?} -> {html}");
            }
        }
    }
}
