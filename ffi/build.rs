//! Gives the shared library its SONAME, `libvinesync.so.MAJOR`, so programs
//! linked against it keep working across compatible updates.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".to_string());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libvinesync.so.{major}");
}
