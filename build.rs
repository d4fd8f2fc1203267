//! Records the embedded Python's library directory as an rpath, so the
//! binary loads the libpython of the interpreter it was built against (and
//! so finds that interpreter's standard library and packages) rather than
//! whichever libpython the dynamic loader finds first.

fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
}
