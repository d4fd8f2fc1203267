//! `codeact-worker`: the sandboxed process that runs code actions, started
//! by the supervisor (`codeact`) with its configuration. Only the worker
//! crate is used here, so this binary links Python and the sandbox and
//! nothing else of codeact.

fn main() {
    codeact_worker::main_from_args()
}
