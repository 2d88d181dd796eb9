//! A cheap, linear pre-scan of SPARQL text that bounds how deep its parse and
//! its algebra can be, before any recursive code sees it.
//!
//! Oxigraph's SPARQL parser recurses once per nested group, bracket or
//! parenthesis, and the optimizer, evaluator and destructors recurse once per
//! level of the algebra tree, which chained operators (`a || b || c`, `{…} UNION
//! {…} UNION …`, `p1/p2/p3`, one OPTIONAL after another) make deep without any
//! nesting. A stack overflow aborts the whole process, so hostile text must be
//! refused before it is parsed.
//!
//! The scan tokenizes just enough to skip strings, IRIs, comments, variables
//! and prefixed names, and computes the *structural depth*: each open `{`, `(`,
//! `[` or `<<` adds one level, and each operator or pattern keyword chained
//! inside one level (`||`, `&&`, comparisons, arithmetic, path operators,
//! `UNION`, `OPTIONAL`, `MINUS`, `FILTER`, `BIND`, `GRAPH`, `SERVICE`, `VALUES`,
//! `IN`, `EXISTS`) adds one more for as long as that level is open. This is an
//! upper bound of the depth of both the parse and the algebra tree. Data blocks
//! (`VALUES … { … }`, `INSERT DATA`, `DELETE DATA`) are flat lists: only their
//! brackets count there.
//!
//! The scan also reports the query form (SELECT, ASK, CONSTRUCT, DESCRIBE), so
//! the answer's format can be negotiated before the text is parsed.

/// The structural depth a query or update may have (see the module docs).
pub const DEFAULT_MAX_DEPTH: usize = 1_000;

/// The form of a query, read from its first keyword after the prologue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryForm {
    Select,
    Ask,
    Construct,
    Describe,
}

/// What the scan found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The largest structural depth reached.
    pub depth: usize,
    /// The query form, when the text starts like a query.
    pub form: Option<QueryForm>,
}

/// Text whose structure is deeper than the limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the text nests too deeply at line {line}, column {column}: its structure reaches depth {limit} + 1, and at most {limit} is accepted (each `{{`, `(`, `[` or `<<` opens a level, and each operator or pattern keyword chained inside a level adds one)")]
pub struct TooDeep {
    pub line: usize,
    pub column: usize,
    pub limit: usize,
}

/// One open bracket: how many chained operators it holds so far, and whether
/// it is a flat data block.
struct Frame {
    chained: usize,
    data: bool,
}

/// Scans `text`, failing at the first point where the structural depth
/// exceeds `limit`.
pub fn scan(text: &str, limit: usize) -> Result<Scan, TooDeep> {
    Scanner::new(text).run(limit, false)
}

/// The query form of `text`, reading only as far as its first keyword after
/// the prologue (cheap even for huge text; `None` for anything but a query).
pub fn form(text: &str) -> Option<QueryForm> {
    Scanner::new(text).run(usize::MAX, true).ok().and_then(|scan| scan.form)
}

/// The scan's tokenizer, shared with the IRI slots' ([`super::template::slots`]).
pub(super) struct Scanner<'a> {
    pub(super) bytes: &'a [u8],
    text: &'a str,
    pub(super) at: usize,
    frames: Vec<Frame>,
    /// The current structural depth: the open frames plus their chained operators.
    depth: usize,
    max: usize,
    /// The query form, read from the first keyword after the prologue.
    form: Option<QueryForm>,
    seen_keyword: bool,
    /// A VALUES or INSERT/DELETE DATA keyword makes the next `{` a data block.
    data_next: bool,
    /// The last keyword was INSERT or DELETE (so `DATA` opens a data block).
    after_insert_or_delete: bool,
}

impl<'a> Scanner<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Scanner {
            bytes: text.as_bytes(),
            text,
            at: 0,
            frames: vec![Frame { chained: 0, data: false }],
            depth: 1,
            max: 1,
            form: None,
            seen_keyword: false,
            data_next: false,
            after_insert_or_delete: false,
        }
    }

    fn run(mut self, limit: usize, stop_at_form: bool) -> Result<Scan, TooDeep> {
        while self.at < self.bytes.len() {
            let start = self.at;
            let b = self.bytes[self.at];
            match b {
                b'#' => self.skip_line(),
                b'"' | b'\'' => self.skip_string(b),
                b'?' | b'$' => {
                    self.at += 1;
                    self.word();
                }
                b'<' => self.less_than(start, limit)?,
                b'>' => self.greater_than(start, limit)?,
                b'{' | b'(' | b'[' => {
                    self.at += 1;
                    let data = self.data_next || self.in_data();
                    // `VALUES (?a ?b) { … }`: the data block is the braces.
                    if b == b'{' {
                        self.data_next = false;
                    }
                    self.open(data, start, limit)?;
                }
                b'}' | b')' | b']' => {
                    self.at += 1;
                    self.close();
                }
                b'^' => {
                    if self.peek(1) == Some(b'^') {
                        self.at += 2; // datatype marker
                    } else {
                        self.at += 1;
                        self.chain(start, limit)?;
                    }
                }
                b'|' | b'&' | b'=' | b'!' | b'+' | b'-' | b'*' | b'/' => {
                    self.at += 1;
                    if matches!((b, self.peek(0)), (b'|', Some(b'|')) | (b'&', Some(b'&')) | (b'!', Some(b'='))) {
                        self.at += 1;
                    }
                    self.chain(start, limit)?;
                }
                b if b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80 => {
                    let first = !self.seen_keyword;
                    self.keyword(start, limit)?;
                    if first && self.seen_keyword && stop_at_form {
                        return Ok(Scan { depth: self.max, form: self.form });
                    }
                }
                _ => self.at += 1,
            }
        }
        Ok(Scan { depth: self.max, form: self.form })
    }

    /// `<`: an IRI, a `<<` triple term, or a comparison.
    fn less_than(&mut self, start: usize, limit: usize) -> Result<(), TooDeep> {
        if self.skip_iri() {
            return Ok(());
        }
        if self.peek(1) == Some(b'<') {
            self.at += 2;
            self.open(false, start, limit)
        } else {
            self.at += if self.peek(1) == Some(b'=') { 2 } else { 1 };
            self.chain(start, limit)
        }
    }

    /// `>`: the end of a `>>` triple term, or a comparison.
    fn greater_than(&mut self, start: usize, limit: usize) -> Result<(), TooDeep> {
        if self.peek(1) == Some(b'>') && self.frames.len() > 1 {
            self.at += 2;
            self.close();
            Ok(())
        } else {
            self.at += if self.peek(1) == Some(b'=') { 2 } else { 1 };
            self.chain(start, limit)
        }
    }

    /// A word: a prefixed name (skipped), the query form (the first keyword
    /// after the prologue), a keyword that opens a data block, or one that
    /// chains what follows it.
    fn keyword(&mut self, start: usize, limit: usize) -> Result<(), TooDeep> {
        let from = self.at;
        self.word();
        let word = &self.bytes[from..self.at];
        if self.peek(0) == Some(b':') || word.contains(&b':') {
            // A prefixed name (or a prefix declaration): not a keyword.
            self.skip_name();
            return Ok(());
        }
        // Upper-cased into a buffer on the stack (no word longer than the
        // longest keyword can be one): a copy of each word, and an upper-cased
        // one, were two allocations per word of every query.
        let mut buffer = [0u8; 9];
        let upper: &[u8] = match buffer.get_mut(..word.len()) {
            Some(slot) => {
                slot.copy_from_slice(word);
                slot.make_ascii_uppercase();
                slot
            }
            None => b"",
        };
        if !self.seen_keyword && !matches!(upper, b"BASE" | b"PREFIX" | b"VERSION") {
            self.seen_keyword = true;
            self.form = match upper {
                b"SELECT" => Some(QueryForm::Select),
                b"ASK" => Some(QueryForm::Ask),
                b"CONSTRUCT" => Some(QueryForm::Construct),
                b"DESCRIBE" => Some(QueryForm::Describe),
                _ => None,
            };
        }
        match upper {
            b"VALUES" => self.data_next = true,
            b"DATA" if self.after_insert_or_delete => self.data_next = true,
            b"UNION" | b"OPTIONAL" | b"MINUS" | b"FILTER" | b"BIND" | b"GRAPH" | b"SERVICE" | b"IN" | b"EXISTS" => {
                self.chain(start, limit)?;
            }
            _ => {}
        }
        self.after_insert_or_delete = matches!(upper, b"INSERT" | b"DELETE");
        Ok(())
    }

    pub(super) fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    fn in_data(&self) -> bool {
        self.frames.last().is_some_and(|f| f.data)
    }

    fn open(&mut self, data: bool, start: usize, limit: usize) -> Result<(), TooDeep> {
        self.frames.push(Frame { chained: 0, data });
        self.deeper(start, limit)
    }

    fn close(&mut self) {
        if self.frames.len() > 1 {
            if let Some(frame) = self.frames.pop() {
                self.depth -= 1 + frame.chained;
            }
        }
    }

    /// An operator chained in the current frame (ignored inside data blocks,
    /// where `-` and `+` only sign numbers).
    fn chain(&mut self, start: usize, limit: usize) -> Result<(), TooDeep> {
        if self.in_data() {
            return Ok(());
        }
        if let Some(frame) = self.frames.last_mut() {
            frame.chained += 1;
        }
        self.deeper(start, limit)
    }

    fn deeper(&mut self, start: usize, limit: usize) -> Result<(), TooDeep> {
        self.depth += 1;
        self.max = self.max.max(self.depth);
        if self.depth > limit {
            // Bytes, not string slices: `start` may sit inside an escaped character.
            let before = &self.bytes[..start];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            let column = before[line_start..].iter().filter(|&&b| b & 0xC0 != 0x80).count() + 1;
            return Err(TooDeep { line, column, limit });
        }
        Ok(())
    }

    pub(super) fn skip_line(&mut self) {
        while self.at < self.bytes.len() && self.bytes[self.at] != b'\n' {
            self.at += 1;
        }
    }

    /// Skips a short or long string literal, honouring backslash escapes.
    pub(super) fn skip_string(&mut self, quote: u8) {
        let long = self.peek(1) == Some(quote) && self.peek(2) == Some(quote);
        self.at += if long { 3 } else { 1 };
        while self.at < self.bytes.len() {
            let b = self.bytes[self.at];
            if b == b'\\' {
                self.at += 2;
            } else if b == quote && (!long || (self.peek(1) == Some(quote) && self.peek(2) == Some(quote))) {
                self.at += if long { 3 } else { 1 };
                return;
            } else if b == b'\n' && !long {
                self.at += 1;
                return; // an unterminated short string: the parser reports it
            } else {
                self.at += 1;
            }
        }
    }

    /// Skips an IRI reference (`<…>` with no space or forbidden character)
    /// and says whether there was one; `<` alone is an operator.
    pub(super) fn skip_iri(&mut self) -> bool {
        let mut i = self.at + 1;
        while let Some(&b) = self.bytes.get(i) {
            match b {
                b'>' => {
                    self.at = i + 1;
                    return true;
                }
                b'<' | b'"' | b'{' | b'}' | b'|' | b'^' | b'`' | b'\\' => return false,
                0..=0x20 => return false,
                _ => i += 1,
            }
        }
        false
    }

    /// Reads a name (letters, digits, `_`, `-`, `.`, non-ASCII) and returns it.
    pub(super) fn word(&mut self) -> &str {
        let start = self.at;
        while let Some(&b) = self.bytes.get(self.at) {
            if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 {
                self.at += 1;
            } else {
                break;
            }
        }
        if self.at == start {
            self.at += 1; // a lone `:` (the empty prefix)
        }
        let end = self.at;
        // Non-ASCII bytes are consumed whole, so the boundaries are char boundaries.
        self.text.get(start..end).unwrap_or_default()
    }

    /// Skips the rest of a prefixed name (its local part may hold `-`, `.`,
    /// `:`, `%xx` and `\\` escapes, but does not end with a dot).
    pub(super) fn skip_name(&mut self) {
        let start = self.at;
        while let Some(&b) = self.bytes.get(self.at) {
            if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'%' | b'\\') || b >= 0x80 {
                self.at += if b == b'\\' { 2 } else { 1 };
            } else {
                break;
            }
        }
        self.at = self.at.min(self.bytes.len());
        while self.at > start && self.bytes[self.at - 1] == b'.' {
            self.at -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(text: &str) -> usize {
        scan(text, usize::MAX).unwrap().depth
    }

    #[test]
    fn nesting_and_chains_count() {
        assert_eq!(depth("ASK { ?s ?p ?o }"), 2);
        assert_eq!(depth("ASK { { { ?s ?p ?o } } }"), 4);
        // `{`, FILTER, `(`, then two `||` chained in the parentheses.
        assert_eq!(depth("ASK { FILTER(?a || ?b || ?c) }"), 6);
        assert_eq!(depth("ASK { {} UNION {} UNION {} }"), 5);
        assert_eq!(depth("ASK { ?s <a>/<b>/<c>/<d> ?o }"), 5);
        // A variable ends before `-`: `?a-?b-?c` is a chain of subtractions.
        assert_eq!(depth("ASK { FILTER(?a-?b-?c) }"), 6);
    }

    #[test]
    fn strings_iris_comments_and_names_do_not_count() {
        let text =
            "PREFIX ex: <http://ex/((>\nASK WHERE { ?s ex:a-b.c \"{{((||\" ; ex:c '''{{\n((''' . # {{{{ \n ?s <x> ?o }";
        assert_eq!(depth(text), 2);
        assert_eq!(scan(text, 10).unwrap().form, Some(QueryForm::Ask));
        let text = "SELECT * WHERE { ?s ?p ?o }";
        assert_eq!(scan(text, 10).unwrap().form, Some(QueryForm::Select));
    }

    #[test]
    fn data_blocks_are_flat() {
        let values: String = (0..5000).map(|i| format!("(-{i} \"x\") ")).collect();
        let text = format!("SELECT * WHERE {{ VALUES (?a ?b) {{ {values} }} }}");
        // top, `*`, the group, the data block, one row.
        assert_eq!(depth(&text), 5);
        let insert: String = (0..5000).map(|i| format!("<s> <p> -{i} . ")).collect();
        assert_eq!(depth(&format!("INSERT DATA {{ {insert} }}")), 2);
    }

    #[test]
    fn the_form_is_read_after_the_prologue() {
        assert_eq!(scan("BASE <x> PREFIX a: <y> ask {}", 10).unwrap().form, Some(QueryForm::Ask));
        assert_eq!(scan("CONSTRUCT WHERE { ?s ?p ?o }", 10).unwrap().form, Some(QueryForm::Construct));
        assert_eq!(scan("DESCRIBE <x>", 10).unwrap().form, Some(QueryForm::Describe));
        assert_eq!(scan("INSERT DATA {}", 10).unwrap().form, None);
        let deep = format!("# comment\nPREFIX x: <y> SELECT * {{{}", "{".repeat(10_000));
        assert_eq!(form(&deep), Some(QueryForm::Select));
    }

    #[test]
    fn too_deep_names_the_position() {
        let text = format!("SELECT * WHERE\n  {}", "{".repeat(600));
        let error = scan(&text, 500).unwrap_err();
        assert_eq!((error.line, error.column, error.limit), (2, 501, 500));
        let filter = format!("ASK {{ FILTER({}) }}", vec!["?a"; 2000].join(" || "));
        assert!(scan(&filter, 1000).is_err());
        assert!(scan(&format!("ASK {{ {} }}", "<< ".repeat(2000)), 1000).is_err());
    }
}
