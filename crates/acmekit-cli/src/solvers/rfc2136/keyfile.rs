//! Reading a TSIG key in BIND's format, as `tsig-keygen` writes it:
//!
//! ```text
//! key "acme-update" {
//!     algorithm hmac-sha256;
//!     secret "base64…";
//! };
//! ```
//!
//! Comments (`#`, `//`, `/* */`) are allowed; the file must hold exactly
//! one `key` statement.

use base64::Engine as _;

use super::tsig::{Algorithm, TsigKey};
use super::wire::Name;

/// Parses the text of a key file. Errors are one sentence naming the line.
pub fn parse(text: &str) -> Result<TsigKey, String> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, pos: 0 };
    let mut keys = Vec::new();
    while let Some(tok) = p.next() {
        match tok.text.as_str() {
            "key" if !tok.quoted => keys.push(p.key_statement(tok.line)?),
            other => {
                return Err(format!(
                    "line {}: expected a `key \"NAME\" {{ … }};` statement, found `{other}`",
                    tok.line
                ))
            }
        }
    }
    match keys.len() {
        0 => Err("no `key \"NAME\" { algorithm …; secret \"…\"; };` statement found".into()),
        1 => Ok(keys.remove(0)),
        n => Err(format!(
            "it holds {n} keys; put the one to use in a file of its own"
        )),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    text: String,
    quoted: bool,
    line: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => skip_line(&mut chars, &mut line),
            '/' if chars.peek() == Some(&'/') => skip_line(&mut chars, &mut line),
            '/' if chars.peek() == Some(&'*') => {
                let start = line;
                chars.next();
                let mut prev = ' ';
                loop {
                    match chars.next() {
                        Some('/') if prev == '*' => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            prev = c;
                        }
                        None => return Err(format!("line {start}: a /* comment is not closed")),
                    }
                }
            }
            '"' => {
                let start = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => s.extend(chars.next()),
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            s.push(c);
                        }
                        None => return Err(format!("line {start}: a quoted string is not closed")),
                    }
                }
                tokens.push(Token {
                    text: s,
                    quoted: true,
                    line: start,
                });
            }
            '{' | '}' | ';' => tokens.push(Token {
                text: c.to_string(),
                quoted: false,
                line,
            }),
            c => {
                let mut s = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '{' | '}' | ';' | '"') {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                tokens.push(Token {
                    text: s,
                    quoted: false,
                    line,
                });
            }
        }
    }
    Ok(tokens)
}

fn skip_line(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, line: &mut usize) {
    for c in chars.by_ref() {
        if c == '\n' {
            *line += 1;
            break;
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn last_line(&self) -> usize {
        self.tokens.last().map(|t| t.line).unwrap_or(1)
    }

    /// The next token, which must be the punctuation `what`.
    fn expect(&mut self, what: &str, after: &str) -> Result<(), String> {
        match self.next() {
            Some(t) if !t.quoted && t.text == what => Ok(()),
            Some(t) => Err(format!(
                "line {}: expected `{what}` after {after}, found `{}`",
                t.line, t.text
            )),
            None => Err(format!(
                "line {}: expected `{what}` after {after}, found the end of the file",
                self.last_line()
            )),
        }
    }

    /// A value (word or quoted string) for `what`.
    fn value(&mut self, what: &str, line: usize) -> Result<Token, String> {
        match self.next() {
            Some(t) if t.quoted || !matches!(t.text.as_str(), "{" | "}" | ";") => Ok(t),
            Some(t) => Err(format!(
                "line {}: expected {what}, found `{}`",
                t.line, t.text
            )),
            None => Err(format!(
                "line {line}: expected {what}, found the end of the file"
            )),
        }
    }

    /// `NAME { algorithm ALG; secret "B64"; };` after the word `key`.
    fn key_statement(&mut self, line: usize) -> Result<TsigKey, String> {
        let name_tok = self.value("the key's name after `key`", line)?;
        let name = Name::parse(&name_tok.text)
            .map_err(|e| format!("line {}: the key name {e}", name_tok.line))?;
        self.expect("{", "the key name")?;
        let mut algorithm = None;
        let mut secret = None;
        loop {
            let Some(tok) = self.next() else {
                return Err(format!(
                    "line {}: the key statement is not closed with `}};`",
                    self.last_line()
                ));
            };
            if !tok.quoted && tok.text == "}" {
                break;
            }
            match tok.text.to_ascii_lowercase().as_str() {
                "algorithm" if !tok.quoted => {
                    let v = self.value("an algorithm name", tok.line)?;
                    let a = Algorithm::from_name(&v.text).ok_or_else(|| {
                        format!(
                            "line {}: the algorithm {} is not supported: use hmac-sha256 (tsig-keygen's default), hmac-sha384 or hmac-sha512",
                            v.line, v.text
                        )
                    })?;
                    algorithm = Some(a);
                    self.expect(";", "the algorithm")?;
                }
                "secret" if !tok.quoted => {
                    let v = self.value("the secret in quotes", tok.line)?;
                    let compact: String =
                        v.text.chars().filter(|c| !c.is_whitespace()).collect();
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(compact.as_bytes())
                        .map_err(|_| format!("line {}: the secret is not valid base64", v.line))?;
                    if bytes.is_empty() {
                        return Err(format!("line {}: the secret is empty", v.line));
                    }
                    secret = Some(bytes);
                    self.expect(";", "the secret")?;
                }
                other => {
                    return Err(format!(
                        "line {}: unexpected `{other}` in the key statement (only `algorithm` and `secret` belong there)",
                        tok.line
                    ))
                }
            }
        }
        self.expect(";", "the key statement's `}`")?;
        let algorithm =
            algorithm.ok_or_else(|| format!("line {line}: the key {name} has no `algorithm`"))?;
        let secret =
            secret.ok_or_else(|| format!("line {line}: the key {name} has no `secret`"))?;
        Ok(TsigKey::new(name, algorithm, secret))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly what `tsig-keygen -a hmac-sha256 acmekit-test` prints.
    const KEYGEN: &str = "key \"acmekit-test\" {\n\talgorithm hmac-sha256;\n\tsecret \"cptXPXspR1yO0HGAD2WltnB8xPLNYO2QBTfRiGjNuKI=\";\n};\n";

    #[test]
    fn reads_tsig_keygen_output() {
        let key = parse(KEYGEN).unwrap();
        assert_eq!(key.name.as_str(), "acmekit-test");
        assert_eq!(key.algorithm, Algorithm::HmacSha256);
    }

    #[test]
    fn reads_comments_unquoted_names_and_other_algorithms() {
        let text = "# made by hand\n/* two\nlines */ key upd.example. { // the key\n secret \"c2VjcmV0\"; algorithm HMAC-SHA512; };";
        let key = parse(text).unwrap();
        assert_eq!(key.name.as_str(), "upd.example");
        assert_eq!(key.algorithm, Algorithm::HmacSha512);
        let key = parse(&KEYGEN.replace("sha256", "sha384")).unwrap();
        assert_eq!(key.algorithm, Algorithm::HmacSha384);
    }

    #[test]
    fn malformed_files_get_a_line_numbered_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "no `key"),
            ("options { };", "line 1: expected a `key"),
            (
                &KEYGEN.replace("hmac-sha256", "hmac-md5"),
                "line 2: the algorithm hmac-md5 is not supported",
            ),
            (
                &KEYGEN.replace("cptX", "c*tX"),
                "line 3: the secret is not valid base64",
            ),
            (
                &KEYGEN.replace("hmac-sha256;", "hmac-sha256"),
                "line 3: expected `;` after the algorithm, found `secret`",
            ),
            (&KEYGEN.replace("};", "}"), "after the key statement's `}`"),
            (
                "key \"k\" {\n algorithm hmac-sha256;\n};",
                "line 1: the key k has no `secret`",
            ),
            (
                "key \"k\" {\n secret \"c2VjcmV0\";\n};",
                "has no `algorithm`",
            ),
            ("key \"k\" {\n secret \"c2VjcmV0\";\n", "not closed"),
            ("key \"k\" { secret \"abc", "quoted string is not closed"),
            (
                &KEYGEN.replace("secret", "sekret"),
                "line 3: unexpected `sekret`",
            ),
            (&format!("{KEYGEN}{KEYGEN}"), "it holds 2 keys"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: got {err:?}, want {want:?}");
            assert!(!err.contains('\n'), "{err:?}");
        }
    }
}
