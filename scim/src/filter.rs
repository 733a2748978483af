//! Parsers for RFC 7644 filter expressions (§3.4.2.2), attribute paths (§3.10) and PATCH paths
//! (§3.5.2).
//!
//! Filters come straight from untrusted clients, so this is a hand-written recursive descent whose
//! recursion is bounded by an explicit depth counter checked *before* each descent, and whose
//! input size and term count are capped: no input can overflow the stack or make the tree large.
//! All grammar tokens are ASCII, so the scanner works on bytes; it only ever stops on ASCII bytes,
//! which keeps every slice of the source on a UTF-8 character boundary.

use serde_json::Value;

use super::ast::{AttrPath, CompareOp, Filter, PatchPath};
use super::error::excerpt;

/// Why a filter, path or attribute name was refused; the message is shown to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

/// Longest filter, attribute path or PATCH path accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 4096;
/// Deepest nesting of parentheses, `not (…)` and value filters `attr[…]`.
pub const MAX_DEPTH: usize = 16;
/// Most attribute comparisons plus `pr` terms in one filter.
pub const MAX_TERMS: usize = 50;

/// Parses a `filter` query parameter or `/.search` filter into a [`Filter`].
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    check_len(input, "filter")?;
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.at_end() {
        return Err(err("empty filter"));
    }
    let filter = p.parse_or(0, false)?;
    p.close(Closer::End)?;
    Ok(filter)
}

/// Parses a bare attribute path (no value filter), as used by `sortBy`, `attributes` and
/// `excludedAttributes`.
pub fn parse_attr_path(input: &str) -> Result<AttrPath, FilterError> {
    check_len(input, "attribute path")?;
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.at_end() {
        return Err(err("empty attribute path"));
    }
    let at = p.pos;
    let Some(path) = p.attr_path()? else {
        return Err(err(format!(
            "expected an attribute name at offset {at}, found {}",
            p.found(at)
        )));
    };
    if p.peek() == Some(b'[') {
        return Err(err(format!(
            "a value filter is not allowed in an attribute path (offset {})",
            p.pos
        )));
    }
    p.skip_ws();
    if !p.at_end() {
        return Err(err(format!(
            "unexpected {} at offset {} after attribute path",
            p.found(p.pos),
            p.pos
        )));
    }
    Ok(path)
}

/// Parses a PATCH operation's `path`: `attrPath` or `valuePath ["." subAttr]`.
pub fn parse_patch_path(input: &str) -> Result<PatchPath, FilterError> {
    check_len(input, "path")?;
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.at_end() {
        return Err(err("empty path"));
    }
    let at = p.pos;
    let Some(attr) = p.attr_path()? else {
        return Err(err(format!(
            "expected an attribute name at offset {at}, found {}",
            p.found(at)
        )));
    };
    let mut filter = None;
    let mut sub_attr = None;
    if p.peek() == Some(b'[') {
        let (f, sub) = p.value_filter(&attr, p.slice(at, p.pos), 0)?;
        filter = Some(f);
        sub_attr = sub;
    }
    p.skip_ws();
    if !p.at_end() {
        return Err(err(format!(
            "unexpected {} at offset {} in path",
            p.found(p.pos),
            p.pos
        )));
    }
    Ok(PatchPath {
        attr,
        filter,
        sub_attr,
    })
}

fn err(msg: impl Into<String>) -> FilterError {
    FilterError(msg.into())
}

/// Refuses what no parse may accept: input beyond [`MAX_FILTER_BYTES`], and U+0000 (PostgreSQL
/// cannot hold it in text, so a filter value with it could only fail there; refused here the same
/// way on both databases).
fn check_len(input: &str, what: &str) -> Result<(), FilterError> {
    if input.len() > MAX_FILTER_BYTES {
        return Err(err(format!(
            "{what} is too long: {} bytes (at most {MAX_FILTER_BYTES})",
            input.len()
        )));
    }
    if let Some(at) = input.find('\0') {
        return Err(err(format!(
            "a NUL character (U+0000) at offset {at} is not allowed in a {what}"
        )));
    }
    Ok(())
}

/// Client input quoted in a message: a short, escaped excerpt.
fn quoted(input: &str) -> String {
    format!("{:?}", excerpt(input))
}

/// Bytes of ATTRNAME (`ALPHA / DIGIT / "-" / "_"`); also what separates keywords from what follows.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Bytes that may appear anywhere in `[URI ":"] ATTRNAME *1subAttr`; `$` is for `$ref`.
fn is_path_byte(b: u8) -> bool {
    is_name_byte(b) || matches!(b, b'.' | b':' | b'$')
}

/// ATTRNAME = ALPHA *(nameChar), plus `$ref`, which RFC 7643 uses as a sub-attribute name even
/// though the ABNF does not allow it.
fn is_attr_name(name: &str) -> bool {
    if name.eq_ignore_ascii_case("$ref") {
        return true;
    }
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic()) && bytes.all(is_name_byte)
}

fn check_name(name: &str, at: usize) -> Result<(), FilterError> {
    if name.is_empty() {
        return Err(err(format!("missing attribute name at offset {at}")));
    }
    if !is_attr_name(name) {
        return Err(err(format!(
            "invalid attribute name {} at offset {at} (a name starts with a letter and \
             contains only letters, digits, '-' and '_')",
            quoted(name)
        )));
    }
    Ok(())
}

/// Only schema URNs can prefix an attribute name in SCIM; anything else is a typo worth reporting
/// here rather than as an unknown attribute later.
fn check_urn(urn: &str, at: usize) -> Result<(), FilterError> {
    let mut segments = 0;
    let mut well_formed = true;
    for (i, seg) in urn.split(':').enumerate() {
        segments += 1;
        let seg_ok = !seg.is_empty()
            && seg.bytes().all(|b| is_name_byte(b) || b == b'.')
            && (i != 0 || seg.eq_ignore_ascii_case("urn"));
        well_formed &= seg_ok;
    }
    if !well_formed || segments < 3 {
        return Err(err(format!(
            "invalid schema URN {} at offset {at} (expected something like \
             urn:ietf:params:scim:schemas:core:2.0:User before the attribute name)",
            quoted(urn)
        )));
    }
    Ok(())
}

const OPERATORS: [(&str, Option<CompareOp>); 10] = [
    ("eq", Some(CompareOp::Eq)),
    ("ne", Some(CompareOp::Ne)),
    ("co", Some(CompareOp::Co)),
    ("sw", Some(CompareOp::Sw)),
    ("ew", Some(CompareOp::Ew)),
    ("gt", Some(CompareOp::Gt)),
    ("ge", Some(CompareOp::Ge)),
    ("lt", Some(CompareOp::Lt)),
    ("le", Some(CompareOp::Le)),
    ("pr", None),
];

/// What must follow a parsed `parse_or`, with the offset of the opening bracket for messages.
#[derive(Clone, Copy)]
enum Closer {
    End,
    Paren(usize),
    Bracket(usize),
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    terms: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Parser {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            terms: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Returns the empty string rather than panicking if a bound were ever off a char boundary.
    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or_default()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// End of the run of bytes matching `pred` starting at `from`.
    fn run_end(&self, from: usize, pred: impl Fn(u8) -> bool) -> usize {
        let mut i = from;
        while self.bytes.get(i).copied().is_some_and(&pred) {
            i += 1;
        }
        i
    }

    /// A short, escaped excerpt of the input at `at` for error messages.
    fn found(&self, at: usize) -> String {
        const EXCERPT_CHARS: usize = 20;
        let rest = self.src.get(at..).unwrap_or_default();
        if rest.is_empty() {
            return "end of input".to_owned();
        }
        let excerpt: String = rest.chars().take(EXCERPT_CHARS).collect();
        if rest.chars().nth(EXCERPT_CHARS).is_some() {
            format!("{excerpt:?}…")
        } else {
            format!("{excerpt:?}")
        }
    }

    fn enter(&self, depth: usize, at: usize) -> Result<usize, FilterError> {
        if depth >= MAX_DEPTH {
            return Err(err(format!(
                "filter is nested too deeply at offset {at} (at most {MAX_DEPTH} levels of \
                 parentheses, \"not\" and value filters)"
            )));
        }
        Ok(depth + 1)
    }

    /// Consumes the keyword `kw` (case-insensitive, whole word) after optional whitespace.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let mut start = self.pos;
        while self.bytes.get(start).is_some_and(|b| b.is_ascii_whitespace()) {
            start += 1;
        }
        let end = self.run_end(start, is_name_byte);
        if self.slice(start, end).eq_ignore_ascii_case(kw) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    fn parse_or(&mut self, depth: usize, in_value_filter: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_and(depth, in_value_filter)?;
        while self.eat_keyword("or") {
            let right = self.parse_and(depth, in_value_filter)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_and(&mut self, depth: usize, in_value_filter: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_unary(depth, in_value_filter)?;
        while self.eat_keyword("and") {
            let right = self.parse_unary(depth, in_value_filter)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn parse_unary(&mut self, depth: usize, in_value_filter: bool) -> Result<Filter, FilterError> {
        self.skip_ws();
        let start = self.pos;
        if self.peek() == Some(b'(') {
            let depth = self.enter(depth, start)?;
            self.pos += 1;
            let inner = self.parse_or(depth, in_value_filter)?;
            self.close(Closer::Paren(start))?;
            return Ok(inner);
        }
        if let Some(paren) = self.not_paren() {
            let depth = self.enter(depth, start)?;
            self.pos = paren + 1;
            let inner = self.parse_or(depth, in_value_filter)?;
            self.close(Closer::Paren(paren))?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.attr_exp(depth, in_value_filter)
    }

    /// If the input at `pos` is `not` followed by `(`, the offset of that `(`. A `not` followed by
    /// anything else is read as an attribute that happens to be called "not".
    fn not_paren(&self) -> Option<usize> {
        let end = self.run_end(self.pos, is_name_byte);
        if !self.slice(self.pos, end).eq_ignore_ascii_case("not") {
            return None;
        }
        let paren = self.run_end(end, |b| b.is_ascii_whitespace());
        (self.bytes.get(paren) == Some(&b'(')).then_some(paren)
    }

    /// Requires what `closer` says must follow a sub-filter, consuming a closing bracket.
    fn close(&mut self, closer: Closer) -> Result<(), FilterError> {
        self.skip_ws();
        let at = self.pos;
        let (want, name) = match closer {
            Closer::End => (None, "end of filter"),
            Closer::Paren(_) => (Some(b')'), "\")\""),
            Closer::Bracket(_) => (Some(b']'), "\"]\""),
        };
        let got = self.peek();
        if got == want {
            if want.is_some() {
                self.pos += 1;
            }
            return Ok(());
        }
        if let (Closer::End, Some(b @ (b')' | b']'))) = (closer, got) {
            return Err(err(format!("unmatched \"{}\" at offset {at}", char::from(b))));
        }
        let mut msg = format!(
            "expected \"and\", \"or\" or {name} at offset {at}, found {}",
            self.found(at)
        );
        if got.is_none() {
            match closer {
                Closer::Paren(open) => {
                    msg.push_str(&format!("; the \"(\" at offset {open} is not closed"));
                }
                Closer::Bracket(open) => {
                    msg.push_str(&format!("; the \"[\" at offset {open} is not closed"));
                }
                Closer::End => {}
            }
        }
        Err(err(msg))
    }

    /// `attrPath`, scanned as one run of path bytes and then split: the URN is everything up to
    /// the last ':' (schema URNs contain '.' and digits, attribute names contain no ':').
    /// `Ok(None)` when there is no path byte at all, so callers can say what they expected.
    fn attr_path(&mut self) -> Result<Option<AttrPath>, FilterError> {
        let start = self.pos;
        let end = self.run_end(start, is_path_byte);
        if end == start {
            return Ok(None);
        }
        let text = self.slice(start, end);
        let (urn, rest, rest_at) = match text.rsplit_once(':') {
            Some((urn, rest)) => {
                check_urn(urn, start)?;
                (Some(urn.to_owned()), rest, start + urn.len() + 1)
            }
            None => (None, text, start),
        };
        if rest.is_empty() {
            return Err(err(format!(
                "expected an attribute name after the schema URN at offset {rest_at}"
            )));
        }
        let mut parts = rest.splitn(3, '.');
        let attr = parts.next().unwrap_or_default();
        let sub_attr = parts.next();
        if parts.next().is_some() {
            return Err(err(format!(
                "attribute path {} at offset {start} has more than one sub-attribute",
                quoted(text)
            )));
        }
        check_name(attr, rest_at)?;
        if let Some(sub) = sub_attr {
            check_name(sub, rest_at + attr.len() + 1)?;
        }
        self.pos = end;
        Ok(Some(AttrPath {
            urn,
            attr: attr.to_owned(),
            sub_attr: sub_attr.map(str::to_owned),
        }))
    }

    /// A lone ATTRNAME, as after `].` in `emails[type eq "work"].value`.
    fn sub_attr_name(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        let end = self.run_end(start, |b| is_name_byte(b) || b == b'$');
        let name = self.slice(start, end);
        if name.is_empty() {
            return Err(err(format!(
                "expected a sub-attribute name after \".\" at offset {start}, found {}",
                self.found(start)
            )));
        }
        check_name(name, start)?;
        self.pos = end;
        Ok(name.to_owned())
    }

    /// `"[" valFilter "]" ["." subAttr]` with `pos` on the `[`; `depth` is the caller's depth.
    fn value_filter(
        &mut self,
        path: &AttrPath,
        path_text: &str,
        depth: usize,
    ) -> Result<(Filter, Option<String>), FilterError> {
        let open = self.pos;
        // Inner paths are relative to the multi-valued attribute; `a.b[...]` would leave it
        // ambiguous which level they refer to, and SCIM has no multi-valued sub-attributes
        // that carry their own sub-attributes.
        if path.sub_attr.is_some() {
            return Err(err(format!(
                "a value filter must follow a top-level attribute, not {} \
                 (offset {open})",
                quoted(path_text)
            )));
        }
        let depth = self.enter(depth, open)?;
        self.pos += 1;
        let filter = self.parse_or(depth, true)?;
        self.close(Closer::Bracket(open))?;
        let sub = if self.peek() == Some(b'.') {
            self.pos += 1;
            Some(self.sub_attr_name()?)
        } else {
            None
        };
        Ok((filter, sub))
    }

    /// `attrPath SP "pr"`, `attrPath SP compareOp SP compValue`, `valuePath`, or Entra's
    /// `valuePath "." subAttr SP compareOp SP compValue`.
    fn attr_exp(&mut self, depth: usize, in_value_filter: bool) -> Result<Filter, FilterError> {
        let start = self.pos;
        let Some(path) = self.attr_path()? else {
            return Err(err(format!(
                "expected an attribute name, \"not\" or \"(\" at offset {start}, found {}",
                self.found(start)
            )));
        };
        let path_text = self.slice(start, self.pos);
        if self.peek() != Some(b'[') {
            let (op, value) = self.op_and_value(path_text)?;
            return Ok(match op {
                Some(op) => Filter::Compare { path, op, value },
                None => Filter::Present(path),
            });
        }
        if in_value_filter {
            return Err(err(format!(
                "value filters cannot be nested (\"[\" at offset {})",
                self.pos
            )));
        }
        let (filter, sub) = self.value_filter(&path, path_text, depth)?;
        let filter = Box::new(filter);
        match sub {
            None => Ok(Filter::ValuePath { path, filter }),
            Some(sub_attr) => {
                let shown = format!("{path_text}[…].{sub_attr}");
                let (op, value) = self.op_and_value(&shown)?;
                Ok(Filter::ValuePathCompare {
                    path,
                    filter,
                    sub_attr,
                    op,
                    value,
                })
            }
        }
    }

    /// The operator after an attribute path and, unless it is `pr`, the value; `None` means `pr`.
    fn op_and_value(&mut self, after: &str) -> Result<(Option<CompareOp>, Value), FilterError> {
        self.skip_ws();
        let at = self.pos;
        let end = self.run_end(at, is_name_byte);
        let word = self.slice(at, end);
        let op = OPERATORS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(word))
            .map(|&(_, op)| op);
        let Some(op) = op else {
            if after.eq_ignore_ascii_case("not") {
                return Err(err(format!(
                    "\"not\" must be followed by a filter in parentheses, e.g. \
                     not (userName eq \"x\"), at offset {at}"
                )));
            }
            if word.is_empty() {
                return Err(err(format!(
                    "expected an operator after {} at offset {at}, found {}",
                    quoted(after),
                    self.found(at)
                )));
            }
            return Err(err(format!(
                "unknown operator {} after {} at offset {at} (expected eq, ne, co, \
                 sw, ew, gt, ge, lt, le or pr)",
                quoted(word),
                quoted(after)
            )));
        };
        self.pos = end;
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(err(format!(
                "filter has too many terms at offset {at} (at most {MAX_TERMS} comparisons)"
            )));
        }
        match op {
            None => Ok((None, Value::Null)),
            Some(op) => Ok((Some(op), self.comp_value(word)?)),
        }
    }

    /// compValue = false / null / true / number / string.
    fn comp_value(&mut self, op_word: &str) -> Result<Value, FilterError> {
        self.skip_ws();
        let at = self.pos;
        match self.peek() {
            Some(b'"') => self.string_value(),
            Some(b'-' | b'0'..=b'9') => self.number_value(),
            Some(b) if b.is_ascii_alphabetic() => {
                let end = self.run_end(at, is_name_byte);
                let word = self.slice(at, end);
                let value = if word.eq_ignore_ascii_case("true") {
                    Value::Bool(true)
                } else if word.eq_ignore_ascii_case("false") {
                    Value::Bool(false)
                } else if word.eq_ignore_ascii_case("null") {
                    Value::Null
                } else {
                    return Err(err(format!(
                        "expected a value after {op_word:?} at offset {at}, found {} \
                         (strings must be in double quotes)",
                        quoted(word)
                    )));
                };
                self.pos = end;
                Ok(value)
            }
            _ => Err(err(format!(
                "expected a value (string, number, true, false or null) after {op_word:?} at \
                 offset {at}, found {}",
                self.found(at)
            ))),
        }
    }

    /// A JSON string literal, decoded by serde_json so escapes mean exactly what JSON says.
    fn string_value(&mut self) -> Result<Value, FilterError> {
        let start = self.pos;
        let mut i = start + 1;
        // Only ASCII '"' can stop the scan, so `i + 1` below is a char boundary; a backslash
        // skips one byte, which may land inside a multi-byte char, but continuation bytes are
        // never '"' or '\\', so that is harmless.
        loop {
            match self.bytes.get(i) {
                None => {
                    return Err(err(format!("unterminated string starting at offset {start}")));
                }
                Some(b'"') => break,
                Some(b'\\') => i += 2,
                Some(_) => i += 1,
            }
        }
        let end = i + 1;
        let literal = self.slice(start, end);
        match serde_json::from_str::<String>(literal) {
            Ok(s) if s.contains('\0') => Err(err(format!(
                "the string value at offset {start} contains a NUL character (U+0000), which is \
                 not allowed"
            ))),
            Ok(s) => {
                self.pos = end;
                Ok(Value::String(s))
            }
            Err(e) => {
                // serde_json reports a 1-based column within the literal; turn it into an offset
                // into the whole input and drop its own "at line … column …" suffix.
                let offset = start + e.column().saturating_sub(1);
                let msg = e.to_string();
                let reason = msg.split(" at line ").next().unwrap_or_default();
                Err(err(format!("invalid string value at offset {offset}: {reason}")))
            }
        }
    }

    /// A JSON number: `-? (0 | [1-9][0-9]*) ("." [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number_value(&mut self) -> Result<Value, FilterError> {
        let start = self.pos;
        let digits = |from: usize| self.run_end(from, |b| b.is_ascii_digit());
        let mut i = start;
        if self.bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        let int_start = i;
        i = digits(i);
        let int_digits = i - int_start;
        // JSON forbids leading zeros, so `01` is refused rather than read as 1.
        let leading_zero = int_digits > 1 && self.bytes.get(int_start) == Some(&b'0');
        let mut ok = int_digits > 0 && !leading_zero;
        if ok && self.bytes.get(i) == Some(&b'.') {
            let frac_start = i + 1;
            i = digits(frac_start);
            ok = i > frac_start;
        }
        if ok && matches!(self.bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(self.bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let exp_start = i;
            i = digits(exp_start);
            ok = i > exp_start;
        }
        // `1x`, `1.2.3` or `12abc` must not silently split into a number and something else.
        if self.bytes.get(i).is_some_and(|&b| is_path_byte(b) || b == b'+') {
            ok = false;
        }
        let bad = |this: &Self| {
            let end = this.run_end(start, |b| is_path_byte(b) || b == b'+');
            err(format!(
                "invalid number {} at offset {start}",
                quoted(this.slice(start, end))
            ))
        };
        if !ok {
            return Err(bad(self));
        }
        match serde_json::from_str::<Value>(self.slice(start, i)) {
            Ok(value @ Value::Number(_)) => {
                self.pos = i;
                Ok(value)
            }
            Ok(_) => Err(bad(self)),
            Err(e) => {
                let msg = e.to_string();
                let reason = msg.split(" at line ").next().unwrap_or_default();
                Err(err(format!(
                    "invalid number {} at offset {start}: {reason}",
                    quoted(self.slice(start, i))
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ap(attr: &str) -> AttrPath {
        AttrPath {
            urn: None,
            attr: attr.to_owned(),
            sub_attr: None,
        }
    }

    fn ap_sub(attr: &str, sub: &str) -> AttrPath {
        AttrPath {
            urn: None,
            attr: attr.to_owned(),
            sub_attr: Some(sub.to_owned()),
        }
    }

    fn cmp(path: AttrPath, op: CompareOp, value: Value) -> Filter {
        Filter::Compare { path, op, value }
    }

    fn eq(attr: &str, value: Value) -> Filter {
        cmp(ap(attr), CompareOp::Eq, value)
    }

    fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    fn not(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    fn pf(s: &str) -> Filter {
        match parse_filter(s) {
            Ok(f) => f,
            Err(e) => panic!("{s:?} should parse, got error: {e}"),
        }
    }

    fn fe(s: &str) -> String {
        match parse_filter(s) {
            Ok(f) => panic!("{s:?} should fail, got {f:?}"),
            Err(e) => e.0,
        }
    }

    // ---- operators -------------------------------------------------------------------------

    #[test]
    fn every_compare_operator() {
        let cases = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        for (word, op) in cases {
            let want = cmp(ap("userName"), op, json!("bjensen"));
            assert_eq!(pf(&format!("userName {word} \"bjensen\"")), want);
            assert_eq!(pf(&format!("userName {} \"bjensen\"", word.to_uppercase())), want);
        }
    }

    #[test]
    fn operators_are_case_insensitive_in_mixed_case() {
        assert_eq!(pf("userName Eq \"a\""), eq("userName", json!("a")));
        assert_eq!(pf("userName eQ \"a\""), eq("userName", json!("a")));
    }

    #[test]
    fn present() {
        assert_eq!(pf("title pr"), Filter::Present(ap("title")));
        assert_eq!(pf("title PR"), Filter::Present(ap("title")));
        assert_eq!(
            pf("name.familyName Pr"),
            Filter::Present(ap_sub("name", "familyName"))
        );
    }

    #[test]
    fn rfc_examples() {
        assert_eq!(pf("userName eq \"bjensen\""), eq("userName", json!("bjensen")));
        assert_eq!(
            pf("name.familyName co \"O'Malley\""),
            cmp(ap_sub("name", "familyName"), CompareOp::Co, json!("O'Malley"))
        );
        assert_eq!(
            pf("meta.lastModified gt \"2011-05-13T04:42:34Z\""),
            cmp(
                ap_sub("meta", "lastModified"),
                CompareOp::Gt,
                json!("2011-05-13T04:42:34Z")
            )
        );
        assert_eq!(
            pf("title pr and userType eq \"Employee\""),
            and(Filter::Present(ap("title")), eq("userType", json!("Employee")))
        );
        assert_eq!(
            pf("userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")"),
            and(
                eq("userType", json!("Employee")),
                or(
                    cmp(ap("emails"), CompareOp::Co, json!("example.com")),
                    cmp(ap_sub("emails", "value"), CompareOp::Co, json!("example.org"))
                )
            )
        );
        assert_eq!(
            pf(
                "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")"
            ),
            and(
                cmp(ap("userType"), CompareOp::Ne, json!("Employee")),
                not(or(
                    cmp(ap("emails"), CompareOp::Co, json!("example.com")),
                    cmp(ap_sub("emails", "value"), CompareOp::Co, json!("example.org"))
                ))
            )
        );
    }

    // ---- logic ------------------------------------------------------------------------------

    #[test]
    fn and_binds_tighter_than_or() {
        let a = eq("a", json!(1));
        let b = eq("b", json!(2));
        let c = eq("c", json!(3));
        assert_eq!(
            pf("a eq 1 or b eq 2 and c eq 3"),
            or(a.clone(), and(b.clone(), c.clone()))
        );
        assert_eq!(
            pf("a eq 1 and b eq 2 or c eq 3"),
            or(and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            pf("(a eq 1 or b eq 2) and c eq 3"),
            and(or(a.clone(), b.clone()), c.clone())
        );
    }

    #[test]
    fn same_operator_is_left_associative() {
        let a = Filter::Present(ap("a"));
        let b = Filter::Present(ap("b"));
        let c = Filter::Present(ap("c"));
        assert_eq!(
            pf("a pr and b pr and c pr"),
            and(and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(pf("a pr or b pr or c pr"), or(or(a, b), c));
    }

    #[test]
    fn logical_keywords_are_case_insensitive() {
        let a = Filter::Present(ap("a"));
        let b = Filter::Present(ap("b"));
        assert_eq!(pf("a pr AND b pr"), and(a.clone(), b.clone()));
        assert_eq!(pf("a pr Or b pr"), or(a.clone(), b.clone()));
        assert_eq!(pf("NOT (a pr)"), not(a.clone()));
        assert_eq!(pf("Not(a pr)"), not(a));
    }

    #[test]
    fn not_with_any_whitespace() {
        let want = not(Filter::Present(ap("a")));
        for s in [
            "not(a pr)",
            "not (a pr)",
            "not  \t(a pr)",
            "not\n( a pr )",
            " not(a pr) ",
        ] {
            assert_eq!(pf(s), want, "{s:?}");
        }
        assert_eq!(pf("not (not (a pr))"), not(want.clone()));
    }

    #[test]
    fn not_without_parentheses_is_rejected() {
        let e = fe("not a eq 1");
        assert!(
            e.contains("\"not\" must be followed by a filter in parentheses"),
            "{e}"
        );
        let e = fe("not userName eq \"x\"");
        assert!(e.contains("parentheses"), "{e}");
    }

    #[test]
    fn attribute_called_not_and_or() {
        // The ABNF allows these as attribute names; `not` is only the operator before "(".
        assert_eq!(pf("not pr"), Filter::Present(ap("not")));
        assert_eq!(pf("not eq 1"), eq("not", json!(1)));
        assert_eq!(
            pf("and pr or or pr"),
            or(Filter::Present(ap("and")), Filter::Present(ap("or")))
        );
    }

    #[test]
    fn parentheses_and_whitespace() {
        let a = eq("a", json!("x"));
        assert_eq!(pf("(a eq \"x\")"), a.clone());
        assert_eq!(pf("((((a eq \"x\"))))"), a.clone());
        assert_eq!(pf("  \t( a\teq\n\"x\" )\r\n"), a.clone());
        assert_eq!(pf("a eq\"x\""), a.clone());
        assert_eq!(
            pf("(a pr)and(b pr)"),
            and(Filter::Present(ap("a")), Filter::Present(ap("b")))
        );
        assert_eq!(pf("a eq \"x\"or b pr"), or(a, Filter::Present(ap("b"))));
    }

    // ---- value paths ------------------------------------------------------------------------

    #[test]
    fn value_path() {
        assert_eq!(
            pf("emails[type eq \"work\" and value co \"@example.com\"]"),
            Filter::ValuePath {
                path: ap("emails"),
                filter: Box::new(and(
                    eq("type", json!("work")),
                    cmp(ap("value"), CompareOp::Co, json!("@example.com"))
                )),
            }
        );
    }

    #[test]
    fn value_path_combined_with_logic() {
        let vp = Filter::ValuePath {
            path: ap("emails"),
            filter: Box::new(eq("type", json!("work"))),
        };
        assert_eq!(
            pf("userType eq \"Employee\" and emails[type eq \"work\"]"),
            and(eq("userType", json!("Employee")), vp.clone())
        );
        assert_eq!(pf("not (emails[type eq \"work\"])"), not(vp.clone()));
        assert_eq!(
            pf("emails[type eq \"work\"] or title pr"),
            or(vp, Filter::Present(ap("title")))
        );
    }

    #[test]
    fn value_path_with_inner_logic() {
        assert_eq!(
            pf("addresses[(type eq \"work\" or type eq \"home\") and not (primary eq false)]"),
            Filter::ValuePath {
                path: ap("addresses"),
                filter: Box::new(and(
                    or(eq("type", json!("work")), eq("type", json!("home"))),
                    not(eq("primary", json!(false)))
                )),
            }
        );
        assert_eq!(
            pf("members[ value eq \"1\" ]"),
            Filter::ValuePath {
                path: ap("members"),
                filter: Box::new(eq("value", json!("1"))),
            }
        );
    }

    #[test]
    fn urn_qualified_value_path() {
        assert_eq!(
            pf("urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"]"),
            Filter::ValuePath {
                path: AttrPath {
                    urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                    attr: "emails".into(),
                    sub_attr: None,
                },
                filter: Box::new(eq("type", json!("work"))),
            }
        );
    }

    #[test]
    fn nested_value_path_is_rejected() {
        let e = fe("emails[type[value eq 1] pr]");
        assert!(e.contains("cannot be nested"), "{e}");
        let e = fe("emails[(x[y pr])]");
        assert!(e.contains("cannot be nested"), "{e}");
        let e = fe("emails[not (x[y pr])]");
        assert!(e.contains("cannot be nested"), "{e}");
    }

    #[test]
    fn value_path_on_sub_attribute_is_rejected() {
        let e = fe("name.givenName[value eq 1]");
        assert!(e.contains("top-level attribute"), "{e}");
    }

    #[test]
    fn value_path_malformed() {
        let e = fe("emails[type eq \"work\"");
        assert!(e.contains("\"[\" at offset 6 is not closed"), "{e}");
        let e = fe("emails[]");
        assert!(e.contains("expected an attribute name"), "{e}");
        let e = fe("emails[type eq \"work\")");
        assert!(e.contains("expected \"and\", \"or\" or \"]\""), "{e}");
        let e = fe("emails [type eq \"work\"]");
        assert!(e.contains("expected an operator after \"emails\""), "{e}");
        let e = fe("emails[type eq \"work\"] eq \"x\"");
        assert!(e.contains("expected \"and\", \"or\" or end of filter"), "{e}");
        let e = fe("emails]");
        assert!(e.contains("expected an operator"), "{e}");
    }

    // ---- Entra's valuePath.subAttr form ------------------------------------------------------

    #[test]
    fn entra_value_path_compare() {
        assert_eq!(
            pf("emails[type eq \"work\"].value eq \"x@example.com\""),
            Filter::ValuePathCompare {
                path: ap("emails"),
                filter: Box::new(eq("type", json!("work"))),
                sub_attr: "value".into(),
                op: Some(CompareOp::Eq),
                value: json!("x@example.com"),
            }
        );
        assert_eq!(
            pf("emails[type eq \"work\"].value pr"),
            Filter::ValuePathCompare {
                path: ap("emails"),
                filter: Box::new(eq("type", json!("work"))),
                sub_attr: "value".into(),
                op: None,
                value: Value::Null,
            }
        );
        assert_eq!(
            pf("addresses[type eq \"work\"].postalCode sw \"98\" and userName pr"),
            and(
                Filter::ValuePathCompare {
                    path: ap("addresses"),
                    filter: Box::new(eq("type", json!("work"))),
                    sub_attr: "postalCode".into(),
                    op: Some(CompareOp::Sw),
                    value: json!("98"),
                },
                Filter::Present(ap("userName"))
            )
        );
    }

    #[test]
    fn entra_form_malformed() {
        let e = fe("emails[type eq \"work\"].value");
        assert!(
            e.contains("expected an operator after \"emails[…].value\""),
            "{e}"
        );
        let e = fe("emails[type eq \"work\"]. eq \"x\"");
        assert!(e.contains("expected a sub-attribute name"), "{e}");
        let e = fe("emails[type eq \"work\"].1x eq \"x\"");
        assert!(e.contains("invalid attribute name \"1x\""), "{e}");
        let e = fe("emails[type eq \"work\"].value.x eq \"x\"");
        assert!(e.contains("expected an operator"), "{e}");
    }

    // ---- attribute names and URNs -----------------------------------------------------------

    #[test]
    fn urn_qualified_names() {
        assert_eq!(
            pf("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"J\""),
            cmp(
                AttrPath {
                    urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                    attr: "userName".into(),
                    sub_attr: None,
                },
                CompareOp::Sw,
                json!("J")
            )
        );
        assert_eq!(
            pf(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"26118915-6090-4610-87e4-49d8ca9f808d\""
            ),
            cmp(
                AttrPath {
                    urn: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                    attr: "manager".into(),
                    sub_attr: Some("value".into()),
                },
                CompareOp::Eq,
                json!("26118915-6090-4610-87e4-49d8ca9f808d")
            )
        );
        assert_eq!(
            pf("URN:IETF:params:scim:schemas:core:2.0:Group:displayName pr"),
            Filter::Present(AttrPath {
                urn: Some("URN:IETF:params:scim:schemas:core:2.0:Group".into()),
                attr: "displayName".into(),
                sub_attr: None,
            })
        );
    }

    #[test]
    fn bad_urns() {
        for s in [
            "foo:userName pr",
            "urn:userName pr",
            "urn::x:userName pr",
            "urn:a$b:c:userName pr",
            ":userName pr",
        ] {
            let e = fe(s);
            assert!(e.contains("invalid schema URN"), "{s:?}: {e}");
        }
        let e = fe("urn:ietf:params:scim:schemas:core:2.0:User: pr");
        assert!(
            e.contains("expected an attribute name after the schema URN"),
            "{e}"
        );
    }

    #[test]
    fn names_keep_spelling_and_allow_name_chars() {
        assert_eq!(pf("UserName eq 1"), eq("UserName", json!(1)));
        assert_eq!(pf("x-y_z9 pr"), Filter::Present(ap("x-y_z9")));
        assert_eq!(
            pf("members.$ref eq \"https://x/Users/1\""),
            eq_path(ap_sub("members", "$ref"), json!("https://x/Users/1"))
        );
        assert_eq!(pf("$ref pr"), Filter::Present(ap("$ref")));
        assert_eq!(
            pf("members[$ref pr]"),
            Filter::ValuePath {
                path: ap("members"),
                filter: Box::new(Filter::Present(ap("$ref"))),
            }
        );
    }

    fn eq_path(path: AttrPath, value: Value) -> Filter {
        cmp(path, CompareOp::Eq, value)
    }

    #[test]
    fn bad_names() {
        for (s, bad) in [
            ("1abc pr", "\"1abc\""),
            ("-abc pr", "\"-abc\""),
            ("a$b pr", "\"a$b\""),
            ("$refx pr", "\"$refx\""),
            ("name.1x pr", "\"1x\""),
        ] {
            let e = fe(s);
            assert!(e.contains(&format!("invalid attribute name {bad}")), "{s:?}: {e}");
        }
        let e = fe("a.b.c pr");
        assert!(e.contains("more than one sub-attribute"), "{e}");
        let e = fe("name. pr");
        assert!(e.contains("missing attribute name at offset 5"), "{e}");
        let e = fe(".name pr");
        assert!(e.contains("missing attribute name at offset 0"), "{e}");
        let e = fe("usér eq 1");
        assert!(e.contains("expected an operator after \"us\""), "{e}");
    }

    // ---- values -----------------------------------------------------------------------------

    #[test]
    fn string_escapes() {
        let cases = [
            (r#"a eq "he said \"hi\"""#, "he said \"hi\""),
            (r#"a eq "back\\slash""#, "back\\slash"),
            (r#"a eq "caf\u00e9""#, "café"),
            (r#"a eq "\ud83d\ude00""#, "😀"),
            (
                r#"a eq "line\nbreak\ttab\/slash\b\f\r""#,
                "line\nbreak\ttab/slash\u{8}\u{c}\r",
            ),
            (r#"a eq "日本語 ü""#, "日本語 ü"),
            (r#"a eq """#, ""),
            (r#"a eq "and or not ) ] [ (""#, "and or not ) ] [ ("),
            (r#"a eq "\\""#, "\\"),
        ];
        for (s, want) in cases {
            assert_eq!(pf(s), eq("a", json!(want)), "{s:?}");
        }
    }

    #[test]
    fn bad_strings() {
        let e = fe(r#"a eq "abc"#);
        assert!(e.contains("unterminated string starting at offset 5"), "{e}");
        let e = fe(r#"a eq "abc\"#);
        assert!(e.contains("unterminated string"), "{e}");
        let e = fe(r#"a eq "abc\""#);
        assert!(e.contains("unterminated string"), "{e}");
        let e = fe(r#"a eq "bad \q escape""#);
        assert!(e.starts_with("invalid string value at offset"), "{e}");
        assert!(e.contains("escape"), "{e}");
        let e = fe(r#"a eq "\u12""#);
        assert!(e.starts_with("invalid string value"), "{e}");
        let e = fe(r#"a eq "\ud800""#);
        assert!(e.starts_with("invalid string value"), "{e}");
        let e = fe("a eq \"raw\nnewline\"");
        assert!(e.starts_with("invalid string value"), "{e}");
        let e = fe(r#"a eq "é\q""#);
        assert!(e.starts_with("invalid string value"), "{e}");
    }

    #[test]
    fn string_error_offset_points_into_input() {
        // `\q` is at offset 9 ("a eq \"ab" is 8 bytes, the backslash at 8, q at 9).
        let e = fe(r#"a eq "ab\q""#);
        let offset: usize = e
            .trim_start_matches("invalid string value at offset ")
            .split(':')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        assert!((8..=10).contains(&offset), "{e}");
    }

    #[test]
    fn numbers() {
        let cases = [
            ("0", json!(0)),
            ("42", json!(42)),
            ("-7", json!(-7)),
            ("3.25", json!(3.25)),
            ("-0.5", json!(-0.5)),
            ("1e3", json!(1000.0)),
            ("2.5E-2", json!(0.025)),
            ("1e+2", json!(100.0)),
            ("18446744073709551615", json!(18446744073709551615u64)),
            ("-9223372036854775808", json!(-9223372036854775808i64)),
        ];
        for (text, want) in cases {
            assert_eq!(
                pf(&format!("a gt {text}")),
                cmp(ap("a"), CompareOp::Gt, want.clone()),
                "{text}"
            );
            assert_eq!(
                pf(&format!("(a gt {text})")),
                cmp(ap("a"), CompareOp::Gt, want),
                "{text} in parens"
            );
        }
        // Beyond u64 serde_json falls back to a float rather than failing.
        assert!(matches!(
            pf("a gt 123456789012345678901234567890"),
            Filter::Compare {
                value: Value::Number(_),
                ..
            }
        ));
    }

    #[test]
    fn bad_numbers() {
        for s in [
            "a eq 01",
            "a eq 1.",
            "a eq .5",
            "a eq 1e",
            "a eq 1e+",
            "a eq -",
            "a eq 1.2.3",
            "a eq 12abc",
            "a eq 1x",
            "a eq --1",
            "a eq +1",
            "a eq 0x10",
            "a eq 1.5e3.2",
        ] {
            let e = fe(s);
            assert!(
                e.contains("invalid number") || e.contains("expected a value"),
                "{s:?}: {e}"
            );
        }
        let e = fe("a eq 1e400");
        assert!(e.contains("invalid number \"1e400\""), "{e}");
    }

    #[test]
    fn booleans_and_null() {
        assert_eq!(pf("active eq true"), eq("active", json!(true)));
        assert_eq!(pf("active eq false"), eq("active", json!(false)));
        assert_eq!(pf("active eq TRUE"), eq("active", json!(true)));
        assert_eq!(pf("active eq False"), eq("active", json!(false)));
        assert_eq!(pf("manager eq null"), eq("manager", Value::Null));
        assert_eq!(
            pf("manager ne NULL"),
            cmp(ap("manager"), CompareOp::Ne, Value::Null)
        );
        assert_eq!(
            pf("active eq true and x pr"),
            and(eq("active", json!(true)), Filter::Present(ap("x")))
        );
        let e = fe("active eq truex");
        assert!(e.contains("found \"truex\""), "{e}");
    }

    // ---- malformed input --------------------------------------------------------------------

    #[test]
    fn empty_input() {
        assert_eq!(fe(""), "empty filter");
        assert_eq!(fe("   \t\n"), "empty filter");
    }

    #[test]
    fn missing_operator_reports_offset() {
        assert_eq!(
            fe("userName \"x\""),
            "expected an operator after \"userName\" at offset 9, found \"\\\"x\\\"\""
        );
        assert_eq!(
            fe("userName"),
            "expected an operator after \"userName\" at offset 8, found end of input"
        );
    }

    #[test]
    fn unknown_operator() {
        let e = fe("userName like \"x\"");
        assert!(
            e.starts_with("unknown operator \"like\" after \"userName\" at offset 9"),
            "{e}"
        );
        let e = fe("userName eq1");
        assert!(e.starts_with("unknown operator \"eq1\""), "{e}");
        let e = fe("userName == \"x\"");
        assert!(
            e.starts_with("expected an operator after \"userName\" at offset 9"),
            "{e}"
        );
    }

    #[test]
    fn missing_value() {
        let e = fe("userName eq");
        assert_eq!(
            e,
            "expected a value (string, number, true, false or null) after \"eq\" at offset 11, \
             found end of input"
        );
        let e = fe("userName eq )");
        assert!(e.starts_with("expected a value"), "{e}");
        let e = fe("(userName eq)");
        assert!(e.starts_with("expected a value"), "{e}");
        let e = fe("userName eq bjensen");
        assert!(e.contains("strings must be in double quotes"), "{e}");
    }

    #[test]
    fn trailing_garbage() {
        let e = fe("userName eq \"x\" garbage");
        assert!(
            e.starts_with("expected \"and\", \"or\" or end of filter at offset 16, found \"garbage\""),
            "{e}"
        );
        let e = fe("title pr \"x\"");
        assert!(e.contains("end of filter"), "{e}");
        let e = fe("a pr)");
        assert_eq!(e, "unmatched \")\" at offset 4");
        let e = fe("a pr]");
        assert_eq!(e, "unmatched \"]\" at offset 4");
        let e = fe("a pr b pr");
        assert!(e.contains("end of filter"), "{e}");
        let e = fe("a eq \"x\"\"y\"");
        assert!(e.contains("end of filter"), "{e}");
    }

    #[test]
    fn dangling_logic() {
        for s in [
            "a pr and",
            "a pr or",
            "a pr and ",
            "and",
            "or",
            "a pr and or b pr",
            "not",
            "not (",
        ] {
            assert!(parse_filter(s).is_err(), "{s:?}");
        }
        let e = fe("a pr and");
        assert!(e.contains("found end of input"), "{e}");
    }

    #[test]
    fn unbalanced_parentheses() {
        let e = fe("(a pr");
        assert!(e.contains("the \"(\" at offset 0 is not closed"), "{e}");
        let e = fe("not (a pr");
        assert!(e.contains("the \"(\" at offset 4 is not closed"), "{e}");
        let e = fe("((a pr)");
        assert!(e.contains("the \"(\" at offset 0 is not closed"), "{e}");
        let e = fe("()");
        assert!(
            e.starts_with("expected an attribute name, \"not\" or \"(\" at offset 1"),
            "{e}"
        );
        let e = fe("(a pr]");
        assert!(e.contains("expected \"and\", \"or\" or \")\""), "{e}");
        let e = fe(")");
        assert!(e.starts_with("expected an attribute name"), "{e}");
    }

    #[test]
    fn odd_characters() {
        for s in [
            "\"x\" eq 1",
            "[a pr]",
            "@ pr",
            "a\u{0} pr",
            "日本 eq 1",
            "a eq 日本",
            "a ☃ 1",
            "\u{feff}a pr",
        ] {
            assert!(parse_filter(s).is_err(), "{s:?}");
        }
    }

    // ---- limits -----------------------------------------------------------------------------

    fn nested_parens(n: usize) -> String {
        format!("{}a pr{}", "(".repeat(n), ")".repeat(n))
    }

    fn nested_nots(n: usize) -> String {
        format!("{}a pr{}", "not (".repeat(n), ")".repeat(n))
    }

    #[test]
    fn depth_limit_parentheses() {
        assert_eq!(pf(&nested_parens(MAX_DEPTH)), Filter::Present(ap("a")));
        let e = fe(&nested_parens(MAX_DEPTH + 1));
        assert!(e.contains("nested too deeply"), "{e}");
    }

    #[test]
    fn depth_limit_not() {
        let mut want = Filter::Present(ap("a"));
        for _ in 0..MAX_DEPTH {
            want = not(want);
        }
        assert_eq!(pf(&nested_nots(MAX_DEPTH)), want);
        let e = fe(&nested_nots(MAX_DEPTH + 1));
        assert!(e.contains("nested too deeply"), "{e}");
    }

    #[test]
    fn depth_limit_counts_value_filters() {
        let inner = "emails[type eq \"work\"]";
        let at_limit = format!(
            "{}{inner}{}",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(matches!(pf(&at_limit), Filter::ValuePath { .. }));
        let beyond = format!("{}{inner}{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        let e = fe(&beyond);
        assert!(e.contains("nested too deeply"), "{e}");
        // Parentheses inside the brackets count too.
        let inside = format!(
            "emails[{}type pr{}]",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(matches!(pf(&inside), Filter::ValuePath { .. }));
        let inside = format!(
            "emails[{}type pr{}]",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        assert!(fe(&inside).contains("nested too deeply"));
    }

    #[test]
    fn huge_nesting_is_an_error_not_a_crash() {
        let e = fe(&nested_parens(1000));
        assert!(e.contains("nested too deeply"), "{e}");
        let e = fe(&"(".repeat(1000));
        assert!(e.contains("nested too deeply"), "{e}");
        let e = fe(&"not(".repeat(1000));
        assert!(e.contains("nested too deeply"), "{e}");
        // 10 000 `not(` is also over the size limit, which is checked first.
        assert!(parse_filter(&"not(".repeat(10_000)).is_err());
        assert!(parse_filter(&nested_nots(10_000)).is_err());
        let e = fe(&"(".repeat(MAX_FILTER_BYTES));
        assert!(e.contains("nested too deeply"), "{e}");
    }

    #[test]
    fn huge_nesting_on_a_small_stack() {
        // Would overflow a 256 KiB stack if the depth limit were not enforced before recursing.
        let handle = std::thread::Builder::new().stack_size(256 * 1024).spawn(|| {
            let deep = "(".repeat(MAX_FILTER_BYTES);
            let nots = "not(".repeat(MAX_FILTER_BYTES / 4);
            let brackets = format!("e[{}", "(".repeat(MAX_FILTER_BYTES - 2));
            [
                parse_filter(&deep).is_err(),
                parse_filter(&nots).is_err(),
                parse_patch_path(&brackets).is_err(),
                parse_filter(&nested_parens(MAX_DEPTH)).is_ok(),
            ]
        });
        let results = handle.map(|h| h.join());
        assert!(matches!(results, Ok(Ok([true, true, true, true]))), "{results:?}");
    }

    fn n_terms(n: usize) -> String {
        (0..n)
            .map(|i| format!("a{i} eq {i}"))
            .collect::<Vec<_>>()
            .join(" and ")
    }

    #[test]
    fn term_limit() {
        assert!(parse_filter(&n_terms(MAX_TERMS)).is_ok());
        let e = fe(&n_terms(MAX_TERMS + 1));
        assert!(e.contains("too many terms"), "{e}");
    }

    #[test]
    fn term_limit_counts_pr_and_value_filter_terms() {
        let pr = (0..MAX_TERMS)
            .map(|i| format!("a{i} pr"))
            .collect::<Vec<_>>()
            .join(" or ");
        assert!(parse_filter(&pr).is_ok());
        assert!(fe(&format!("{pr} or x pr")).contains("too many terms"));
        // 48 plain terms + a value path with 2 inner terms = 50.
        let vp = format!(
            "{} and emails[type eq \"w\" and value pr]",
            n_terms(MAX_TERMS - 2)
        );
        assert!(parse_filter(&vp).is_ok());
        let vp = format!(
            "{} and emails[type eq \"w\" and value pr]",
            n_terms(MAX_TERMS - 1)
        );
        assert!(fe(&vp).contains("too many terms"));
        // Entra's form: the inner term and the outer comparison both count.
        let entra = format!("{} and emails[type eq \"w\"].value pr", n_terms(MAX_TERMS - 2));
        assert!(parse_filter(&entra).is_ok());
        let entra = format!("{} and emails[type eq \"w\"].value pr", n_terms(MAX_TERMS - 1));
        assert!(fe(&entra).contains("too many terms"));
    }

    #[test]
    fn size_limit() {
        let prefix = "userName eq \"";
        let fill = MAX_FILTER_BYTES - prefix.len() - 1;
        let at_limit = format!("{prefix}{}\"", "x".repeat(fill));
        assert_eq!(at_limit.len(), MAX_FILTER_BYTES);
        assert!(parse_filter(&at_limit).is_ok());
        let beyond = format!("{prefix}{}\"", "x".repeat(fill + 1));
        let e = fe(&beyond);
        assert_eq!(e, "filter is too long: 4097 bytes (at most 4096)");
        // Whitespace counts: the limit is on what the client sent.
        let padded = format!(" {at_limit}");
        assert!(fe(&padded).contains("too long"));
        // Multi-byte characters count as bytes.
        let wide = format!("{prefix}{}\"", "é".repeat(fill / 2 + 1));
        assert!(wide.len() > MAX_FILTER_BYTES);
        assert!(fe(&wide).contains("too long"));
    }

    // ---- robustness -------------------------------------------------------------------------

    /// Deterministic xorshift so the "fuzz" test is reproducible without a dependency.
    fn next(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    const SAMPLES: [&str; 8] = [
        "userType eq \"Employee\" and (emails co \"example.com\" or emails.value co \"example.org\")",
        "userType ne \"Employee\" and not (emails co \"example.com\" or emails.value co \"example.org\")",
        "emails[type eq \"work\" and value co \"@example.com\"] or ims[type eq \"xmpp\" and value co \"@foo.com\"]",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"x\\u00e9\\\"\"",
        "emails[type eq \"work\"].value eq \"日本\" and a gt -1.5e3 and b eq true and c eq null",
        "members[value eq \"2819c223\"].display",
        "not(a pr) or (b le 2 and c ge 3)",
        "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
    ];

    #[test]
    fn every_prefix_and_suffix_is_handled() {
        for sample in SAMPLES {
            for (i, _) in sample.char_indices() {
                let (head, tail) = sample.split_at(i);
                let _ = parse_filter(head);
                let _ = parse_filter(tail);
                let _ = parse_patch_path(head);
                let _ = parse_patch_path(tail);
                let _ = parse_attr_path(head);
                let _ = parse_attr_path(tail);
            }
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        const PIECES: [&str; 24] = [
            "(", ")", "[", "]", "\"", "\\", " ", ".", ":", "$", "-", "0", "e", "not", "and", "or", "pr",
            "eq", "é", "日", "\u{0}", "\\u", "urn:", "\t",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let base = SAMPLES[(next(&mut state) % SAMPLES.len() as u64) as usize];
            let mut chars: Vec<String> = base.chars().map(String::from).collect();
            let edits = 1 + next(&mut state) % 4;
            for _ in 0..edits {
                let at = (next(&mut state) % (chars.len() as u64 + 1)) as usize;
                let piece = PIECES[(next(&mut state) % PIECES.len() as u64) as usize].to_owned();
                match next(&mut state) % 3 {
                    0 if at < chars.len() => chars[at] = piece,
                    1 if at < chars.len() => {
                        chars.remove(at);
                    }
                    _ => chars.insert(at, piece),
                }
            }
            let s: String = chars.concat();
            let _ = parse_filter(&s);
            let _ = parse_patch_path(&s);
            let _ = parse_attr_path(&s);
        }
    }

    #[test]
    fn error_messages_are_single_line_and_bounded() {
        let long_garbage = format!("a pr {}", "x".repeat(3000));
        let e = fe(&long_garbage);
        assert!(e.len() < 200, "{e}");
        let e = fe("a pr \n\u{0}junk");
        assert!(!e.contains('\n') && !e.contains('\u{0}'), "{e:?}");
    }

    // ---- PATCH paths ------------------------------------------------------------------------

    fn pp(s: &str) -> PatchPath {
        match parse_patch_path(s) {
            Ok(p) => p,
            Err(e) => panic!("{s:?} should parse, got error: {e}"),
        }
    }

    fn ppe(s: &str) -> String {
        match parse_patch_path(s) {
            Ok(p) => panic!("{s:?} should fail, got {p:?}"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn patch_path_plain() {
        assert_eq!(
            pp("members"),
            PatchPath {
                attr: ap("members"),
                filter: None,
                sub_attr: None,
            }
        );
        assert_eq!(
            pp("name.givenName"),
            PatchPath {
                attr: ap_sub("name", "givenName"),
                filter: None,
                sub_attr: None,
            }
        );
        assert_eq!(pp("  displayName \t"), pp("displayName"));
    }

    #[test]
    fn patch_path_urn() {
        assert_eq!(
            pp("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"),
            PatchPath {
                attr: AttrPath {
                    urn: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                    attr: "department".into(),
                    sub_attr: None,
                },
                filter: None,
                sub_attr: None,
            }
        );
        assert_eq!(
            pp("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            PatchPath {
                attr: AttrPath {
                    urn: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                    attr: "manager".into(),
                    sub_attr: Some("value".into()),
                },
                filter: None,
                sub_attr: None,
            }
        );
    }

    #[test]
    fn patch_path_with_filter() {
        assert_eq!(
            pp("members[value eq \"2819c223\"]"),
            PatchPath {
                attr: ap("members"),
                filter: Some(eq("value", json!("2819c223"))),
                sub_attr: None,
            }
        );
        assert_eq!(
            pp("emails[type eq \"work\"].value"),
            PatchPath {
                attr: ap("emails"),
                filter: Some(eq("type", json!("work"))),
                sub_attr: Some("value".into()),
            }
        );
        assert_eq!(
            pp("addresses[type eq \"work\" and not (primary eq false)].streetAddress"),
            PatchPath {
                attr: ap("addresses"),
                filter: Some(and(eq("type", json!("work")), not(eq("primary", json!(false))))),
                sub_attr: Some("streetAddress".into()),
            }
        );
        assert_eq!(
            pp("urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"].value"),
            PatchPath {
                attr: AttrPath {
                    urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                    attr: "emails".into(),
                    sub_attr: None,
                },
                filter: Some(eq("type", json!("work"))),
                sub_attr: Some("value".into()),
            }
        );
        assert_eq!(
            pp("members[$ref eq \"x\"].$ref").sub_attr.as_deref(),
            Some("$ref")
        );
    }

    #[test]
    fn patch_path_errors() {
        assert_eq!(ppe(""), "empty path");
        assert_eq!(ppe("   "), "empty path");
        assert!(ppe("members[value eq \"x\"").contains("is not closed"));
        assert!(ppe("members[]").contains("expected an attribute name"));
        assert!(ppe("members[value[x pr]]").contains("cannot be nested"));
        assert!(ppe("emails[type eq \"work\"].").contains("expected a sub-attribute name"));
        assert!(ppe("emails[type eq \"work\"].value.x").contains("unexpected"));
        assert!(ppe("emails[type eq \"work\"] x").contains("unexpected"));
        assert!(ppe("name.givenName[value eq 1]").contains("top-level attribute"));
        assert!(ppe("name givenName").contains("unexpected"));
        assert!(ppe("a.b.c").contains("more than one sub-attribute"));
        assert!(ppe("1abc").contains("invalid attribute name"));
        assert!(ppe("[value eq 1]").contains("expected an attribute name"));
        assert!(ppe("members[value eq]").contains("expected a value"));
        assert!(ppe("foo:bar").contains("invalid schema URN"));
        assert!(ppe(&format!("a{}", " ".repeat(MAX_FILTER_BYTES))).contains("too long"));
        let deep = format!("e[{}a pr{}]", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(ppe(&deep).contains("nested too deeply"));
        let ok = format!(
            "e[{}a pr{}]",
            "(".repeat(MAX_DEPTH - 1),
            ")".repeat(MAX_DEPTH - 1)
        );
        assert!(parse_patch_path(&ok).is_ok());
        let terms = format!("e[{}]", n_terms(MAX_TERMS + 1));
        assert!(ppe(&terms).contains("too many terms"));
        let terms = format!("e[{}]", n_terms(MAX_TERMS));
        assert!(parse_patch_path(&terms).is_ok());
    }

    // ---- attribute paths --------------------------------------------------------------------

    #[test]
    fn attr_paths() {
        let ok = |s: &str| match parse_attr_path(s) {
            Ok(p) => p,
            Err(e) => panic!("{s:?}: {e}"),
        };
        assert_eq!(ok("userName"), ap("userName"));
        assert_eq!(ok(" name.givenName "), ap_sub("name", "givenName"));
        assert_eq!(ok("meta.lastModified"), ap_sub("meta", "lastModified"));
        assert_eq!(ok("members.$ref"), ap_sub("members", "$ref"));
        assert_eq!(
            ok("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:core:2.0:User".into()),
                attr: "userName".into(),
                sub_attr: None,
            }
        );
        assert_eq!(
            ok("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName"),
            AttrPath {
                urn: Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".into()),
                attr: "manager".into(),
                sub_attr: Some("displayName".into()),
            }
        );
    }

    #[test]
    fn attr_path_errors() {
        let bad = |s: &str| match parse_attr_path(s) {
            Ok(p) => panic!("{s:?} should fail, got {p:?}"),
            Err(e) => e.0,
        };
        assert_eq!(bad(""), "empty attribute path");
        assert_eq!(bad(" "), "empty attribute path");
        assert!(bad("emails[type eq \"work\"]").contains("value filter is not allowed"));
        assert!(bad("userName eq \"x\"").contains("unexpected"));
        assert!(bad("a,b").contains("unexpected"));
        assert!(bad("a.b.c").contains("more than one sub-attribute"));
        assert!(bad("name.").contains("missing attribute name"));
        assert!(bad("9lives").contains("invalid attribute name"));
        assert!(bad("foo:bar").contains("invalid schema URN"));
        assert!(bad("urn:ietf:params:scim:schemas:core:2.0:User:").contains("after the schema URN"));
        assert!(bad("\"userName\"").contains("expected an attribute name"));
        assert!(bad(&"a".repeat(MAX_FILTER_BYTES + 1)).contains("too long"));
        assert!(parse_attr_path(&"a".repeat(MAX_FILTER_BYTES)).is_ok());
    }

    #[test]
    fn nul_is_refused_with_an_offset() {
        let raw = fe("userName eq \"a\u{0}b\"");
        assert!(raw.contains("NUL") && raw.contains("offset 14"), "{raw}");
        let escaped = fe("userName eq \"a\\u0000b\"");
        assert!(
            escaped.contains("NUL") && escaped.contains("offset 12"),
            "{escaped}"
        );
        let in_value_filter = fe("emails[value eq \"\\u0000\"]");
        assert!(in_value_filter.contains("NUL"), "{in_value_filter}");
        assert!(parse_attr_path("userName\u{0}").is_err());
        assert!(parse_patch_path("members[value eq \"\\u0000\"]").is_err());
        // An escaped backslash followed by "u0000" is text, not NUL.
        assert!(parse_filter("userName eq \"a\\\\u0000\"").is_ok());
    }

    #[test]
    fn quoted_input_is_an_excerpt() {
        let long_name = format!("a{}!", "b".repeat(3000));
        for filter in [
            format!("{long_name} eq 1"),
            format!("a eq 1{}", "2".repeat(3000) + "x"),
            format!("a {} 1", "q".repeat(3000)),
            format!("urn:{}:x eq 1", "-".repeat(3000)),
        ] {
            let e = fe(&filter);
            assert!(e.len() < 400, "{} bytes: {e}", e.len());
        }
    }
}
