//! Snippets: a window of a text around the first word the search matched,
//! with every matched word marked (`<b>` in HTML, the text alone in plain).

use super::query::Highlight;
use super::schema::{FOLDED, STEMMED};
use tantivy::Index;

/// A snippet of a text, as escaped HTML with matches in `<b>`, and as plain text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snippet {
    pub html: String,
    pub text: String,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The byte ranges of the words of `text` that `highlight` marks.
fn matches(index: &Index, text: &str, highlight: &Highlight) -> Vec<std::ops::Range<usize>> {
    let (Some(mut folded), Some(mut stemmer)) = (index.tokenizers().get(FOLDED), index.tokenizers().get(STEMMED))
    else {
        return Vec::new();
    };
    let mut stream = folded.token_stream(text);
    let mut ranges = Vec::new();
    while stream.advance() {
        let token = stream.token();
        let mut stem = stemmer.token_stream(&token.text);
        let hit = (stem.advance() && highlight.stems.contains(&stem.token().text))
            || highlight.prefixes.iter().any(|p| token.text.starts_with(p.as_str()));
        if hit {
            ranges.push(token.offset_from..token.offset_to);
        }
    }
    ranges
}

fn floor_boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// A window of about `max` bytes of `text` around its first match.
pub fn snippet(index: &Index, text: &str, highlight: &Highlight, max: usize) -> Snippet {
    let ranges = matches(index, text, highlight);
    let first = ranges.first().map_or(0, |r| r.start);
    let mut start = floor_boundary(text, first.saturating_sub(max / 4));
    if start > 0 {
        // Start at a word.
        start = text[start..].find(char::is_whitespace).map_or(start, |i| floor_boundary(text, start + i + 1));
    }
    let mut end = floor_boundary(text, start + max);
    if end < text.len() {
        end = text[..end].rfind(char::is_whitespace).filter(|&i| i > start).unwrap_or(end);
    }
    let (lead, tail) = (if start > 0 { "…" } else { "" }, if end < text.len() { "…" } else { "" });
    let mut html = String::from(lead);
    let mut at = start;
    for r in ranges.iter().filter(|r| r.start >= start && r.end <= end) {
        html.push_str(&escape(&text[at..r.start]));
        html.push_str("<b>");
        html.push_str(&escape(&text[r.start..r.end]));
        html.push_str("</b>");
        at = r.end;
    }
    html.push_str(&escape(&text[at..end]));
    html.push_str(tail);
    Snippet { html, text: format!("{lead}{}{tail}", &text[start..end]) }
}
