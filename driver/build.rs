//! Driver build script: generates the error-code table (and, later, the command
//! builders) from the server definition files found through `spec-data/pin.toml`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
}
