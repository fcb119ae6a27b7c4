//! Compiles the protocol definitions in `proto/` into OUT_DIR (never into the source tree).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/tfplugin6.proto",
        "proto/go_plugin.proto",
        "proto/health.proto",
    ];
    // go_plugin.proto's one import, kept beside the protocols (the file says why).
    let imported = ["proto/google/protobuf/empty.proto"];
    for proto in protos.iter().chain(&imported) {
        println!("cargo:rerun-if-changed={proto}");
    }
    tonic_prost_build::configure()
        .build_server(true)
        // The client stubs let the tests talk to a provider the way Terraform does.
        .build_client(true)
        .compile_protos(&protos, &["proto"])?;
    Ok(())
}
