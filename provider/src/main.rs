//! terraform-provider-zdd: serves the `zdd` provider to Terraform (plugin protocol 6).

use std::process::ExitCode;

use terraform_provider_zdd::resource::{PROVIDER_ADDRESS, ZddProvider};

fn main() -> ExitCode {
    zdd_tfplugin::serve(PROVIDER_ADDRESS, ZddProvider::default())
}
