//! dns-01 through a user command: `CMD present|cleanup RECORD_NAME VALUE`.

use acmekit::Dns01;
use tokio::process::Command;

/// Runs a hook command for dns-01 records.
pub struct DnsHook {
    command: String,
}

impl DnsHook {
    /// The command, run with `sh -c` so it may carry its own arguments.
    pub fn new(command: String) -> Self {
        DnsHook { command }
    }

    /// Runs `CMD <action> <record name> <value>`; a non-zero exit is an
    /// error carrying the command's stderr.
    pub async fn run(&self, action: &str, record: &Dns01) -> Result<(), String> {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{} \"$@\"", self.command))
            .arg("acmekit-dns-hook")
            .arg(action)
            .arg(&record.name)
            .arg(&record.value)
            .output()
            .await
            .map_err(|e| format!("cannot run the dns hook {:?}: {e}", self.command))?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        Err(format!(
            "the dns hook `{} {action} {}` failed ({}){}",
            self.command,
            record.name,
            out.status,
            if last.is_empty() {
                String::new()
            } else {
                format!(": {}", last.trim())
            }
        ))
    }
}
