//! What the CLI prints: step lines on stderr (unless `-q`), results on
//! stdout, or one JSON document with `--json`.

use std::io::IsTerminal;
use std::time::Instant;

/// Printing policy.
#[derive(Debug, Clone)]
pub struct Out {
    /// `--json`: one document on stdout, no step lines.
    pub json: bool,
    /// `-q`.
    pub quiet: bool,
    tty: bool,
    started: Instant,
}

impl Out {
    /// From the global flags.
    pub fn new(json: bool, quiet: bool) -> Self {
        Out {
            json,
            quiet,
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
        }
    }

    /// A progress line on stderr.
    pub fn step(&self, msg: impl AsRef<str>) {
        if self.quiet || self.json {
            return;
        }
        if self.tty {
            eprintln!(
                "\x1b[2m{:>6.2}s\x1b[0m {}",
                self.started.elapsed().as_secs_f64(),
                msg.as_ref()
            );
        } else {
            eprintln!("{}", msg.as_ref());
        }
    }

    /// Shows `msg` with a spinner on stderr while the returned guard lives,
    /// when stderr is a terminal; otherwise prints it as a plain step line.
    pub fn wait(&self, msg: &str) -> Spinner {
        if self.quiet || self.json {
            return Spinner(None);
        }
        if !self.tty {
            self.step(msg);
            return Spinner(None);
        }
        let msg = msg.to_owned();
        let started = Instant::now();
        let task = tokio::spawn(async move {
            use std::io::Write;
            const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
            for i in 0.. {
                {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(
                        err,
                        "\r\x1b[2K{} {msg} ({:.1}s)",
                        FRAMES[i % FRAMES.len()],
                        started.elapsed().as_secs_f64()
                    );
                    let _ = err.flush();
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        });
        Spinner(Some(task))
    }

    /// A result line on stdout (not in JSON mode, not with `-q`).
    pub fn result(&self, msg: impl AsRef<str>) {
        if !self.json && !self.quiet {
            println!("{}", msg.as_ref());
        }
    }

    /// The JSON document (in JSON mode).
    pub fn document(&self, value: &serde_json::Value) {
        if self.json {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        }
    }
}

/// Stops the spinner (and clears its line) when dropped.
pub struct Spinner(Option<tokio::task::JoinHandle<()>>);

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
            eprint!("\r\x1b[2K");
        }
    }
}
