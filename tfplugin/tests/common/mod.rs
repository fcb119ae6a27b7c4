//! A small Terraform runner for this crate's tests and benchmark: a temporary
//! working directory, a CLI config whose dev_overrides point `zdd/zddtest`
//! at the freshly built test provider, and `terraform` from `.venv`.
#![allow(dead_code)]
// Test support: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod tls_client;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// The test provider binary cargo built for this test target.
pub const PROVIDER_BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-zddtest");

/// The Terraform shim installed by `make setup`.
pub fn terraform_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/terraform");
    assert!(
        path.exists(),
        "{} is missing: run `make setup`",
        path.display()
    );
    path
}

/// A Terraform working directory with its own CLI config.
pub struct Workspace {
    dir: tempfile::TempDir,
    cli_config: PathBuf,
    terraform: PathBuf,
}

impl Workspace {
    pub fn new() -> Self {
        Self::with_provider_dir(Path::new(PROVIDER_BINARY).parent().unwrap())
    }

    /// A workspace whose `zdd/zddtest` is the `terraform-provider-zddtest` in `provider_dir`
    /// (the benchmark compares a saved build with the current one).
    pub fn with_provider_dir(provider_dir: &Path) -> Self {
        let terraform = terraform_binary();
        let dir = tempfile::tempdir().unwrap();
        let cli_config = dir.path().join("cli.tfrc");
        std::fs::write(
            &cli_config,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"zdd/zddtest\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                provider_dir.display()
            ),
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("work")).unwrap();
        Workspace {
            dir,
            cli_config,
            terraform,
        }
    }

    /// The Terraform working directory.
    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// Where `zddtest_thing` objects live (the provider's `root`).
    pub fn objects(&self) -> PathBuf {
        self.dir.path().join("objects")
    }

    /// Writes `main.tf`: the provider block plus `body`.
    pub fn configure(&self, body: &str) {
        let text = format!(
            "terraform {{\n  required_providers {{\n    zddtest = {{ source = \"zdd/zddtest\" }}\n  }}\n}}\n\
             provider \"zddtest\" {{\n  root = \"{}\"\n}}\n{body}\n",
            self.objects().display()
        );
        std::fs::write(self.work().join("main.tf"), text).unwrap();
    }

    /// Writes `main.tf` exactly as given (no provider block).
    pub fn configure_raw(&self, text: &str) {
        std::fs::write(self.work().join("main.tf"), text).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.terraform);
        command
            .args(args)
            .current_dir(self.work())
            .env("CHECKPOINT_DISABLE", "1")
            .env("TF_IN_AUTOMATION", "1")
            .env("TF_CLI_CONFIG_FILE", &self.cli_config)
            .env_remove("TF_LOG")
            .env_remove("TF_LOG_PROVIDER")
            .stdin(Stdio::null());
        command
    }

    /// Runs terraform to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().unwrap();
        Run::from(output)
    }

    /// Runs terraform to completion with extra environment variables.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.command(args);
        command.envs(env.iter().copied());
        Run::from(command.output().unwrap())
    }

    /// Runs terraform and asserts it succeeded.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(
            run.code, 0,
            "terraform {args:?} failed:\n{}\n{}",
            run.stdout, run.stderr
        );
        run
    }

    /// Starts terraform in its own process group (for interrupt tests).
    pub fn spawn(&self, args: &[&str]) -> Child {
        use std::os::unix::process::CommandExt;
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap()
    }

    /// The state file as JSON.
    pub fn state(&self) -> serde_json::Value {
        let text = std::fs::read_to_string(self.work().join("terraform.tfstate")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// The attributes of the first instance of `type.name` in state.
    pub fn instance(&self, resource_type: &str, name: &str) -> Option<serde_json::Value> {
        let state = self.state();
        state["resources"].as_array()?.iter().find_map(|r| {
            (r["type"] == resource_type && r["name"] == name && r["mode"] == "managed")
                .then(|| r["instances"][0].clone())
        })
    }

    /// Ids of the objects currently stored by the provider.
    pub fn object_ids(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.objects()) else {
            return Vec::new();
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.path()
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
            })
            .collect();
        ids.sort();
        ids
    }
}

/// A finished terraform run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}
