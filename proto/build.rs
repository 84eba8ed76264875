//! Compiles the controller<->agent contract with protox (pure Rust), so the
//! build needs no system `protoc`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "sextant/agent/v1/agent.proto";
    println!("cargo:rerun-if-changed={proto}");
    let fds = protox::compile([proto], ["."])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
