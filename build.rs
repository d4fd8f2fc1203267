//! Records library directories as rpaths, so the binary starts without a
//! prepared environment:
//! - the embedded Python's library directory, so the binary loads the
//!   libpython of the interpreter it was built against (and so finds that
//!   interpreter's standard library and packages) rather than whichever
//!   libpython the dynamic loader finds first;
//! - with the `ros` feature, the ROS 2 library directories of the build
//!   environment (`source .ros/env.sh` or a ROS install), so the binary runs
//!   without sourcing it again. DT_RPATH rather than DT_RUNPATH: the ROS
//!   libraries find each other through it too.

fn main() {
    let config = pyo3_build_config::get();
    let mut dirs: Vec<String> = config.lib_dir().into_iter().map(str::to_owned).collect();
    if std::env::var_os("CARGO_FEATURE_ROS").is_some() {
        // Cargo adds its own and the toolchain's directories for build scripts: not those.
        let own: Vec<std::path::PathBuf> = ["OUT_DIR", "RUSTUP_HOME", "CARGO_HOME"]
            .iter()
            .filter_map(|v| std::env::var_os(v).map(std::path::PathBuf::from))
            .map(|p| match p.ancestors().find(|a| a.ends_with("target")) {
                Some(target) => target.to_owned(),
                None => p,
            })
            .chain(std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".rustup")))
            .collect();
        if let Some(path) = std::env::var_os("LD_LIBRARY_PATH") {
            dirs.extend(
                std::env::split_paths(&path)
                    .filter(|d| d.is_dir() && !own.iter().any(|o| d.starts_with(o)))
                    .map(|d| d.display().to_string()),
            );
        }
        println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags");
    }
    for dir in dirs {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=LD_LIBRARY_PATH");
}
