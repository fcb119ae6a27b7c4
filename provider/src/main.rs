//! terraform-provider-zdd: not yet wired to tfplugin (issue 5).
fn main() {
    eprintln!("terraform-provider-zdd: this binary is a Terraform plugin; run it through terraform");
    std::process::exit(1);
}
